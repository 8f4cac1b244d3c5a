"""Password hashing: Django's formats verified, upgrades detected, hostile hashes and
passwords refused, comparisons constant-time, work off the event loop."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import threading
import time

import argon2
import pytest

from vivace.auth import MAX_PASSWORD_LENGTH, Argon2Hasher, Passwords, PBKDF2Hasher, _hashers

from .conftest import fast_passwords


def django_pbkdf2(password: str, salt: str, iterations: int) -> str:
    """Django's PBKDF2PasswordHasher.encode, from its documented algorithm."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def django_argon2(password: str, salt: bytes, t: int = 2, m: int = 1024, p: int = 2) -> str:
    """Django's Argon2PasswordHasher.encode: "argon2" + argon2-cffi's encoded hash."""
    data = argon2.low_level.hash_secret(
        password.encode(),
        salt,
        time_cost=t,
        memory_cost=m,
        parallelism=p,
        hash_len=32,
        type=argon2.low_level.Type.ID,
    )
    return "argon2" + data.decode("ascii")


def test_a_django_pbkdf2_hash_verifies() -> None:
    encoded = django_pbkdf2("hunter2 ünïcode", "pFvWzCKXYDUR3cXZfCkZYn", 1000)
    hasher = PBKDF2Hasher(iterations=1000)
    assert hasher.verify("hunter2 ünïcode", encoded)
    assert not hasher.verify("hunter2 unicode", encoded)
    assert not hasher.must_update(encoded)
    assert PBKDF2Hasher(iterations=1001).must_update(encoded)
    # Ours is Django's format, byte for byte, given the same salt.
    assert hasher.encode("hunter2 ünïcode", salt="pFvWzCKXYDUR3cXZfCkZYn") == encoded


def test_a_django_argon2_hash_verifies_and_weaker_parameters_need_an_update() -> None:
    encoded = django_argon2("s3cret", b"0123456789abcdef")
    assert encoded.startswith("argon2$argon2id$v=19$m=1024,t=2,p=2$")
    same = Argon2Hasher(time_cost=2, memory_cost=1024, parallelism=2)
    assert same.verify("s3cret", encoded) and not same.verify("S3cret", encoded)
    assert not same.must_update(encoded)
    assert Argon2Hasher(time_cost=3, memory_cost=1024, parallelism=2).must_update(encoded)
    assert Argon2Hasher().must_update(encoded)  # OWASP's profile is stronger


def test_new_hashes_carry_a_fresh_salt() -> None:
    hasher = PBKDF2Hasher(iterations=1000)
    first, second = hasher.encode("x"), hasher.encode("x")
    assert first != second
    salt = first.split("$")[2]
    assert len(salt) == 22 and salt.isalnum()
    with pytest.raises(ValueError, match="salt"):
        hasher.encode("x", salt="a$b")


@pytest.mark.parametrize("iterations", [0, -1, True, 1.5])
def test_pbkdf2_iterations_are_checked(iterations: object) -> None:
    with pytest.raises(ValueError, match="iterations"):
        PBKDF2Hasher(iterations=iterations)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "pbkdf2_sha256",
        "pbkdf2_sha256$abc$salt$hash",
        "pbkdf2_sha256$1000$salt",
        "pbkdf2_sha256$1000$salt$hash$extra",
        "pbkdf2_sha256$-5$salt$hash",
        "pbkdf2_sha256$٣$salt$hash",  # a non-ASCII digit
        "pbkdf2_sha256$999999999999$salt$hash",  # would pin a CPU for hours
        "argon2$argon2id$garbage",
        "argon2$argon2id$v=19$m=1024,t=2,p=2$!!!$!!!",
        "argon2",
        "md5$salt$hash",
        "!unusable",
        "x" * 100_000,
    ],
)
def test_malformed_or_unknown_hashes_never_verify(encoded: str) -> None:
    passwords = fast_passwords()
    started = time.perf_counter()
    assert passwords.verify_sync("password", encoded) == (False, False)
    assert time.perf_counter() - started < 5
    assert not PBKDF2Hasher(iterations=1000).verify("password", encoded)
    assert not Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1).verify(
        "password", encoded
    )


def test_must_update_on_unparseable_hashes() -> None:
    assert PBKDF2Hasher().must_update("pbkdf2_sha256$x$y$z")
    assert Argon2Hasher().must_update("argon2$argon2id$garbage")


