from __future__ import annotations

import pytest

from bridge.kallglot.connection import redact, with_token


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "wss://api.kallglot.com/v1/sessions/s/connect",
            "wss://api.kallglot.com/v1/sessions/s/connect?token=kst_a%2Fb",
        ),
        (
            "wss://h/v1/sessions/s/connect?region=eu",
            "wss://h/v1/sessions/s/connect?region=eu&token=kst_a%2Fb",
        ),
        (
            "wss://h/v1/sessions/s/connect?token=kst_given",
            "wss://h/v1/sessions/s/connect?token=kst_given",
        ),
    ],
)
def test_the_token_is_appended_only_when_the_url_has_none(url: str, expected: str) -> None:
    assert with_token(url, "kst_a/b") == expected


def test_redact_drops_the_query_with_the_token() -> None:
    assert (
        redact("wss://h:443/v1/sessions/s/connect?token=kst_secret")
        == "wss://h:443/v1/sessions/s/connect"
    )
