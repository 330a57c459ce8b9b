"""The cluster test: opt-in, because it starts PostgreSQL, nginx and three bridge processes.

`make test` (a plain `pytest`) leaves this directory out; it is collected only when named on
the command line, as `make test-cluster` does (`pytest tests/cluster`). Its dependencies skip
with a reason when missing, except under CI (`CI=true`), where a skip would hide a gap.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.store.pg import postgres_server  # noqa: F401  (session fixture for the test)

HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    for arg in config.args:
        named = (config.invocation_params.dir / str(arg).split("::")[0]).resolve()
        if named == HERE or HERE in named.parents:
            return None
    return True
