"""Hypothesis strategies for malformed input, shared by the form and API fuzz tests.

The shapes come from attack reviews: long and odd strings, control
characters and NUL (which PostgreSQL cannot store), numbers beyond 64 bits,
JSON numbers, lists and objects where text belongs, JSON nested hundreds of
levels deep, and file parts in a multipart body.
"""

from __future__ import annotations

import io
from typing import Any

from hypothesis import strategies as st

HUGE_INTEGERS = [10**30, 2**63, 2**63 - 1, 2**31, -(2**63) - 1, -1, 0]

TEXT = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=5000),
    st.sampled_from(
        [
            "\r\nBcc: x@y.de",
            "\x00",
            "a\x00b",
            "erika\x00@example.com",
            "a\nb",
            "\u2028",
            "<script>",
            "' OR 1=1 --",
            "%s%s",
            "-1",
            "0",
            "99999999999999999999",
            str(10**30),
            "1e309",
            "NaN",
            "ünïcødé ✓",
            "",
            "x@y",
            "Name <evil@x.de>",
            "00000",
            "DE89 3704 0044 0532 0130 00",
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(HUGE_INTEGERS).map(str),
)


def nested(levels: int) -> Any:
    """A JSON value nested ``levels`` deep, alternating objects and lists."""
    value: Any = "x"
    for level in range(levels):
        value = {"a": value} if level % 2 else [value]
    return value


def deep_json_text(levels: int) -> str:
    """Raw JSON text nested ``levels`` deep (deeper than ``json.dumps`` can write)."""
    return '{"a": ' + "[" * levels + "]" * levels + "}"


JSON_SCALAR = st.one_of(
    TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(HUGE_INTEGERS),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
#: Any JSON value: scalars, small lists and objects, and values 330 levels deep.
JSON_VALUE = st.one_of(
    st.recursive(
        JSON_SCALAR,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
        max_leaves=8,
    ),
    st.sampled_from([330, 40]).map(nested),
)
#: Request bodies sent as application/json that are not an object of values.
RAW_JSON_BODIES = st.sampled_from(
    [
        deep_json_text(330),
        deep_json_text(5000),
        deep_json_text(100_000),
        "[1, 2]",
        '"text"',
        "3",
        "null",
        "{",
        '{"a": "\\u0000"}',
        "",
    ]
)
#: A file part for a multipart body (Werkzeug's test client sends a tuple as a file).
FILE_PART = st.binary(max_size=200).map(lambda content: (io.BytesIO(content), "datei.txt"))
#: A path segment: text (with NUL, slashes, control characters) or a huge number.
SEGMENT = st.one_of(TEXT.filter(bool), st.sampled_from(HUGE_INTEGERS))
#: Client addresses, so that rate limits per address do not hide the handlers.
REMOTE_ADDR = st.integers(min_value=1, max_value=65_000).map(lambda n: f"10.9.{n // 256}.{n % 256}")
