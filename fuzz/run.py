"""Run one fuzz target: ``scripts/fuzz TARGET SECONDS`` (``scripts/fuzz --list`` names them).

With atheris installed (the dev extra has it), the target runs under libFuzzer with
coverage feedback on vivace's modules, starting from ``fuzz/corpus/TARGET/``; inputs that
reach new code are kept in ``.fuzz/corpus/TARGET/`` (git-ignored) and a crashing input is
written to ``.fuzz/crashes/``. Per input: at most ``TIME_LIMIT`` seconds (libFuzzer's
``-timeout``) and ``RSS_LIMIT_MB`` of memory (``-rss_limit_mb``).

Without atheris, the same target runs on random mutations of its seeds (no coverage
feedback), with the same limits checked here: time with a clock, memory with tracemalloc.

``check(name, seconds)`` is what the test suite runs: every seed, then mutations of the
seeds from a fixed random generator, for a time budget; each input held to the limits.
"""

from __future__ import annotations

import importlib
import os
import random
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make ``fuzz`` importable
    sys.path.insert(0, str(ROOT))

from fuzz.targets import TARGETS  # noqa: E402

__all__ = ["MEMORY_LIMIT", "TIME_LIMIT", "check", "main", "mutate", "seeds"]

CORPUS = ROOT / "fuzz" / "corpus"
WORK = ROOT / ".fuzz"
#: Seconds one input may take. Generous: the machine may be shared; the parsers take
#: microseconds to milliseconds, so a slow input stands out by orders of magnitude.
TIME_LIMIT = 2.0
RSS_LIMIT_MB = 2048
#: Bytes of Python allocations one input may hold at its peak (fallback and check mode).
MEMORY_LIMIT = 64 << 20
MAX_LEN = 1 << 16

# The modules the targets exercise: instrumented for coverage under atheris.
MODULES = (
    "vivace.http",
    "vivace.http._h2_connection",
    "vivace.http._hpack",
    "vivace.server",
    "vivace.server._protocol",
    "vivace.server._http11",
    "vivace.server._machine",
    "vivace.server._cycle",
    "vivace.server._state",
    "vivace.server._proxy",
    "vivace.client._http11",
    "vivace.web._fileresponse",
    "vivace.schema",
)


def seeds(name: str) -> list[bytes]:
    """The seed corpus of a target (``fuzz/corpus/NAME/*``), in name order."""
    folder = CORPUS / name
    return [p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()]


