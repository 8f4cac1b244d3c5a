"""Faults under load: break what the app depends on while it serves; PASS or FAIL each.

    flock /tmp/vivace-bench.lock .venv/bin/python bench/faults.py [SCENARIO ...]

Scenarios (all by default; about 15 s each):

* ``postgres-kill``: ``pg_terminate_backend`` on the app's connections, again and again
  for 3 s (only connections with ``application_name=vivace_fault``: other users of the
  server are left alone);
* ``postgres-restart``: the server "restarts": a TCP proxy in front of it, which this
  script controls, drops every connection and refuses new ones for 3 s (the machine's
  PostgreSQL keeps running for everyone else);
* ``mariadb-kill``: ``KILL`` on the connections of a user made for this (``vivace_fault``);
* ``mariadb-restart``: the proxy, in front of MariaDB;
* ``redis-restart``: the proxy, in front of Redis, under broadcast (SSE subscribers and a
  publisher) and Redis-backed sessions (16 s: the broadcast's reconnect backs off).

Database scenarios: 8 clients run ``GET /tx?k=N`` (two INSERTs in one transaction,
bench/faults_app.py). PASS when every answer is 200 or 503 (503 while the database is
unreachable, with the app's one-line log), the last 3 s are all 200 (recovered alone),
and the tables agree: each ``k`` is in both or in neither, and each 200 is in both.
Redis: publishes get 200 or 503, sessions 200 or 503, both all 200 again after; every
SSE subscriber receives messages published after Redis came back, on the same stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._process import AppProcess  # noqa: E402
from vivace.client import Client  # noqa: E402
from vivace.db import Database  # noqa: E402

__all__ = ["SCENARIOS", "Proxy", "main", "run"]

warnings.filterwarnings("ignore", module="asyncmy")  # "Unknown table" on DROP IF EXISTS

PG = os.environ.get("VIVACE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MY = os.environ.get("VIVACE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
REDIS = os.environ.get("VIVACE_REDIS_URL", "redis://127.0.0.1:6379/0")
FAULT_START, FAULT_END, TOTAL = 3.0, 6.0, 12.0
# The Redis broadcast backend reconnects with backoff (up to 5 s between attempts, by
# default): its scenario runs longer, so the last 3 s come after the longest wait.
REDIS_TOTAL = 16.0


class Proxy:
    """A TCP proxy whose listener and connections this script can drop and restore."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.pipes):
            writer.transport.abort()
        self.pipes.clear()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.pipes.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.pipes.discard(writer)
        self.pipes.discard(up_writer)


@dataclass
class Outcome:
    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        verdict = "PASS" if self.passed else "FAIL: " + "; ".join(self.problems)
        return f"{self.name}: {'; '.join(self.notes)} -> {verdict}"


