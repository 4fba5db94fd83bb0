"""Envelope parsing: both Content forms, key spellings, recv_ns, and reasons for rejects."""

from __future__ import annotations

import re

import pytest

from vnrec.ssi.envelope import Envelope, EnvelopeError, parse_envelope_line


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"DataType":"X","Content":"{\\"a\\":1}"}', Envelope("X", '{"a":1}')),
        (b'{"datatype":"Quote","Content":"{}"}', Envelope("Quote", "{}")),
        (b'{"DataType":"R","Content":{"a": 1}}', Envelope("R", '{"a":1}')),
        (b'{"DataType":"R","Content":"{}","recv_ns":17}', Envelope("R", "{}", 17)),
    ],
)
def test_valid_envelopes(line: bytes, expected: Envelope) -> None:
    """String and object Content, the lowercase key and recv_ns are all accepted."""
    assert parse_envelope_line(line) == expected


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{oops", "not valid JSON"),
        (b'{"DataType":"X","Content":"\xff"}', "not UTF-8 (byte 0xFF at offset 27)"),
        (b"[1]", "not a JSON object but a JSON list"),
        (b'{"Content":"{}"}', "missing DataType"),
        (b'{"DataType":" ","Content":"{}"}', "DataType is not a non-empty string"),
        (b'{"DataType":7,"Content":"{}"}', "DataType is not a non-empty string"),
        (b'{"DataType":"X"}', "missing Content"),
        (b'{"DataType":"X","Content":null}', "Content is neither a JSON string nor an object"),
        (b'{"DataType":"X","Content":"{}","recv_ns":"1"}', "recv_ns is not an integer"),
        (b'{"DataType":"X","Content":"{}","recv_ns":true}', "recv_ns is not an integer"),
    ],
)
def test_invalid_envelopes_name_the_reason(line: bytes, reason: str) -> None:
    """Each kind of bad line is rejected with a reason saying what is wrong."""
    with pytest.raises(EnvelopeError, match=re.escape(reason)):
        parse_envelope_line(line)


def test_a_key_given_twice_keeps_its_first_value() -> None:
    """Duplicate keys: the first value wins, in the envelope and inside an object Content
    (DuckDB's reader, which reads nearly every imported line, does the same)."""
    line = b'{"DataType":"X","DataType":"Y","Content":{"a":1,"a":2},"Content":"{}"}'
    assert parse_envelope_line(line) == Envelope("X", '{"a":1}')