def mutate(data: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """One random edit of ``data``: flip, insert, delete, duplicate, splice, or a token."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[pos % len(buf)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 2 and buf:
            del buf[pos : pos + rng.randint(1, 16)]
        elif op == 3 and buf:
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start : start + rng.randint(1, 64)]
        elif op == 4 and pool:
            other = rng.choice(pool)
            buf[pos:] = other[rng.randint(0, len(other)) :]
        elif op == 5:
            buf[pos:pos] = rng.choice(_TOKENS)
        elif op == 6 and buf:
            buf[pos % len(buf)] = rng.choice(b'\r\n\t \x00:;,="-%\\/\xff')
    return bytes(buf[:MAX_LEN])


_TOKENS = (
    b"\r\n",
    b"\r\n\r\n",
    b"\n",
    b"Content-Length: 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"0\r\n\r\n",
    b"%00",
    b"%ff",
    b"\xc3\xa9",
    b"\xed\xa0\x80",
    b"9" * 24,
    b"-1",
    b"\x7f",
    b"A" * 300,
    b'"',
    b"[",
    b"{",
    b"\x88\x80",
    b"\x89\x80",
    b"\x81\xfe\xff\xff",
    b"\x00\x00\x00\x04\x01\x00\x00\x00\x00",
    b"\xff\xff\xff\xff\x0f",
)


def _one(func: object, data: bytes, measure_memory: bool) -> None:
    started = time.perf_counter()
    if measure_memory:
        tracemalloc.start()
    try:
        func(data)  # type: ignore[operator]
    finally:
        if measure_memory:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    took = time.perf_counter() - started
    if took > TIME_LIMIT:
        raise AssertionError(f"input took {took:.2f} s (limit {TIME_LIMIT} s): {data[:200]!r}")
    if measure_memory and peak > MEMORY_LIMIT:
        raise AssertionError(f"input peaked at {peak} bytes (limit {MEMORY_LIMIT}): {data[:200]!r}")


def _inputs(name: str, rng: random.Random) -> Iterator[bytes]:
    pool = seeds(name)
    yield from pool
    while True:
        yield mutate(rng.choice(pool), rng, pool)


def check(name: str, seconds: float, seed: int = 0, memory: bool = True) -> int:
    """Run a target on its seeds, then on mutations, for ``seconds``; returns the count.

    Every seed runs whatever the budget. A failing input raises ``AssertionError`` naming
    it (the target's own assertion, or the time or memory limit).
    """
    func = TARGETS[name]
    rng = random.Random(seed)
    count = 0
    minimum = len(seeds(name))
    try:
        func(seeds(name)[0])  # imports and first-use set-up are not an input's cost
    except Exception:
        pass  # reported below, with the limits checked
    deadline = time.monotonic() + seconds
    for data in _inputs(name, rng):
        if count >= minimum and time.monotonic() > deadline:
            break
        try:
            _one(func, data, memory and count < minimum)
        except Exception as exc:
            raise AssertionError(f"{name} failed on {data[:300]!r}: {exc!r}") from exc
        count += 1
    return count


def _with_atheris(name: str, seconds: int) -> None:
    import atheris

    with atheris.instrument_imports(include=["vivace"]):
        for module in MODULES:
            importlib.import_module(module)
    func = TARGETS[name]
    work = WORK / "corpus" / name
    work.mkdir(parents=True, exist_ok=True)
    crashes = WORK / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.argv[0],
        f"-max_total_time={seconds}",
        f"-timeout={int(TIME_LIMIT) + 1}",
        f"-rss_limit_mb={RSS_LIMIT_MB}",
        f"-max_len={MAX_LEN}",
        f"-artifact_prefix={crashes}/{name}-",
        "-print_final_stats=1",
        str(work),
        str(CORPUS / name),
    ]
    atheris.Setup(argv, func)
    atheris.Fuzz()


def _without_atheris(name: str, seconds: int) -> None:
    func = TARGETS[name]
    rng = random.Random()
    count = 0
    deadline = time.monotonic() + seconds
    for data in _inputs(name, rng):
        if time.monotonic() > deadline:
            break
        try:
            _one(func, data, count % 50 == 0)
        except Exception:
            crashes = WORK / "crashes"
            crashes.mkdir(parents=True, exist_ok=True)
            path = crashes / f"{name}-{int(time.time() * 1000)}"
            path.write_bytes(data)
            print(f"crash on input saved to {path}", file=sys.stderr)
            raise
        count += 1
    print(f"{name}: {count} inputs in {seconds} s, no failure (random mutation, no atheris)")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--list"] or not argv:
        print("\n".join(sorted(TARGETS)))
        return 0 if argv else 2
    name = argv[0]
    seconds = int(argv[1]) if len(argv) > 1 else 60
    if name not in TARGETS:
        print(f"unknown target {name!r}; one of: {', '.join(sorted(TARGETS))}", file=sys.stderr)
        return 2
    if len(argv) > 2 and argv[2] == "--replay":  # run saved inputs: scripts/fuzz T 0 --replay F
        for path in argv[3:]:
            TARGETS[name](Path(path).read_bytes())
        return 0
    try:
        import atheris  # noqa: F401
    except ImportError:
        print("atheris is not installed: random mutation without coverage", file=sys.stderr)
        _without_atheris(name, seconds)
    else:
        _with_atheris(name, seconds)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main(sys.argv[1:]))
