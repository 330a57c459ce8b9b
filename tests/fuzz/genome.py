"""Structured hostile input decoded from one hypothesis-drawn byte string.

Why bytes: hypothesis charges per draw (about 0.1 ms each on CI's 2 cores, on top of about
0.3 ms per case), and every parser gets 10 000 cases per run, so a strategy with twenty draws
per case would blow the budget. Like libFuzzer's FuzzedDataProvider, a `Genome` reads all of a
case's choices from one `st.binary()` draw instead: which message to start from, which fields
to drop, retype, rename, wrap or corrupt, what to put there (often from `dictionary`), whether
to cut the serialised text short or send it as a binary frame. Hypothesis still derandomizes
the generation and shrinks a failing genome.

A decoded case is deterministic in its bytes: the failing genome that hypothesis prints, fed to
the same decoder, reproduces the case exactly (test failures also show the decoded input).
"""

from __future__ import annotations

import base64 as b64
import json
from collections.abc import Sequence
from typing import Any

from tests.fuzz.dictionary import (
    BASE64_ALPHABET,
    HOSTILE_VALUES,
    HUGE_PAYLOADS,
    RAW_TEXT,
    SPECIAL_CHARS,
)


class Genome:
    """Choices read from bytes; reading past the end yields zeros (choice 0, the benign one).

    Each byte is salted with its position: hypothesis likes zero bytes, and unsalted they would
    make every choice the first option. Past the end nothing is salted, so a short genome still
    ends in first choices, which keeps shrunk failures simple.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1] ^ (self.pos * 0x9D & 0xFF)

    def below(self, n: int) -> int:
        """A choice in range(n); n up to 65 536."""
        value = self.byte() if n <= 256 else self.byte() << 8 | self.byte()
        return value % n

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.below(len(options))]

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk.ljust(n, b"\x00")

    def blob(self, limit: int = 48) -> bytes:
        return self.take(self.below(limit + 1))

    def integer(self) -> int:
        """Signed, zero to nine bytes wide: crosses 2**31, 2**53, 2**63 and 2**64."""
        return int.from_bytes(self.take(self.below(10)), "little", signed=True)

    def char(self) -> str:
        b = self.byte()
        if b < 0x80:
            return chr(0x20 + b % 0x5F)  # printable ASCII
        if b < 0xC0:
            return SPECIAL_CHARS[b % len(SPECIAL_CHARS)]
        return chr((b << 8 | self.byte()) % 0x110000)  # anything, surrogates included

    def text(self, limit: int = 12) -> str:
        return "".join(self.char() for _ in range(self.below(limit + 1)))

    def base64(self) -> str:
        """A base64 payload, valid or broken in one of the ways a peer might break it."""
        data = self.blob(60)
        good = b64.b64encode(data).decode()
        how = self.below(12)
        if how == 0:
            return good
        if how == 1:
            return good.replace("+", "-").replace("/", "_")  # the URL-safe alphabet
        if how == 2:
            return good.rstrip("=") or "A"  # padding dropped
        if how == 3:
            return good[:-1]  # cut mid-quantum
        if how == 4:
            return good + "="  # extra padding
        if how == 5:
            return good[:2] + self.pick([" ", "\n", "\t", "\r\n"]) + good[2:]
        if how == 6:
            return good + "AAAA"  # data after padding (when padded)
        if how == 7:
            at = self.below(len(good) + 1)
            return good[:at] + self.char() + good[at:]  # one foreign character
        if how == 8:
            return "".join(self.pick(BASE64_ALPHABET + "=") for _ in range(self.below(13)))
        if how == 9:
            return self.pick(HUGE_PAYLOADS)
        if how == 10:
            return self.pick(["", "=", "====", "A", "AA", "AAA", "AA==", "A===", "\u0661\u0662"])
        return self.text()

    def value(self, vocabulary: Sequence[Any] = ()) -> Any:
        """A hostile JSON value: from the dictionary, the target's own vocabulary, or made up."""
        how = self.below(8)
        if how < 2:
            return _copy(self.pick(HOSTILE_VALUES))
        if how == 2 and vocabulary:
            return _copy(self.pick(vocabulary))
        if how <= 3:
            return self.text()
        if how == 4:
            return self.integer()
        if how == 5:
            return self.base64()
        if how == 6:
            return [self.value(vocabulary)] if self.byte() % 2 else {self.text(4): self.value()}
        return self.integer() / (self.below(255) + 1)


