"""The fuzz profile: full counts wherever CI runs, the quick pass elsewhere unless asked."""

from __future__ import annotations

import pytest

from tests.fuzz.profile import FuzzProfileError, fuzz_profile


def test_ci_runs_the_full_counts_and_a_developer_the_quick_pass() -> None:
    assert fuzz_profile({"CI": "true"}) == "ci"
    assert fuzz_profile({"CI": "TRUE"}) == "ci"
    assert fuzz_profile({}) == "quick"
    assert fuzz_profile({"CI": "false"}) == "quick"


def test_fuzz_profile_chooses_either_way_and_a_typo_says_what_is_allowed() -> None:
    assert fuzz_profile({"FUZZ_PROFILE": "ci"}) == "ci"
    assert fuzz_profile({"FUZZ_PROFILE": "quick", "CI": "true"}) == "quick"
    with pytest.raises(FuzzProfileError, match=r"FUZZ_PROFILE='full'.*'quick'.*'ci'"):
        fuzz_profile({"FUZZ_PROFILE": "full"})
