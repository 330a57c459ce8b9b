"""The test profile: everything wherever CI runs, the quick pass elsewhere unless asked."""

from __future__ import annotations

import pytest

from tests.e2e.carriers import CARRIERS
from tests.profile import ProfileError, carrier_for, chosen_profile, scenario_of


def test_ci_runs_everything_and_a_developer_the_quick_pass() -> None:
    assert chosen_profile({"CI": "true"}) == "ci"
    assert chosen_profile({"CI": "TRUE"}) == "ci"
    assert chosen_profile({}) == "quick"
    assert chosen_profile({"CI": "false"}) == "quick"


def test_the_profile_is_chosen_either_way_and_a_typo_says_what_is_allowed() -> None:
    assert chosen_profile({"TEST_PROFILE": "ci"}) == "ci"
    assert chosen_profile({"TEST_PROFILE": "quick", "CI": "true"}) == "quick"
    with pytest.raises(ProfileError, match=r"TEST_PROFILE='full'.*'quick'.*'ci'"):
        chosen_profile({"TEST_PROFILE": "full"})


def test_the_quick_profile_runs_each_scenario_on_one_carrier_and_every_carrier_on_some() -> None:
    scenarios = [f"tests/e2e/test_x.py::test_{n}[]" for n in range(40)]
    chosen = [carrier_for(scenario, CARRIERS) for scenario in scenarios]
    assert set(chosen) == set(CARRIERS)
    assert chosen == [carrier_for(scenario, CARRIERS) for scenario in scenarios]  # stable
    assert (
        scenario_of("tests/e2e/t.py::test_a[502-plivo]", "plivo") == "tests/e2e/t.py::test_a[502]"
    )
    assert scenario_of("tests/e2e/t.py::test_a[vonage-current]", "vonage") == (
        "tests/e2e/t.py::test_a[current]"
    )
    assert scenario_of("tests/e2e/t.py::test_a[exotel]", "exotel") == "tests/e2e/t.py::test_a[]"