def _copy(value: Any) -> Any:
    """A copy of a JSON value deep enough to mutate (much cheaper than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _paths(message: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if not isinstance(message, dict):
        return []
    found: list[tuple[str, ...]] = []
    for key, value in message.items():
        found.extend(_paths(value, (*prefix, key)))  # the leaves before their container
        found.append((*prefix, key))
    return found


def _retype(value: Any) -> Any:
    """The same information in the wrong JSON type: "20" <-> 20, x -> [x], {} <-> []."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return int(value) if value.isascii() and value.isdigit() and len(value) < 100 else [value]
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return dict(enumerate(value)) if value else {}
    return value


def mutate(
    g: Genome,
    message: dict[str, Any],
    vocabulary: Sequence[Any] = (),
    extra_keys: Sequence[str] = (),
) -> Any:
    """`message` with one to three fields (at any depth) dropped, retyped, replaced or added.

    Paths are tried in the message's own order, so list a message's deep fields first: zeros
    (hypothesis's favourite bytes) then mean a change deep inside rather than to `type`.
    """
    out = _copy(message)
    paths = _paths(out)
    for _ in range(1 + g.below(3)):
        path = g.pick(paths)
        parent: Any = out
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue  # an earlier change replaced this field's container
        key = path[-1]
        op = g.below(8)
        if op == 0:
            parent[key] = g.value(vocabulary)
        elif op == 1:
            parent[key] = _retype(parent.get(key))
        elif op == 2:
            parent.pop(key, None)
        elif op == 3:
            parent[key] = g.base64()
        elif op == 4:
            parent[key] = g.text()
        elif op == 5:  # an extra field beside it
            parent[g.pick(extra_keys) if extra_keys and g.byte() % 2 else g.text(6)] = g.value()
        elif op == 6:  # the field renamed (a typo, another case, a space)
            parent[key + g.char() if g.byte() % 2 else key.upper()] = parent.pop(key, None)
        else:
            parent[key] = _copy(g.pick(vocabulary)) if vocabulary else g.value()
    if g.below(16) == 15:
        return g.value(vocabulary)  # not an object at all
    return out


def damage(g: Genome, doc: str) -> str:
    """`doc` cut short, or with one character replaced, inserted or removed."""
    if not doc:
        return doc
    at = g.below(min(len(doc), 65536))
    how = g.below(4)
    if how == 0:
        return doc[:at]
    if how == 1:
        return doc[:at] + g.char() + doc[at + 1 :]
    if how == 2:
        return doc[:at] + g.char() + doc[at:]
    return doc[:at] + doc[at + 1 :]


def frame(
    g: Genome,
    messages: Sequence[dict[str, Any]],
    vocabulary: Sequence[Any] = (),
    extra_keys: Sequence[str] = (),
    *,
    binary: bool = True,
) -> str | bytes:
    """What arrives in one WebSocket frame: mostly a damaged message, sometimes anything else.

    `messages` are valid examples, the most interesting first (zeros pick it).
    """
    kind = g.below(16)
    base = g.pick(messages)
    if kind < 10:
        return json.dumps(mutate(g, base, vocabulary, extra_keys))
    if kind < 12:
        return damage(g, json.dumps(mutate(g, base, vocabulary, extra_keys)))
    if kind == 12:
        return g.pick(RAW_TEXT)
    if kind == 13:
        return g.text(40)
    if kind == 14 and binary:
        return json.dumps(base).encode() if g.byte() % 2 else g.blob()
    return json.dumps(mutate(g, base, vocabulary, extra_keys), ensure_ascii=False)
