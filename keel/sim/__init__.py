"""Risk simulation: price paths, books, runs on a chain backend, VaR and Expected Shortfall
(the risk-simulator issue). So far: :mod:`keel.sim.risk`."""
