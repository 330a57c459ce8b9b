"""Which fuzz profile a test run uses: the full counts under CI, a quick pass for a developer.

`ci`: 10,000 cases of hostile input per fuzzer (what .ci/run explores on every submission).
`quick`: a few hundred each, so that a developer's `make test` is done in about a minute; the
same derandomized cases come first in both, so quick is a prefix of what CI runs, not another
sample. FUZZ_PROFILE chooses explicitly; without it, CI=true (set for .ci/run) means `ci`.
Plain module, no hypothesis import: tests/conftest.py reads it to say which ran.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PROFILES = ("quick", "ci")


class FuzzProfileError(ValueError):
    pass


def fuzz_profile(env: Mapping[str, str] = os.environ) -> str:
    chosen = env.get("FUZZ_PROFILE", "").strip().lower()
    if chosen in PROFILES:
        return chosen
    if chosen:
        raise FuzzProfileError(
            f"FUZZ_PROFILE={env['FUZZ_PROFILE']!r} is not a fuzz profile: use 'quick' (a few "
            "hundred cases per fuzzer) or 'ci' (10,000, as CI runs them), or leave it unset"
        )
    return "ci" if env.get("CI", "").strip().lower() == "true" else "quick"
