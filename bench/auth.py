"""50 logins/s against a vivace app: do other requests' latencies change?

    flock /tmp/vivace-bench.lock .venv/bin/python bench/auth.py [--duration 10] [--rounds 3]

One vivace.server worker serves bench/auth_app.py: ``POST /login`` (argon2id verify,
then a session rotated in a memory store and ``last_login`` written to SQLite) and ``GET
/`` (a small JSON answer: the "other requests"). Two load generators, separate processes:

- the probe: ``GET /`` at a fixed rate (``--rate``, 200/s), open loop: each request's
  latency is counted from the moment it was due, not from when a connection was free,
  so a stalled server cannot hide its stalls (no coordinated omission);
- the logins: ``POST /login`` at 50/s, open loop too.

Per round and per hashing mode (``pool``: vivace.auth's, the hash on the password
pool's threads, 10 nice steps below the loop; ``pool-same``: the pool at the loop's
priority; ``loop``: the control, the same hash run on the event loop), the probe
runs alone, then with the logins. Reported: the probe's p50/p99 (medians over rounds),
the ratio with logins / without, and the server's CPU time per login. Rounds are
interleaved; the machine is shared, so only the ratios mean much.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from server_asgi import cpu_seconds, free_port

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PY = sys.executable
MODES = {
    "pool": "vivace.auth (password pool, threads nice +10)",
    "pool-same": "password pool at the loop's priority (nice=0)",
    "loop": "on the event loop (control)",
}


# -- the load generators (run as subprocesses: --generate) -------------------------------


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def generate(kind: str, port: int, rate: float, duration: float) -> dict[str, float]:
    """Open-loop load: one request every 1/rate s, latencies from when each was due."""
    if kind == "probe":
        raw = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
    else:
        body = b'{"username": "ada", "password": "pw"}'
        raw = (
            b"POST /login HTTP/1.1\r\nHost: bench\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    errors = 0

    async def one(due: float) -> None:
        nonlocal errors
        pair = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
        try:
            status = await _request(*pair, raw)
        except (asyncio.IncompleteReadError, ConnectionError):
            # An idle connection the server closed (keep-alive timeout): reconnect; the
            # latency still counts from when the request was due.
            pair[1].close()
            pair = await asyncio.open_connection("127.0.0.1", port)
            status = await _request(*pair, raw)
        latencies.append(time.perf_counter() - due)
        if status != 200:
            errors += 1
        idle.append(pair)

    start = time.perf_counter() + 0.05
    count = int(rate * duration)
    tasks = []
    for i in range(count):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    for _, writer in idle:
        writer.close()
    latencies.sort()
    return {
        "count": len(latencies),
        "errors": errors,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "max": latencies[-1] * 1000,
    }


# -- the driver --------------------------------------------------------------------------


def make_database(path: Path) -> None:
    code = (
        "import asyncio\n"
        "from vivace import orm\n"
        "from vivace.auth import Auth, Passwords, create_tables\n"
        "from vivace.db import Database\n"
        "import auth_app\n"
        "async def main():\n"
        f"    async with Database('sqlite:///{path}') as db:\n"
        "        orm.bind(db)\n"
        "        await create_tables()\n"
        "        auth = Auth(passwords=Passwords([auth_app.hasher()]))\n"
        "        await auth.create_user('ada', 'pw')\n"
        "asyncio.run(main())\n"
    )
    subprocess.run([PY, "-c", code], cwd=BENCH, check=True, env=_env(path, "pool"))


def _env(db: Path, hashing: str) -> dict[str, str]:
    path = os.pathsep.join([str(BENCH), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "BENCH_DB": str(db), "BENCH_HASHING": hashing}


def start_server(db: Path, hashing: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [PY, "-m", "vivace.cli", "run", "auth_app:app", "--port", str(port)]
    cmd += ["--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=BENCH, env=_env(db, hashing))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            asyncio.run(generate("probe", port, 10, 0.1))
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def spawn(kind: str, port: int, rate: float, duration: float) -> subprocess.Popen[str]:
    args = [PY, __file__, "--generate", kind, "--port", str(port)]
    args += ["--rate", str(rate), "--duration", str(duration)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=BENCH)


def collect(proc: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    result: dict[str, float] = json.loads(out)
    return result


def run_round(db: Path, hashing: str, rate: float, duration: float) -> dict[str, float]:
    proc, port = start_server(db, hashing)
    try:
        asyncio.run(generate("login", port, 10, 0.5))  # warm up both paths
        asyncio.run(generate("probe", port, rate, 1.0))
        quiet = collect(spawn("probe", port, rate, duration))
        before = cpu_seconds(proc.pid)
        logins = spawn("login", port, 50, duration)
        probe = spawn("probe", port, rate, duration)
        busy, login = collect(probe), collect(logins)
        cpu = cpu_seconds(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    errors = quiet["errors"] + busy["errors"] + login["errors"]
    if errors:
        print(f"  warning: {errors:g} non-200 answers ({hashing})", file=sys.stderr)
    # CPU per login: all the server's CPU during the busy phase, minus what the probe
    # cost alone (its quiet phase is not measured: estimated as 0, so this is an upper
    # bound of the login's cost).
    return {
        "quiet_p50": quiet["p50"],
        "quiet_p99": quiet["p99"],
        "busy_p50": busy["p50"],
        "busy_p99": busy["p99"],
        "login_p50": login["p50"],
        "login_p99": login["p99"],
        "cpu_per_login_ms": cpu / max(login["count"], 1) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0, help="probe requests per second")
    parser.add_argument("--generate", choices=["probe", "login"])
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.generate:
        print(json.dumps(asyncio.run(generate(args.generate, args.port, args.rate, args.duration))))
        return
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "auth.sqlite3"
        make_database(db)
        for round_no in range(args.rounds):
            for hashing in MODES:
                result = run_round(db, hashing, args.rate, args.duration)
                results[hashing].append(result)
                print(f"round {round_no + 1} {hashing}: {result}", file=sys.stderr)
    # The probe alone is the same in every mode (no logins run): its runs are pooled,
    # which steadies the baseline on a shared machine where one run's p99 can catch
    # another process's burst.
    quiet = [run for runs in results.values() for run in runs]
    quiet_p50 = statistics.median(run["quiet_p50"] for run in quiet)
    quiet_p99 = statistics.median(run["quiet_p99"] for run in quiet)
    print(
        f"\n{args.rounds} rounds of {args.duration:g} s; probe GET / at {args.rate:g}/s; "
        "logins POST /login at 50/s; medians over rounds\n"
    )
    print(f"probe alone ({len(quiet)} runs): p50 {quiet_p50:.2f} ms, p99 {quiet_p99:.2f} ms\n")
    print(
        "| hashing | probe p50 + logins | p50 ratio | probe p99 + logins | p99 ratio "
        "| login p50 | login p99 | server CPU per login |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for hashing, label in MODES.items():
        runs = results[hashing]

        def med(key: str, runs: list[dict[str, float]] = runs) -> float:
            return statistics.median(run[key] for run in runs)

        print(
            f"| {label} | {med('busy_p50'):.2f} ms | {med('busy_p50') / quiet_p50:.2f}x "
            f"| {med('busy_p99'):.2f} ms | {med('busy_p99') / quiet_p99:.2f}x "
            f"| {med('login_p50'):.1f} ms | {med('login_p99'):.1f} ms "
            f"| {med('cpu_per_login_ms'):.1f} ms |"
        )


if __name__ == "__main__":
    main()