def test_verify_says_when_the_algorithm_or_parameters_are_outdated() -> None:
    passwords = fast_passwords()
    pbkdf2 = django_pbkdf2("pw", "abcdefghijklmnopqrstuv", 1000)
    assert passwords.verify_sync("pw", pbkdf2) == (True, True)  # not the first hasher
    current = passwords.hash_sync("pw")
    assert current.startswith("argon2$argon2id$")
    assert passwords.verify_sync("pw", current) == (True, False)
    stronger = Passwords([Argon2Hasher(time_cost=2, memory_cost=1024, parallelism=1)])
    assert stronger.verify_sync("pw", current) == (True, True)  # t=1 < t=2
    assert Passwords([PBKDF2Hasher()]).verify_sync("pw", current) == (False, False)  # unknown


def test_an_unknown_account_costs_a_hash_too(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    hasher = PBKDF2Hasher(iterations=1000)
    real = hasher.encode
    monkeypatch.setattr(hasher, "encode", lambda pw: calls.append(pw) or real(pw))
    passwords = Passwords([hasher])
    assert passwords.verify_sync("guess", None) == (False, False)
    assert passwords.verify_sync("guess", "!unusable") == (False, False)
    assert calls == ["guess", "guess"]


def test_huge_and_non_string_passwords() -> None:
    passwords = fast_passwords()
    huge = "a" * (MAX_PASSWORD_LENGTH + 1)
    with pytest.raises(ValueError, match="at most"):
        passwords.hash_sync(huge)
    with pytest.raises(TypeError, match="str"):
        passwords.hash_sync(b"bytes")  # type: ignore[arg-type]
    encoded = passwords.hash_sync("a" * MAX_PASSWORD_LENGTH)
    assert passwords.verify_sync(huge, encoded) == (False, False)
    assert passwords.verify_sync("a" * MAX_PASSWORD_LENGTH, encoded) == (True, False)


def test_passwords_needs_a_hasher() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Passwords([])
    passwords = Passwords()
    assert [h.algorithm for h in passwords.hashers] == ["argon2", "pbkdf2_sha256"]
    assert passwords.identify("pbkdf2_sha256$1$a$b") is passwords.hashers[1]
    assert passwords.identify("bcrypt$x") is None
    passwords.close()


def test_comparisons_are_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = _hashers.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(_hashers.hmac, "compare_digest", spy)
    hasher = PBKDF2Hasher(iterations=1000)
    encoded = hasher.encode("pw")
    assert hasher.verify("pw", encoded) and not hasher.verify("no", encoded)
    assert len(compared) == 2 and compared[0][1] == encoded.split("$")[3].encode()


async def test_hashing_runs_on_the_password_pool_not_the_loop() -> None:
    threads: list[str] = []

    class Slow(PBKDF2Hasher):
        def encode(self, password: str, salt: str | None = None) -> str:
            threads.append(threading.current_thread().name)
            return super().encode(password, salt)

    passwords = Passwords([Slow(iterations=400_000)])
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(ticker())
    try:
        started = time.perf_counter()
        encoded = await asyncio.wait_for(passwords.hash("pw"), 30)
        elapsed = time.perf_counter() - started
        assert await asyncio.wait_for(passwords.verify("pw", encoded), 30) == (True, False)
    finally:
        stop.set()
        await task
        passwords.close()
    assert threads and all(name.startswith("vivace-passwords") for name in threads)
    # The loop kept running while the hash was computed: at least one tick per 10 ms.
    assert ticks >= max(3, int(elapsed / 0.01))


@pytest.mark.parametrize("nice", [10, 0])
async def test_the_hashing_threads_run_below_the_loop(nice: int) -> None:
    seen: list[int] = []

    class Recording(PBKDF2Hasher):
        def encode(self, password: str, salt: str | None = None) -> str:
            seen.append(os.getpriority(os.PRIO_PROCESS, 0))  # this thread's, on Linux
            return super().encode(password, salt)

    loop_priority = os.getpriority(os.PRIO_PROCESS, 0)
    passwords = Passwords([Recording(iterations=1000)], nice=nice)
    try:
        await asyncio.wait_for(passwords.hash("pw"), 30)
    finally:
        passwords.close()
    assert seen == [min(19, loop_priority + nice)]
    assert os.getpriority(os.PRIO_PROCESS, 0) == loop_priority  # the loop's is untouched


@pytest.mark.parametrize("nice", [-1, 20, True, 2.5])
def test_nice_is_checked(nice: object) -> None:
    with pytest.raises(ValueError, match="nice"):
        Passwords([PBKDF2Hasher()], nice=nice)  # type: ignore[arg-type]
