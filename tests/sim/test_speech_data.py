"""The recorded speech ships inside the package, so `demo` and the dev simulator work from an
installed wheel or the image, with no checkout (and tests/data is links, not copies)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from bridge.audio.wav import parse_wav
from bridge.sim.speech import AGENT_EN, CUSTOMER_DE, speech_wav

ROOT = Path(__file__).resolve().parents[2]


def installed_copy(site: Path) -> None:
    """What setuptools installs: the packages' modules plus the declared package data."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data: dict[str, list[str]] = pyproject["tool"]["setuptools"]["package-data"]
    for module in (ROOT / "bridge").rglob("*.py"):
        target = site / module.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(module, target)
    for package, patterns in package_data.items():
        folder = ROOT.joinpath(*package.split("."))
        for pattern in patterns:
            for data in folder.glob(pattern):
                target = site / data.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(data, target)


def test_the_speech_is_readable_from_an_installed_location(tmp_path: Path) -> None:
    site = tmp_path / "site"
    installed_copy(site)
    probe = (
        "import bridge; from bridge.sim.speech import AGENT_EN, CUSTOMER_DE, speech_wav;"
        "print(bridge.__file__, len(speech_wav(AGENT_EN)), len(speech_wav(CUSTOMER_DE)))"
    )

    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,  # not the checkout
        env=os.environ | {"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    where, agent, customer = done.stdout.split()
    assert Path(where).is_relative_to(site)
    assert int(agent) == len(speech_wav(AGENT_EN))
    assert int(customer) == len(speech_wav(CUSTOMER_DE))


def test_tests_data_reads_the_same_files_without_a_second_copy() -> None:
    for name in (AGENT_EN, CUSTOMER_DE):
        in_tests = ROOT / "tests" / "data" / name
        assert in_tests.read_bytes() == speech_wav(name)
        assert in_tests.is_symlink()
        fmt, pcm = parse_wav(speech_wav(name))
        assert fmt.sample_rate == 8000
        assert len(pcm) > 8000 * 2
