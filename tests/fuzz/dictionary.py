"""The fuzzers' dictionary: values that have broken parsers before, picked by one draw each.

Like an AFL/libFuzzer dictionary: a random generator rarely produces a lone surrogate, a number
too big for a float, an Arabic-Indic digit that `str.isdigit()` accepts, or nesting past the
JSON decoder's recursion limit, so they are listed here and `tests.fuzz.genome` picks them.
"""

from __future__ import annotations

import json
from typing import Any

HOSTILE_STRINGS: list[str] = [
    "",
    " ",
    "0",
    "-1",
    "007",
    "1e3",
    "8000",
    "true",
    "null",
    "{}",
    "[]",
    "\x00",
    "\ud800",
    "\udfff\ud800",
    "é",
    "\u202e",
    "\ufeff",
    "🎧",
    "\u0660\u0661",  # Arabic-Indic digits: str.isdigit() but not ASCII
    "²",  # str.isdigit() but not a decimal
    "\n",
    "a\r\nb",
    "%00",
    "../",
    "<Say>",
    "A" * 65,  # just over typical id limits
    "A" * 5000,
    "9" * 20,
]
HOSTILE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    8000,
    16000,
    2**31,
    2**53 + 1,
    2**63,
    -(2**63) - 1,
    10**400,  # too big for a float
    -(10**400),
    0.5,
    8000.0,
    -0.0,
    1e308,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
    *HOSTILE_STRINGS,
    [],
    {},
    [None],
    [1, 2, 3],
    [["a"]],
    {"": ""},
    {"a": 1},
    {"0": None},
    [{}] * 3,
    {"x": {"y": {"z": [1, {"w": None}]}}},
    ["A" * 5000],
    list(range(100)),
    {str(i): i for i in range(50)},
    json.loads("[" * 100 + "]" * 100),  # deep, yet cheap to copy and serialise
]
# Whole frames that are not (or barely) JSON.
RAW_TEXT: list[str] = [
    "",
    " ",
    "null",
    "[]",
    "{}",
    '""',
    "1",
    "NaN",
    "-Infinity",
    "{",
    '{"',
    '{"type"',
    '{"event":',
    "\ufeff{}",
    '{"a":1}{"b":2}',
    '{"a":1,"a":2}',
    "[" * 100_000,  # nesting far beyond the JSON decoder's recursion limit
    '{"a":' * 20_000 + "1" + "}" * 20_000,
    "1" * 5000,  # beyond Python's int digit limit
    "1e99999",
    '"' + "\\ud800" * 3 + '"',
]
SPECIAL_CHARS = [
    *'"\\/{}[]:,=.+-_ \t\r\n\x00\x7f',
    "\ud800",  # lone surrogates: JSON can carry them, UTF-8 cannot
    "\udfff",
    "é",
    "ß",
    "İ",  # lower() makes it two characters
    "\u202e",
    "\u2028",
    "\ufeff",
    "\uffff",
    "🎧",
    "\u0661",  # ARABIC-INDIC DIGIT ONE: isdigit(), not ASCII
    "²",
]
BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
HUGE_PAYLOADS = ["A" * (16 * 1024 + 4), "A" * (64 * 1024), "AAAA" * 65536]
