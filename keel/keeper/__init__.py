"""The liquidation keeper (``keel keeper``; docs/KEEPER.md).

- :mod:`keel.keeper.bot`: the Keeper (one tick: discover, read, decide, act, account; run)
- :mod:`keel.keeper.discovery`: vaults, lots and margin accounts from events, cached on disk
- :mod:`keel.keeper.rpc`: batched eth_call, a counting HTTP provider
- :mod:`keel.keeper.strategy`: the rules, as pure functions of a snapshot
- :mod:`keel.keeper.pricing`: what collateral fetches (oracle less a margin, a market quote)
- :mod:`keel.keeper.txmanager`: EIP-1559 sending, nonces, replacement, journal, gas cap
- :mod:`keel.keeper.metrics`: Prometheus text on a local port
- :mod:`keel.keeper.book`, :mod:`keel.keeper.bench`: crash worlds for tests, the benchmark
"""
