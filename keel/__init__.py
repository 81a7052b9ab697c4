"""Keel's off-chain package: artifacts, chains, manifest, transactions, deployment, a
typed client, oracle reporters, the demo scenario, the gas report and the ``keel`` CLI.

Modules (import what you need; nothing heavy is imported here):

- :mod:`keel.units`      WAD / RAY / RAD and formatting
- :mod:`keel.artifacts`  build/ artifacts, ``ensure_compiled``
- :mod:`keel.chain`      ``connect``, embedded ``Anvil``, time helpers
- :mod:`keel.manifest`   the deployment manifest
- :mod:`keel.tx`         ``Sender`` and ``KeelTxError``
- :mod:`keel.deploy`     ``deploy_system`` and its config
- :mod:`keel.client`     ``KeelClient`` and the view dataclasses
- :mod:`keel.oracle`     PriceFeed reporters (``Reporter``), price paths, ``make_current``
- :mod:`keel.scenario`   the demo (``keel demo``)
- :mod:`keel.gas`        the gas table (``keel gas``)
"""

__version__ = "0.1.0"
