"""Password hashing: argon2id (argon2-cffi) and PBKDF2-SHA256, in Django's formats.

A stored password is ``<algorithm>$<the rest>``, exactly as Django writes it, so a Django
project's user table moves over unchanged and keeps working:

    pbkdf2_sha256$<iterations>$<salt>$<base64 of the derived key>
    argon2$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt b64>$<hash b64>
    !<anything>                              an unusable password (never verifies)

``Passwords`` holds an ordered list of hashers: the first hashes new passwords, every one
verifies. ``verify`` tells whether the stored hash should be replaced (another algorithm
than the first, or weaker parameters than the current ones): ``Auth.authenticate``
re-hashes on a successful login, so a user base upgrades itself one login at a time.

The work runs on a small thread pool of its own (``max_threads``, default 2): argon2-cffi
and ``hashlib.pbkdf2_hmac`` release the GIL, so the event loop keeps serving while a
hash is computed, and a burst of logins queues on the pool instead of taking every
thread of the handlers' pool. On Linux the pool's threads run ``nice`` (default 10)
steps below the loop's thread (the nice value is per thread there): when logins ask for
more CPU than is free, the scheduler serves the event loop first and the logins wait.
Measured (bench/auth.py, 50 logins/s at OWASP's argon2id cost on 2 cores): the other
requests' p99 1.87x the probe alone with nice threads, 3.59x at the loop's priority.
Every comparison is constant-time (``hmac.compare_digest`` here, argon2's own
verification in C).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import string
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

__all__ = [
    "UNUSABLE_PASSWORD_PREFIX",
    "Argon2Hasher",
    "Hasher",
    "PBKDF2Hasher",
    "Passwords",
]

UNUSABLE_PASSWORD_PREFIX = "!"
# Django's salt alphabet and length (django.utils.crypto.get_random_string, 22 chars:
# ~131 bits), so our PBKDF2 hashes look like Django's and Django verifies them too.
_SALT_CHARS = string.ascii_letters + string.digits
# Longer secrets are refused before any hashing: PBKDF2 and argon2 cost grows with the
# input, and a megabyte "password" would be a cheap way to burn CPU (Django caps at 4096).
MAX_PASSWORD_LENGTH = 4096


# OWASP Password Storage Cheat Sheet, argon2id: "m=19456 (19 MiB), t=2, p=1" (the first
# of its equivalent profiles; RFC 9106 section 4 leaves the choice to the deployment).
OWASP_ARGON2ID = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}


def _salt() -> str:
    return "".join(secrets.choice(_SALT_CHARS) for _ in range(22))


class Hasher(Protocol):
    """One algorithm: ``algorithm`` names it (the stored prefix)."""

    algorithm: str

    def encode(self, password: str) -> str: ...

    def verify(self, password: str, encoded: str) -> bool: ...

    def must_update(self, encoded: str) -> bool: ...


class PBKDF2Hasher:
    """PBKDF2-HMAC-SHA256 (RFC 8018), Django's default format.

    >>> hasher = PBKDF2Hasher(iterations=1000)
    >>> encoded = hasher.encode("s3cret")
    >>> encoded.startswith("pbkdf2_sha256$1000$"), hasher.verify("s3cret", encoded)
    (True, True)
    >>> hasher.verify("wrong", encoded), PBKDF2Hasher(iterations=2000).must_update(encoded)
    (False, True)
    """

    algorithm = "pbkdf2_sha256"

    def __init__(self, iterations: int = 1_200_000) -> None:
        # 1,200,000: Django 6.0's figure (OWASP's 2023 advice is 600,000 at least).
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ValueError("iterations must be a positive integer")
        self.iterations = iterations

    def _derive(self, password: str, salt: str, iterations: int) -> str:
        key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
        return base64.b64encode(key).decode("ascii")

    def encode(self, password: str, salt: str | None = None) -> str:
        salt = _salt() if salt is None else salt
        if "$" in salt:
            raise ValueError("a salt cannot contain '$'")
        derived = self._derive(password, salt, self.iterations)
        return f"{self.algorithm}${self.iterations}${salt}${derived}"

    @staticmethod
    def _split(encoded: str) -> tuple[int, str, str] | None:
        parts = encoded.split("$")
        if len(parts) != 4 or not parts[1].isascii() or not parts[1].isdigit():
            return None
        iterations = int(parts[1])
        # A stored iteration count is data: an absurd one must not pin a CPU for hours.
        if not 0 < iterations <= 100_000_000:
            return None
        return iterations, parts[2], parts[3]

    def verify(self, password: str, encoded: str) -> bool:
        split = self._split(encoded)
        if split is None:
            return False
        iterations, salt, expected = split
        derived = self._derive(password, salt, iterations)
        return hmac.compare_digest(derived.encode(), expected.encode())

    def must_update(self, encoded: str) -> bool:
        split = self._split(encoded)
        return split is None or split[0] < self.iterations


class Argon2Hasher:
    """argon2id (RFC 9106) through argon2-cffi, stored in Django's ``argon2$...`` format.

    >>> hasher = Argon2Hasher(time_cost=1, memory_cost=8, parallelism=1)
    >>> encoded = hasher.encode("s3cret")
    >>> encoded.startswith("argon2$argon2id$v=19$m=8,t=1,p=1$"), hasher.verify("s3cret", encoded)
    (True, True)

    The defaults are OWASP's first argon2id profile (Password Storage Cheat Sheet): 19 MiB,
    2 passes, 1 lane. Not argon2-cffi's (RFC 9106's second recommendation: 64 MiB, 3
    passes, 4 lanes): 4 lanes start 4 threads per hash, so on a small server one login
    takes every core from the event loop (measured on 2 cores: ~170 ms of CPU a hash,
    against ~20 ms here). Stored hashes with other parameters keep verifying and are
    re-hashed with these on their user's next login.
    """

    algorithm = "argon2"

    def __init__(
        self,
        *,
        time_cost: int | None = None,
        memory_cost: int | None = None,
        parallelism: int | None = None,
    ) -> None:
        try:
            import argon2
        except ImportError as exc:  # pragma: no cover - the auth extra installs it
            raise ImportError(
                "argon2 password hashing needs argon2-cffi: pip install 'vivace[auth]'"
            ) from exc
        self._argon2 = argon2
        self._hasher = argon2.PasswordHasher(
            time_cost=OWASP_ARGON2ID["time_cost"] if time_cost is None else time_cost,
            memory_cost=OWASP_ARGON2ID["memory_cost"] if memory_cost is None else memory_cost,
            parallelism=OWASP_ARGON2ID["parallelism"] if parallelism is None else parallelism,
            type=argon2.Type.ID,
        )

    def encode(self, password: str) -> str:
        # argon2-cffi writes "$argon2id$v=19$..."; Django prefixes its algorithm name.
        return self.algorithm + self._hasher.hash(password)

    def verify(self, password: str, encoded: str) -> bool:
        if not encoded.startswith("argon2$argon2"):
            return False
        try:
            return bool(self._hasher.verify(encoded[len(self.algorithm) :], password))
        except (
            self._argon2.exceptions.VerificationError,
            self._argon2.exceptions.InvalidHashError,
        ):
            return False

    def must_update(self, encoded: str) -> bool:
        try:
            return bool(self._hasher.check_needs_rehash(encoded[len(self.algorithm) :]))
        except (ValueError, self._argon2.exceptions.InvalidHashError):
            return True


class Passwords:
    """The hashers of an app: the first hashes, all verify; hashing off the event loop.

    >>> import asyncio
    >>> passwords = Passwords([PBKDF2Hasher(iterations=1000)])
    >>> async def main():
    ...     encoded = await passwords.hash("correct horse")
    ...     return await passwords.verify("correct horse", encoded)
    >>> asyncio.run(main())
    (True, False)

    ``verify`` returns ``(matches, must_update)``. Without ``hashers`` the list is
    ``[Argon2Hasher(), PBKDF2Hasher()]`` (argon2 needs ``pip install 'vivace[auth]'``).
    ``max_threads``: hashes at once; ``nice``: how far below the event loop the
    hashing threads run, on Linux (0: the same priority; ignored elsewhere, where the
    nice value is the whole process's).
    """

    def __init__(
        self, hashers: list[Any] | None = None, *, max_threads: int = 2, nice: int = 10
    ) -> None:
        if isinstance(nice, bool) or not isinstance(nice, int) or not 0 <= nice <= 19:
            raise ValueError("nice is an int from 0 (the loop's priority) to 19")
        if hashers is None:
            hashers = [Argon2Hasher(), PBKDF2Hasher()]
        if not hashers:
            raise ValueError("Passwords needs at least one hasher")
        self.hashers: list[Hasher] = list(hashers)
        self._by_name = {h.algorithm: h for h in self.hashers}
        self._pool = ThreadPoolExecutor(
            max_threads,
            thread_name_prefix="vivace-passwords",
            initializer=_lower_priority,
            initargs=(nice,),
        )

    @property
    def default(self) -> Hasher:
        return self.hashers[0]

    def identify(self, encoded: str) -> Hasher | None:
        """The hasher that wrote ``encoded`` (None: unknown algorithm or unusable)."""
        return self._by_name.get(encoded.partition("$")[0])

    def hash_sync(self, password: str) -> str:
        """Hash on the calling thread (scripts, the CLI); use ``hash`` on the event loop."""
        _check_length(password)
        return self.default.encode(password)

    def verify_sync(self, password: str, encoded: str | None) -> tuple[bool, bool]:
        """``(matches, must_update)`` on the calling thread."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return False, False
        hasher = self.identify(encoded) if encoded else None
        if hasher is None:
            # Unknown, empty or unusable: do the work of a real check anyway, so the time
            # taken does not tell an attacker which accounts exist (Django does the same).
            self.default.encode(password)
            return False, False
        assert encoded is not None
        if not hasher.verify(password, encoded):
            return False, False
        return True, hasher is not self.default or hasher.must_update(encoded)

    async def hash(self, password: str) -> str:
        """Hash with the first hasher, on the password pool."""
        _check_length(password)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.default.encode, password)

    async def verify(self, password: str, encoded: str | None) -> tuple[bool, bool]:
        """``(matches, must_update)``, on the password pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.verify_sync, password, encoded)

    def close(self) -> None:
        """Stop the pool's threads (they also stop when the process exits)."""
        self._pool.shutdown(wait=True)


def _lower_priority(nice: int) -> None:
    """Run in each hashing thread as it starts: lower its own priority by ``nice``."""
    # Linux keeps a nice value per thread and PRIO_PROCESS with who=0 names the calling
    # thread; elsewhere it is the process's, and lowering it would slow the event loop.
    if nice and sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, 0, min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))


def _check_length(password: str) -> None:
    if not isinstance(password, str):
        raise TypeError(f"a password is a str, not {type(password).__name__}")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password is at most {MAX_PASSWORD_LENGTH} characters")


def unusable_password() -> str:
    """A stored value no password matches (a user who logs in some other way)."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)
