"""Every fuzz target (fuzz/targets.py) on its seed corpus and a moment of mutations.

The long runs are ``scripts/fuzz TARGET SECONDS`` (atheris); here each target gets its
seeds, each held to the runner's time and memory limits, then mutations of them from a
fixed random generator for a fraction of a second: a property a change breaks fails here.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from fuzz import run
from fuzz.targets import TARGETS

ROOT = Path(__file__).resolve().parent.parent
# Parsers the issue lists; each must have a target (a new parser needs one too).
EXPECTED = {
    "http11_server",
    "http11_client",
    "websocket_server",
    "websocket_client",
    "multipart",
    "urlencoded",
    "cookies",
    "urls",
    "range_conditional",
    "proxy_headers",
    "schema_json",
    "h2_frames",
    "hpack",
}


def test_every_parser_has_a_target_and_seeds() -> None:
    assert set(TARGETS) == EXPECTED
    for name in TARGETS:
        assert len(run.seeds(name)) >= 3, name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_target_on_seeds_and_mutations(name: str) -> None:
    count = run.check(name, 0.1, seed=20)
    assert count >= len(run.seeds(name))


def test_a_broken_property_is_reported() -> None:
    TARGETS["broken"] = lambda data: (
        None if len(data) < 5 else (_ for _ in ()).throw(AssertionError("too long"))
    )
    (ROOT / "fuzz" / "corpus" / "broken").mkdir(exist_ok=True)
    try:
        (ROOT / "fuzz" / "corpus" / "broken" / "seed").write_bytes(b"123456")
        with pytest.raises(AssertionError, match="broken failed on b'123456'"):
            run.check("broken", 0.01)
    finally:
        del TARGETS["broken"]
        (ROOT / "fuzz" / "corpus" / "broken" / "seed").unlink()
        (ROOT / "fuzz" / "corpus" / "broken").rmdir()


def test_slow_and_hungry_inputs_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "TIME_LIMIT", 0.0)
    with pytest.raises(AssertionError, match="took"):
        run._one(lambda data: None, b"x", False)
    monkeypatch.setattr(run, "MEMORY_LIMIT", 1000)
    monkeypatch.setattr(run, "TIME_LIMIT", 10.0)
    with pytest.raises(AssertionError, match="peaked"):
        run._one(lambda data: bytearray(10_000), b"x", True)


def test_mutations_stay_bounded() -> None:
    rng = random.Random(1)
    data = b"GET / HTTP/1.1\r\n\r\n"
    for _ in range(200):
        data = run.mutate(data, rng, [b"x" * 1000])
        assert len(data) <= run.MAX_LEN


def test_script_lists_and_replays(tmp_path: Path) -> None:
    script = [sys.executable, str(ROOT / "fuzz" / "run.py")]
    listed = subprocess.run([*script, "--list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and set(listed.stdout.split()) == EXPECTED
    unknown = subprocess.run([*script, "nope", "1"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "unknown target" in unknown.stderr
    saved = tmp_path / "input"
    saved.write_bytes(b"\x01GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    replay = subprocess.run(
        [*script, "http11_server", "0", "--replay", str(saved)], capture_output=True, timeout=60
    )
    assert replay.returncode == 0, replay.stderr
