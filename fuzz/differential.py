"""Differential parsing: one generated request, three HTTP/1.1 parsers, every difference.

    .venv/bin/python fuzz/differential.py [COUNT]      (default 10,000 requests)

Each request (a head with variants of whitespace, case, duplicate fields, obsolete
syntax, bare LF, framing fields, and a body) goes to

* vivace.server: bytes into ``HTTPProtocol`` (the same socketless shell the fuzz target
  uses), the app recording what it was given;
* h11 (a pure-Python, strict reading of RFC 9112);
* Node's llhttp, through node's own parser binding (``fuzz/llhttp_node.js``).

Each parser either rejects the request or reads a method, a target, header fields and a
body. Two parsers disagree when one accepts what another rejects, or when they read it
differently. Disagreements are grouped by kind; every kind must be in ``DECIDED`` with
its reason (fixed, or why vivace reads it so, with the RFC section). The script prints
the table and exits 1 when a kind is new; tests/test_differential.py runs a few hundred.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import h11  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fuzz.targets import serve_bytes  # noqa: E402

__all__ = ["DECIDED", "Outcome", "compare", "heads", "main", "run"]

# -- generation -------------------------------------------------------------------------

_METHODS = ["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "get", "FOO", "G@T", "M-SEARCH"]
_TARGETS = [
    "/",
    "/a?b=c",
    "/a%20b",
    "/a b",
    "*",
    "http://h/p?q",
    "/\x7f",
    "/\xc3\xa9",
    "/f#frag",
    "//x",
    "",
]
_VERSIONS = ["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "http/1.1", "HTTP/1.2", "HTTP/2.0", "HTTP/1"]
_NAMES = [
    "X-A",
    "x-a",
    "Host",
    "host",
    "Content-Length",
    "content-length",
    "Transfer-Encoding",
    "Connection",
    "X_A",
    "X A",
    "",
    "X\xe9",
    "X-A ",
    "Expect",
]
_VALUES = [
    "a",
    "  a  ",
    "a\tb",
    "",
    "chunked",
    "Chunked",
    "gzip, chunked",
    "chunked, gzip",
    "chunked,",
    "5",
    "05",
    "+5",
    "5, 5",
    "5,6",
    "-1",
    "99999999999999999999",
    "close",
    "keep-alive",
    "100-continue",
    "\x01",
    "\x7f",
    "\xe9",
    "a\x00b",
    "a\rb",
    "h",
]
_SEPARATORS = [":", ": ", ":\t", ":  "]
_BODIES = [
    "",
    "hello",
    "5\r\nhello\r\n0\r\n\r\n",
    "5;ext=1\r\nhello\r\n0\r\n\r\n",
    "5\r\nhello\r\n0\r\nT: x\r\n\r\n",
    "5\nhello\n0\n\n",
    "0x5\r\nhello\r\n0\r\n\r\n",
    " 5\r\nhello\r\n0\r\n\r\n",
    "5 \r\nhello\r\n0\r\n\r\n",
    "5\r\nhelloXX0\r\n\r\n",
    "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
]


def _maybe(draw: Any, normal: str, variants: list[str]) -> str:
    """Mostly ``normal``; one time in five, one of the ``variants``."""
    return normal if draw(st.integers(0, 4)) else draw(st.sampled_from(variants))


_FRAMINGS = [
    ("", ""),
    ("Content-Length: 5", "hello"),
    ("Transfer-Encoding: chunked", "5\r\nhello\r\n0\r\n\r\n"),
    ("Content-Length: 5\r\nContent-Length: 5", "hello"),
    ("Content-Length: 5\r\nContent-Length: 6", "hello!"),
    ("Content-Length: 5, 5", "hello"),
    ("Content-Length: 5\r\nTransfer-Encoding: chunked", "5\r\nhello\r\n0\r\n\r\n"),
    ("Transfer-Encoding: chunked\r\nContent-Length: 5", "5\r\nhello\r\n0\r\n\r\n"),
    ("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked", "0\r\n\r\n"),
    ("Transfer-Encoding: gzip, chunked", "0\r\n\r\n"),
    ("Transfer-Encoding: chunked, gzip", "0\r\n\r\n"),
    ("Transfer-Encoding: gzip", "hello"),
    ("Transfer-Encoding: Chunked", "0\r\n\r\n"),
    ("Transfer-Encoding:  chunked ", "0\r\n\r\n"),
    ("Transfer-Encoding: chunked,", "0\r\n\r\n"),
    ("Transfer-Encoding:\tchunked", "0\r\n\r\n"),
    ("Transfer-Encoding : chunked", "0\r\n\r\n"),
    ("Content-Length : 5", "hello"),
    ("Content-Length: +5", "hello"),
    ("Content-Length: 05", "hello"),
    ("Content-Length: -5", "hello"),
    ("Content-Length: 5 ", "hello"),
    ("Content-Length: 0x5", "hello"),
    ("Content-Length: 99999999999999999999", "hello"),
    ("Content-Length: ", ""),
]
_CHUNKED = [
    "5;ext=1\r\nhello\r\n0\r\n\r\n",
    '5;ext="q"\r\nhello\r\n0\r\n\r\n',
    "5 ;ext\r\nhello\r\n0\r\n\r\n",
    "5\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
    "5\nhello\n0\n\n",
    "5\rhello\r0\r\r",
    "0x5\r\nhello\r\n0\r\n\r\n",
    " 5\r\nhello\r\n0\r\n\r\n",
    "5 \r\nhello\r\n0\r\n\r\n",
    "05\r\nhello\r\n0\r\n\r\n",
    "5\r\nhelloXX0\r\n\r\n",
    "5\r\nhello\r\n0\r\n",
    "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "-5\r\nhello\r\n0\r\n\r\n",
    "5\r\nhello\r\n00\r\n\r\n",
]


@st.composite
def heads(draw: Any) -> bytes:
    """A request with a few unusual features: mostly ordinary, one or two variants each."""
    eol = _maybe(draw, "\r\n", ["\n", "\r"])
    sp = _maybe(draw, " ", ["  ", "\t"])
    method = _maybe(draw, draw(st.sampled_from(["GET", "POST"])), _METHODS)
    target = _maybe(draw, "/a?b=c", _TARGETS)
    version = _maybe(draw, "HTTP/1.1", _VERSIONS)
    lines = [f"{method}{sp}{target}{sp}{version}"]
    hosts = draw(st.sampled_from([1] * 8 + [0, 2]))
    lines += ["Host" + _maybe(draw, ": ", _SEPARATORS) + "example.com"] * hosts
    framing, body = draw(st.sampled_from(_FRAMINGS))
    if "chunked" in framing and draw(st.integers(0, 2)) == 0:
        body = draw(st.sampled_from(_CHUNKED))
    if framing:
        lines += framing.split("\r\n")
    for _ in range(draw(st.integers(0, 2))):
        name = _maybe(draw, "X-A", _NAMES)
        value = _maybe(draw, "a", _VALUES)
        line = name + _maybe(draw, ": ", _SEPARATORS) + value
        line = _maybe(draw, "", [" ", "\t"]) + line  # leading whitespace: obs-fold
        line += _maybe(draw, "", [eol + " folded", eol + "\tfolded", " "])
        lines.insert(draw(st.integers(1, len(lines))), line)
    text = eol.join(lines) + eol + eol + body
    return text.encode("latin-1")


# -- the three parsers ------------------------------------------------------------------


@dataclass
class Outcome:
    """What one parser made of a request: rejected (``error``), or what it read."""

    error: str | None = None
    method: str = ""
    target: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    complete: bool = False

    @property
    def accepted(self) -> bool:
        return self.error is None


_vivace: dict[str, Any] = {}


def vivace(data: bytes) -> Outcome:
    from vivace.server import Config
    from vivace.server._state import ServerState

    seen: list[Outcome] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        target = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        outcome = Outcome(
            method=scope["method"],
            target=target,
            headers=[(n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"]],
        )
        seen.append(outcome)
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the server gave up on the body: outcome.complete stays False
            outcome.body += message.get("body", b"")
            if not message.get("more_body"):
                outcome.complete = True
                break
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b""})

    if not _vivace:
        loop = asyncio.new_event_loop()
        _vivace["loop"] = loop
    loop = _vivace["loop"]
    config = Config(app, access_log=False)
    state = ServerState(config, app, loop)
    _, transport = serve_bytes(loop, state, [data])
    statuses = [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", bytes(transport.data))]
    status = next((s for s in statuses if s != 100), 0)
    if seen:
        first = seen[0]
        if status not in (200, 100) and not first.complete:
            first.error = f"{status or 'abort'} after the head"
        return first
    return Outcome(error=str(status) if status else "no response")


def h11_parse(data: bytes) -> Outcome:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    outcome = Outcome()
    try:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            return Outcome(error="incomplete head")
        assert isinstance(event, h11.Request)
        outcome.method = event.method.decode("latin-1")
        outcome.target = event.target.decode("latin-1")
        outcome.headers = [
            (n.decode("latin-1"), v.decode("latin-1")) for n, v in event.headers.raw_items()
        ]
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Data):
                outcome.body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                outcome.complete = True
                break
            else:
                break  # NEED_DATA: the body is incomplete
    except h11.RemoteProtocolError as exc:
        if not outcome.method:
            return Outcome(error=_reason(str(exc)))
        outcome.error = _reason(str(exc))
    return outcome


def _reason(text: str) -> str:
    text = re.sub(r"b?'[^']*'|b?\"[^\"]*\"", "…", text)
    return re.sub(r"\d+", "N", text)[:60]


class Node:
    """A node process running llhttp_node.js, fed one request per line."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(ROOT / "fuzz" / "llhttp_node.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def parse(self, data: bytes) -> Outcome:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(base64.b64encode(data).decode() + "\n")
        self.proc.stdin.flush()
        result = json.loads(self.proc.stdout.readline())
        head = result.get("head")
        if head is None:
            return Outcome(error=result.get("error") or "incomplete head")
        raw = head["headers"]
        outcome = Outcome(
            error=result.get("error"),
            method=head["method"],
            target=head["url"],
            headers=list(zip(raw[::2], raw[1::2], strict=True)),
            body=result["body"].encode("latin-1"),
            complete=result["complete"],
        )
        if outcome.error is None and not outcome.complete:
            outcome.error = "incomplete body"
        return outcome

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# -- comparing --------------------------------------------------------------------------


