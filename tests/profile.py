"""Which test profile a run uses: everything under CI, a quick pass for a developer.

`ci` (.ci/run sets CI=true): every test; each e2e scenario on every carrier; the fuzzers at
10,000 cases of hostile input each.
`quick` (a developer's `make test`): each e2e scenario on one carrier of the five, a different one
per scenario (chosen by the scenario's name, so the same from run to run, and every carrier still
answers for some scenarios); the fuzzers at a few hundred cases (the same derandomized cases come
first, so quick is a prefix of CI's, not another sample); and the tests marked `long` (real-time
runs of many seconds: the chaos run, demos, soak and load smokes, Chromium) left to CI.
TEST_PROFILE chooses explicitly; without it, CI=true means `ci`.
Plain module, no pytest import: tests/conftest.py and the fuzzers read it.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence

PROFILES = ("quick", "ci")


class ProfileError(ValueError):
    pass


def chosen_profile(env: Mapping[str, str] = os.environ) -> str:
    chosen = env.get("TEST_PROFILE", "").strip().lower()
    if chosen in PROFILES:
        return chosen
    if chosen:
        raise ProfileError(
            f"TEST_PROFILE={env['TEST_PROFILE']!r} is not a test profile: use 'quick' (each "
            "scenario on one carrier, a few hundred cases per fuzzer, no long runs) or 'ci' "
            "(everything, as CI runs it), or leave it unset"
        )
    return "ci" if env.get("CI", "").strip().lower() == "true" else "quick"


def carrier_for(scenario: str, carriers: Sequence[str]) -> str:
    """The one carrier a scenario runs on in the quick profile (`scenario`: its test id with
    the carrier left out)."""
    return carriers[zlib.crc32(scenario.encode()) % len(carriers)]


def scenario_of(nodeid: str, carrier: str) -> str:
    """A test id with its carrier parameter taken out: the scenario, on whichever carrier."""
    head, bracket, params = nodeid.partition("[")
    if not bracket:
        return nodeid
    kept = [part for part in params.removesuffix("]").split("-") if part != carrier]
    return f"{head}[{'-'.join(kept)}]"
