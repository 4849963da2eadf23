"""SSE payloads out of arbitrarily cut reads, and their JSON in one parse."""

from __future__ import annotations

import pytest

from agents.llm.stream import SSEDecoder, decode_payloads

BODY = (
    b'data: {"n": 1}\n\n'
    b'data: {"n": 2}\r\n\r\n'
    b": a comment\n\n"
    b'data:{"n": 3}\n\n'
    b"data: [DONE]\n\n"
    b'data: {"n": 4}\n\n'
)


@pytest.mark.parametrize("size", [1, 3, 7, len(BODY)])
def test_payloads_are_the_same_however_the_body_is_cut(size: int) -> None:
    sse = SSEDecoder()
    payloads = []
    for start in range(0, len(BODY), size):
        payloads += sse.feed(BODY[start:start + size])
    payloads += sse.close()
    assert payloads == [b'{"n": 1}', b'{"n": 2}', b'{"n": 3}']
    assert sse.done


def test_a_last_line_without_newline_counts_at_the_end() -> None:
    sse = SSEDecoder()
    assert sse.feed(b'data: {"n": 1}\ndata: {"n"') == [b'{"n": 1}']
    assert sse.close() == [b'{"n"']
    assert not sse.done


def test_payloads_decode_in_one_parse_or_fail_like_json_loads() -> None:
    assert decode_payloads([]) == []
    assert decode_payloads([b'{"a": 1}', b"[2]", b'"x"']) == [{"a": 1}, [2], "x"]
    with pytest.raises(ValueError):
        decode_payloads([b'{"a": 1}', b'{"b": '])
    with pytest.raises(ValueError):  # valid as one array, not as two payloads
        decode_payloads([b"1, 2", b"3"])
