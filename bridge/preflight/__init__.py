"""Preflight: is this configuration ready for real calls? (`python -m bridge check`).

Each check is a rule over data (`rules.py`, `carrier_rules.py`, pure): the settings, and what
the probes at the edge (`probes.py`) learnt from Kallglot, each carrier and the database.
`run.py` runs them: `preflight` for the command, `startup_errors` for `serve` (only what is
certainly wrong, in the same words). `configure-numbers` points each routed Twilio number at
the bridge (`numbers.py` plans it, pure; `numbers_cli.py` carries it out).
"""

from bridge.preflight.findings import Finding, Level
from bridge.preflight.run import Report, preflight, startup_errors

__all__ = ["Finding", "Level", "Report", "preflight", "startup_errors"]
