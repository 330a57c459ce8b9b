"""Command line of the Kallglot bridge (`kallglot-bridge`, or `python -m bridge`).

Each command lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`,
imported only when chosen so that `--help` stays fast and a broken simulator cannot stop `serve`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "kallglot-bridge"
SCRIPT = "kallglot-bridge"  # the console script pyproject.toml installs

COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("bridge.web.serve", "serve the bridge (settings: serve --help)"),
    "check": ("bridge.preflight.check_cli", "check the settings, accounts and URLs before calls"),
    "configure-numbers": (
        "bridge.preflight.numbers_cli",
        "point each routed Twilio number's voice webhook at the bridge",
    ),
    "demo": ("bridge.demo", "run a translated call end to end on loopback (start here)"),
    "call": ("bridge.sim.call_cli", "place a simulated call against a running bridge"),
    "sim-kallglot": ("bridge.sim.kallglot_cli", "run the Kallglot simulator"),
    "sim-carrier": ("bridge.sim.carrier_cli", "run the Twilio carrier simulator"),
}

DESCRIPTION = """\
The Kallglot bridge connects phone calls on Twilio or Telnyx to Kallglot's real-time
translation: a caller and an agent who speak different languages each hear the other in their
own. It answers the carriers' voice webhooks, dials the agent, and carries both media streams
through a Kallglot session.
"""

EPILOG = """\
where to start:
  {prog} demo
      a German-speaking customer calls an English-speaking agent, all simulated on this
      machine; prints what each party received and the delay the bridge added
  {prog} serve
      without KALLGLOT_API_KEY or a carrier account it starts simulators beside the bridge
      and prints the `call` command that places a test call through them
  {prog} check
      before the first real call: settings, accounts, the carriers' webhook URLs
  {prog} <command> --help
      that command's options (serve --help lists every setting)
"""


def program_name(argv0: str) -> str:
    """How usage lines name the tool: as it was started, the console script or `-m`."""
    name = os.path.basename(argv0)
    return SCRIPT if name.startswith(SCRIPT) else "python -m bridge"


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    prog = program_name(sys.argv[0])
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EPILOG.format(prog=prog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{SCRIPT} {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    chosen = (argv if argv is not None else sys.argv[1:])[:1]
    for name, (module_name, summary) in COMMANDS.items():
        sub = commands.add_parser(name, help=summary, description=summary)
        if chosen == [name]:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(_run=module.run)
    args = parser.parse_args(argv)
    return int(args._run(args))


if __name__ == "__main__":
    sys.exit(main())
