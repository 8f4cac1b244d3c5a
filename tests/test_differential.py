"""Differential parsing (fuzz/differential.py), bounded: a few hundred generated requests
through vivace.server, h11 and Node's llhttp; every disagreement must be a decided kind.

The full run is ``.venv/bin/python fuzz/differential.py`` (10,000 requests); the kinds and
the rules behind them are in docs/operations.md.
"""

from __future__ import annotations

import shutil

import pytest

from fuzz import differential as diff


def test_generated_requests_disagree_only_in_decided_ways() -> None:
    assert shutil.which("node"), "node is needed (scripts/test installs it with npm)"
    report = diff.run(250, seed=7)
    assert report.count == 250
    assert diff.undecided(report) == []


def test_an_undecided_or_risky_kind_is_reported() -> None:
    report = diff.Report(count=3)
    report.kinds["[no such feature] h11 accepts, vivace rejects (400)"] = 1
    report.kinds["[Content-Length] vivace accepts, llhttp rejects (HPE_X)"] = 1
    report.kinds["[Content-Length] llhttp and vivace read body differently"] = 1
    report.kinds["[Content-Length] h11 accepts, vivace rejects (400)"] = 1
    assert len(diff.undecided(report)) == 3


@pytest.mark.parametrize(
    ("data", "feature"),
    [
        (b"GET / HTTP/1.1\nHost: a\n\n", "bare LF"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", "obs-fold or leading whitespace"),
        (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "request-line whitespace"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", "Content-Length"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "plain"),
    ],
)
def test_requests_are_filed_by_their_feature(data: bytes, feature: str) -> None:
    assert diff._feature(data) == feature


def test_the_three_parsers_read_a_plain_request_alike() -> None:
    data = b"POST /a?b=c HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-A:  v \r\n\r\nhello"
    node = diff.Node()
    try:
        outcomes = {
            "vivace": diff.vivace(data),
            "h11": diff.h11_parse(data),
            "llhttp": node.parse(data),
        }
    finally:
        node.close()
    assert diff.compare(data, outcomes) == []
    assert diff._read(outcomes["vivace"]) == (
        "POST",
        "/a?b=c",
        (("host", "a"), ("content-length", "5"), ("x-a", "v")),
        b"hello",
    )
    bad = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
    assert not diff.vivace(bad).accepted and not diff.h11_parse(bad).accepted
