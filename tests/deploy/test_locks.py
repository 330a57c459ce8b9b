"""The lock files and the image agree with pyproject.toml.

The image installs requirements.lock (hash-checked) and then the code with --no-deps, and
`make install` takes requirements-test.lock as constraints: a dependency added to pyproject.toml
without regenerating the locks would be missing from the image, or unpinned in CI.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", re.MULTILINE)
PY313 = default_environment() | {"python_version": "3.13", "python_full_version": "3.13.0"}


def pins(name: str) -> dict[str, Version]:
    text = (ROOT / name).read_text()
    return {canonicalize_name(n): Version(v) for n, v in PIN.findall(text)}


def declared(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [r for r in map(Requirement, listed) if r.marker is None or r.marker.evaluate(PY313)]


def test_each_lock_pins_every_declared_dependency_within_its_bounds() -> None:
    for lock, requirements in (
        ("requirements.lock", declared()),
        ("requirements-test.lock", declared() + declared("test")),
    ):
        pinned = pins(lock)
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            assert name in pinned, f"{name} missing from {lock}: regenerate it (see its header)"
            assert requirement.specifier.contains(pinned[name], prereleases=True), (lock, name)


def test_the_locks_agree_and_the_image_lock_is_hash_checked() -> None:
    runtime, test = pins("requirements.lock"), pins("requirements-test.lock")
    assert {name: test.get(name) for name in runtime} == runtime
    text = (ROOT / "requirements.lock").read_text()
    blocks = [block for block in re.split(r"\n(?=\S)", text) if PIN.match(block)]
    assert len(blocks) == len(runtime)
    assert all("--hash=sha256:" in block for block in blocks), "pip --require-hashes needs them"


def test_the_image_installs_dependencies_from_the_lock_before_the_code() -> None:
    build = DOCKERFILE.read_text().split("\nFROM ")[1]  # the build stage
    steps = [line for line in build.splitlines() if line.startswith(("COPY", "RUN"))]
    lock_install = next(
        i for i, s in enumerate(steps) if s.startswith("RUN pip") and "-r requirements.lock" in s
    )
    assert "--require-hashes" in steps[lock_install]
    copied_before = " ".join(s for s in steps[:lock_install] if s.startswith("COPY"))
    assert "requirements.lock" in copied_before
    assert "bridge" not in copied_before.split(), "the code comes after the dependency layer"
    code = next(i for i, s in enumerate(steps) if s.startswith("COPY bridge"))
    assert code > lock_install
    assert all("--no-deps" in s for s in steps[code:] if s.startswith("RUN pip"))
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
    assert "!requirements.lock" in ignore  # or the build context would not hold it