def _read(outcome: Outcome) -> tuple[Any, ...]:
    target = outcome.target
    if "://" in target:  # absolute-form: ASGI's raw_path is the path alone
        target = "/" + target.partition("://")[2].partition("/")[2]
    # h11 lower-cases Transfer-Encoding values (its documented normalisation).
    headers = tuple(
        (n.lower(), v.strip(" \t").lower() if n.lower() == "transfer-encoding" else v.strip(" \t"))
        for n, v in outcome.headers
    )
    return (outcome.method, target, headers, outcome.body)


def compare(data: bytes, outcomes: dict[str, Outcome]) -> list[str]:
    """The kinds of disagreement among ``outcomes`` (empty when all agree)."""
    kinds: list[str] = []
    names = sorted(outcomes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            x, y = outcomes[a], outcomes[b]
            if x.accepted != y.accepted:
                yes, no = (a, b) if x.accepted else (b, a)
                kinds.append(f"{yes} accepts, {no} rejects ({outcomes[no].error})")
            elif x.accepted:
                fields = [
                    label
                    for label, p, q in zip(
                        ("method", "target", "headers", "body"), _read(x), _read(y), strict=True
                    )
                    if p != q
                ]
                if fields:
                    kinds.append(f"{a} and {b} read {'/'.join(fields)} differently")
    feature = _feature(data)
    return [f"[{feature}] {kind}" for kind in kinds]


_KNOWN_METHODS = {b"GET", b"POST", b"PUT", b"HEAD", b"OPTIONS", b"DELETE", b"M-SEARCH"}


def _feature(data: bytes) -> str:
    """The request's first unusual feature, in the order below: what a disagreement is
    filed under (a request with several unusual features is filed under the first)."""
    end = re.search(rb"\r?\n\r?\n", data)
    head = data[: end.start()] if end else data
    body = data[end.end() :] if end else b""
    lines = re.split(rb"\r?\n", head)
    request_line, fields = lines[0], lines[1:]
    parts = request_line.split(b" ")
    names = [f.partition(b":")[0].lower() for f in fields]
    checks = [
        (re.search(rb"[^\r]\n|^\n", data[: end.end()] if end else data), "bare LF"),
        (re.search(rb"\r(?!\n)", head), "bare CR"),
        (any(f[:1] in (b" ", b"\t") for f in fields), "obs-fold or leading whitespace"),
        (len(parts) != 3 or b"\t" in request_line, "request-line whitespace"),
        (parts[-1] not in (b"HTTP/1.1", b"HTTP/1.0"), "HTTP version"),
        (parts[0] not in _KNOWN_METHODS, "method"),
        (re.search(rb"[^\x21-\x7e]", parts[1] if len(parts) > 1 else b""), "target bytes"),
        (len(parts) > 1 and b"#" in parts[1], "fragment in target"),
        (len(parts) > 1 and parts[1] in (b"", b"*"), "empty or asterisk target"),
        (any(re.fullmatch(rb"[!#$%&'*+.^_`|~0-9a-z-]+", n) is None for n in names), "field name"),
        (any(re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", f) for f in fields), "control byte in value"),
        (any(re.search(rb"[\x80-\xff]", f) for f in fields), "obs-text in value"),
        (names.count(b"host") != 1, "Host count"),
        (b"transfer-encoding" in names, "Transfer-Encoding"),
        (b"content-length" in names, "Content-Length"),
        (b"expect" in names, "Expect"),
        (body != b"", "body without framing"),
    ]
    return next((label for present, label in checks if present), "plain")


@dataclass
class Report:
    count: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    examples: dict[str, bytes] = field(default_factory=dict)


def run(count: int, seed: int | None = None) -> Report:
    """Generate ``count`` requests, parse each three ways, collect the disagreements."""
    report = Report()
    node = Node()

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        derandomize=seed is not None,
        suppress_health_check=list(HealthCheck),
        phases=[__import__("hypothesis").Phase.generate],
    )
    @given(heads())
    def one(data: bytes) -> None:
        report.count += 1
        outcomes = {"vivace": vivace(data), "h11": h11_parse(data), "llhttp": node.parse(data)}
        for kind in compare(data, outcomes):
            report.kinds[kind] += 1
            report.examples.setdefault(kind, data)

    try:
        one()
    finally:
        node.close()
    return report


# Every kind of disagreement, by the feature it is filed under, with the rule vivace
# follows (docs/operations.md, "Differential parsing", says the same at more length).
# Where vivace refuses what another parser accepts, the request gets a 4xx/5xx and the
# connection closes: no later bytes can be read as another request.
DECIDED: dict[str, str] = {
    "bare LF": "RFC 9112 2.2 allows a lone LF as line end (MAY); refused, as llhttp does",
    "bare CR": "RFC 9112 2.2: a bare CR MUST be treated as invalid (or replaced): 400",
    "obs-fold or leading whitespace": "RFC 9112 5.2: obs-fold is rejected with 400 (MUST "
    "reject or unfold); a leading-whitespace first field is refused the same way",
    "request-line whitespace": "RFC 9112 3: recipients MAY split on whitespace runs; "
    "llhttp (vivace and node) accepts repeated SP, h11 refuses; framing is unaffected",
    "HTTP version": "RFC 9110 6.2/15.6.6: only HTTP/1.0 and 1.1 are served (505 otherwise); "
    "h11 reads any d.d, llhttp parses 0.9-2.0 and vivace refuses the rest",
    "method": "RFC 9110 9.1: methods are case-sensitive tokens; llhttp knows a fixed list "
    "and refuses others (and lower case) with 400, where 501 would be more precise",
    "target bytes": "RFC 9112 3.2: the target is visible ASCII; llhttp refuses other bytes",
    "fragment in target": "RFC 9112 3.2: a request target has no fragment; vivace refuses it "
    "with 400 (llhttp and h11 pass it on), so a proxy and vivace cannot disagree on the "
    "resource",
    "empty or asterisk target": "RFC 9112 3.2.4: '*' is OPTIONS only; vivace serves it as "
    "path '*' to the app; an empty target is refused",
    "field name": "RFC 9110 5.1: field names are tokens; whitespace before ':' MUST be "
    "refused with 400 (RFC 9112 5.1)",
    "control byte in value": "RFC 9110 5.5: CR, LF and NUL MUST be refused; other controls too",
    "obs-text in value": "RFC 9110 5.5: obs-text is allowed and passed on as bytes",
    "Host count": "RFC 9112 3.2: no Host on HTTP/1.1, or more than one Host: 400 (MUST)",
    "Transfer-Encoding": "RFC 9112 6.1: chunked must be last and is all vivace decodes (501 "
    "for other codings); TE with Content-Length is refused (6.1 allows it, smuggling); a "
    "malformed chunk is 400; h11 lower-cases values",
    "Content-Length": "RFC 9112 6.3: an invalid or repeated Content-Length is refused with "
    "400 (RFC 9110 8.6 MAY accept equal repeats; llhttp does not)",
    "Expect": "RFC 9110 10.1.1: an expectation other than 100-continue gets 417",
    "body without framing": "RFC 9112 6.3: no framing field means no body; the bytes after "
    "are the next request",
    "plain": "no disagreement is expected on an ordinary request",
}
# The only ways vivace accepts what another refuses, or reads a request differently from
# another, by (feature, other parser). Anything else here is a candidate for smuggling.
VIVACE_DIFFERS = {
    ("request-line whitespace", "h11"),  # repeated SP, see DECIDED
}


def undecided(report: Report) -> list[str]:
    """Kinds with no decision, and vivace differences outside ``VIVACE_DIFFERS``."""
    out = []
    for kind in report.kinds:
        feature, _, rest = kind[1:].partition("] ")
        if feature not in DECIDED or feature == "plain":
            out.append(kind)
            continue
        if "vivace accepts" in rest or ("vivace" in rest and "differently" in rest):
            other = "h11" if "h11" in rest else "llhttp"
            if (feature, other) not in VIVACE_DIFFERS:
                out.append(kind)
    return out


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 10_000
    report = run(count)
    print(f"{report.count} requests; {len(report.kinds)} kinds of disagreement")
    for kind, n in sorted(report.kinds.items()):
        mark = " " if kind not in undecided(report) else "!"
        print(f"{mark} {n:6d}  {kind}\n           e.g. {report.examples[kind][:120]!r}")
    new = undecided(report)
    if new:
        print(f"{len(new)} kind(s) not decided (marked !)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
