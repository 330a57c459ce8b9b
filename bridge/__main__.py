"""Command line: `python -m bridge <command>`.

Each command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`,
imported only when chosen so that `--help` stays fast and a broken simulator cannot stop `serve`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("bridge.web.serve", "serve the bridge"),
    "sim-kallglot": ("bridge.sim.kallglot_cli", "run the Kallglot simulator"),
    "sim-carrier": ("bridge.sim.carrier_cli", "run the Twilio carrier simulator"),
    "call": ("bridge.sim.call_cli", "place a simulated call against a running bridge"),
    "demo": ("bridge.demo", "run a translated call end to end on loopback"),
    "check": ("bridge.preflight.check_cli", "check the settings, accounts and URLs before calls"),
    "configure-numbers": (
        "bridge.preflight.numbers_cli",
        "point each routed Twilio number's voice webhook at the bridge",
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    chosen = (argv if argv is not None else sys.argv[1:])[:1]
    for name, (module_name, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary)
        if chosen == [name]:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(_run=module.run)
    args = parser.parse_args(argv)
    return int(args._run(args))


if __name__ == "__main__":
    sys.exit(main())
