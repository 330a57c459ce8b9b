"""The recorded speech that ships with the package (bridge/sim/data), read through
importlib.resources so that `demo` and the dev simulator work from an installed wheel or the
image as well as from a checkout (tests/data links to the same files)."""

from __future__ import annotations

from importlib.resources import files

AGENT_EN = "agent_en.wav"  # an English-speaking agent
CUSTOMER_DE = "customer_de.wav"  # a German-speaking customer


def speech_wav(name: str) -> bytes:
    """The bytes of one of the packaged WAVs (AGENT_EN, CUSTOMER_DE)."""
    return files("bridge.sim").joinpath("data", name).read_bytes()