class Server:
    """bench/faults_app.py in a subprocess (``AppProcess``), started and stopped async."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = AppProcess("bench.faults_app:app", env=env)
        self.log = self.process.log
        self.port = 0

    async def start(self) -> None:
        self.port = await asyncio.to_thread(self.process.serving)

    async def stop(self) -> None:
        await asyncio.to_thread(self.process.stop)


# -- database scenarios -----------------------------------------------------------------


async def _prepare_tables(url: str) -> None:
    async with Database(url) as db:
        for table in ("fault_a", "fault_b"):
            await db.execute(f"DROP TABLE IF EXISTS {table}")
            await db.execute(f"CREATE TABLE {table} (k INTEGER PRIMARY KEY)")


async def _tables(url: str) -> tuple[set[int], set[int]]:
    async with Database(url) as db:
        a = {r[0] for r in await db.fetch_all("SELECT k FROM fault_a")}
        b = {r[0] for r in await db.fetch_all("SELECT k FROM fault_b")}
    return a, b


async def _db_traffic(port: int, started: float) -> list[tuple[float, int, str]]:
    """8 clients for TOTAL seconds: (time, k, status or error) per request."""
    results: list[tuple[float, int, str]] = []
    counter = iter(range(1, 10**9))

    async def one(client: Client) -> None:
        while time.monotonic() - started < TOTAL:
            k = next(counter)
            at = time.monotonic() - started
            try:
                response = await client.get(f"/tx?k={k}")
                results.append((at, k, str(response.status_code)))
            except Exception as exc:
                results.append((at, k, type(exc).__name__))
                await asyncio.sleep(0.05)

    async with Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        await asyncio.gather(*(one(client) for _ in range(8)))
    return results


async def _kill_postgres() -> int:
    import asyncpg

    conn = await asyncpg.connect(PG)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'vivace_fault' AND pid <> pg_backend_pid()"
        )
        return len(rows)
    finally:
        await conn.close()


async def _kill_mariadb() -> int:
    async with Database(MY) as db:
        rows = await db.fetch_all(
            "SELECT id FROM information_schema.processlist WHERE user = 'vivace_fault'"
        )
        for row in rows:
            with contextlib.suppress(Exception):  # it may have ended meanwhile
                await db.execute(f"KILL {int(row[0])}")
        return len(rows)


async def _mariadb_user() -> None:
    async with Database(MY) as db:
        await db.execute("CREATE USER IF NOT EXISTS 'vivace_fault'@'%'")
        await db.execute("CREATE USER IF NOT EXISTS 'vivace_fault'@'localhost'")
        for host in ("%", "localhost"):
            await db.execute(f"GRANT ALL ON test.* TO 'vivace_fault'@'{host}'")


def _with_port(url: str, port: int) -> str:
    return re.sub(r"@([^/:]+):(\d+)/", f"@127.0.0.1:{port}/", url)


async def database_scenario(name: str) -> Outcome:
    outcome = Outcome(name)
    kind, _, fault = name.partition("-")
    admin = PG if kind == "postgres" else MY
    proxy: Proxy | None = None
    if kind == "mariadb":
        await _mariadb_user()
        app_url = MY.replace("root@", "vivace_fault@")
    else:
        app_url = PG + ("&" if "?" in PG else "?") + "application_name=vivace_fault"
    if fault == "restart":
        host, port = re.search(r"@([^/:]+):(\d+)/", admin).groups()  # type: ignore[union-attr]
        proxy = Proxy(host, int(port))
        await proxy.up()
        app_url = _with_port(app_url, proxy.port)
    await _prepare_tables(admin)
    server = Server({"FAULT_DB_URL": app_url})
    await server.start()
    started = time.monotonic()
    traffic = asyncio.create_task(_db_traffic(server.port, started))
    killed = 0
    try:
        await asyncio.sleep(FAULT_START)
        if proxy is not None:
            await proxy.down()
            await asyncio.sleep(FAULT_END - FAULT_START)
            await proxy.up()
        else:
            while time.monotonic() - started < FAULT_END:
                killed += await (_kill_postgres() if kind == "postgres" else _kill_mariadb())
                await asyncio.sleep(0.3)
        results = await traffic
    finally:
        await server.stop()
        if proxy is not None:
            await proxy.down()
    a, b = await _tables(admin)
    statuses = Counter(status for _, _, status in results)
    during = Counter(s for at, _, s in results if FAULT_START <= at < FAULT_END + 1)
    outcome.notes.append(f"{len(results)} requests {dict(statuses)}")
    if killed:
        outcome.notes.append(f"{killed} connections killed")
    if set(statuses) - {"200", "503"}:
        outcome.problems.append(f"answers other than 200/503: {dict(statuses)}")
        errors = Counter(
            line.strip()[:160]
            for line in server.log
            if re.match(r"\w+(\.\w+)*(Error|Exception|Lost)\b", line)
        )
        outcome.notes.append(f"server errors: {dict(errors.most_common(4))}")
    tail = [s for at, _, s in results if at >= TOTAL - 3]
    if not tail or any(s != "200" for s in tail):
        outcome.problems.append(f"not recovered in the last 3 s: {Counter(tail)}")
    if statuses["503"] and not any("503 for GET /tx" in line for line in server.log):
        outcome.problems.append("503s without the log line")
    if fault == "restart" and not during["503"]:
        outcome.problems.append("no 503 while the database was unreachable")
    if a != b:
        outcome.problems.append(f"half-applied transactions: {len(a ^ b)} keys in one table")
    ok = {k for _, k, s in results if s == "200"}
    if ok - (a & b):
        outcome.problems.append(f"{len(ok - (a & b))} answered 200 but not stored")
    outcome.notes.append(f"{len(a)} committed, consistent: {a == b}")
    return outcome


# -- Redis ------------------------------------------------------------------------------


async def redis_scenario(name: str) -> Outcome:
    outcome = Outcome(name)
    host, port = re.search(r"//([^/:]+):(\d+)", REDIS).groups()  # type: ignore[union-attr]
    proxy = Proxy(host, int(port))
    await proxy.up()
    server = Server({"FAULT_REDIS_URL": re.sub(r"//[^/]+", f"//127.0.0.1:{proxy.port}", REDIS)})
    await server.start()
    base = f"http://127.0.0.1:{server.port}"
    started = time.monotonic()
    received: list[list[int]] = [[] for _ in range(3)]
    ended: list[str] = []
    publishes: list[tuple[float, str]] = []
    sessions: list[tuple[float, str]] = []

    async def subscriber(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: fault\r\n\r\n")
        try:
            while time.monotonic() - started < REDIS_TOTAL + 1:
                line = await asyncio.wait_for(reader.readline(), REDIS_TOTAL)
                if not line:
                    ended.append(f"subscriber {index}: stream ended")
                    return
                match = re.match(rb"data: (\d+)", line)
                if match:
                    received[index].append(int(match.group(1)))
        except TimeoutError:
            pass
        finally:
            writer.transport.abort()

    async def publisher(client: Client) -> None:
        n = 0
        while time.monotonic() - started < REDIS_TOTAL:
            n += 1
            at = time.monotonic() - started
            try:
                response = await client.post(f"/publish?n={n}")
                publishes.append((at, str(response.status_code)))
            except Exception as exc:
                publishes.append((at, type(exc).__name__))
            await asyncio.sleep(0.05)

    async def visitor(client: Client) -> None:
        while time.monotonic() - started < REDIS_TOTAL:
            at = time.monotonic() - started
            try:
                response = await client.get("/session")
                sessions.append((at, str(response.status_code)))
            except Exception as exc:
                sessions.append((at, type(exc).__name__))
            await asyncio.sleep(0.05)

    async def fault() -> None:
        await asyncio.sleep(FAULT_START)
        await proxy.down()
        await asyncio.sleep(FAULT_END - FAULT_START)
        await proxy.up()

    try:
        async with Client(base_url=base, timeout=10) as client:
            subs = [asyncio.create_task(subscriber(i)) for i in range(3)]
            await asyncio.sleep(0.5)  # subscribed before the first publish
            await asyncio.gather(publisher(client), visitor(client), fault())
            await asyncio.sleep(1)
            for task in subs:
                task.cancel()
            await asyncio.gather(*subs, return_exceptions=True)
    finally:
        await server.stop()
        await proxy.down()
    pub = Counter(s for _, s in publishes)
    ses = Counter(s for _, s in sessions)
    outcome.notes.append(f"publishes {dict(pub)}, sessions {dict(ses)}")
    outcome.notes.append(f"received per subscriber {[len(r) for r in received]}")
    if set(pub) - {"200", "503"} or set(ses) - {"200", "503"}:
        outcome.problems.append("answers other than 200/503")
    if not pub["503"]:
        outcome.problems.append("no publish was refused while Redis was down")
    for label, series in (("publish", publishes), ("session", sessions)):
        tail = [s for at, s in series if at >= REDIS_TOTAL - 3]
        if not tail or any(s != "200" for s in tail):
            outcome.problems.append(f"{label} not recovered in the last 3 s: {Counter(tail)}")
    if ended:
        outcome.problems.append("; ".join(ended))
    late = [
        n for at, n in ((at, i + 1) for i, (at, s) in enumerate(publishes)) if at >= REDIS_TOTAL - 3
    ]
    for index, got in enumerate(received):
        if late and not set(late) & set(got):
            outcome.problems.append(f"subscriber {index} got nothing after Redis came back")
    return outcome


SCENARIOS = {
    "postgres-kill": database_scenario,
    "postgres-restart": database_scenario,
    "mariadb-kill": database_scenario,
    "mariadb-restart": database_scenario,
    "redis-restart": redis_scenario,
}


async def run(names: list[str]) -> list[Outcome]:
    outcomes = []
    for name in names:
        outcome = await asyncio.wait_for(SCENARIOS[name](name), REDIS_TOTAL + 60)
        print(outcome, flush=True)
        outcomes.append(outcome)
    return outcomes


def main(argv: list[str]) -> int:
    names = argv or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {unknown}; one of {list(SCENARIOS)}", file=sys.stderr)
        return 2
    outcomes = asyncio.run(run(names))
    passed = sum(o.passed for o in outcomes)
    verdict = "PASS" if passed == len(outcomes) else "FAIL"
    print(f"{passed}/{len(outcomes)} scenarios passed -> {verdict}")
    return 0 if passed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
