"""Whole responses in a cache: ``CacheMiddleware`` (an app or a route) and ``cache_page``
(a handler), sharing one set of rules, ``ResponseCache``.

What is cached (a shared cache's rules, RFC 9111 section 3, made stricter):

- GET requests (HEAD is answered from the GET entry, never stored); not a request
  carrying ``Authorization`` (section 3.5) nor one whose ``scope["user"]`` is
  authenticated, unless ``cache_authenticated=True``: those skip the cache both ways;
- responses whose status is in ``statuses`` (200), without ``Set-Cookie``, whose
  ``Cache-Control`` has none of ``no-store``, ``no-cache``, ``private`` (section 5.2.2),
  whose ``Vary`` is not ``*``, and whose body is at most ``max_size`` bytes;
- for ``s-maxage`` seconds, else ``max-age`` (section 4.2.1), else ``ttl``; 0: not stored.

Request directives (``Cache-Control: no-cache`` on a reload) are ignored: honouring them
would let any client force a recomputation (a stampede on demand).

Keys: the URL (scheme, host, path, query) and, for each header the response's ``Vary``
names, its value in the request. The ``Vary`` list of a URL is kept beside its entries
(Django's two-step lookup). A request that has a non-empty session varies on ``Cookie``
even when the response does not say so: a session means the page may be personal. Its
cookie is part of the URL's key, fixed when the request arrives (before the handler
fills or empties the session), so its entries and ``Vary`` list are its own. (Adding
``Cookie`` to the URL's shared list on save, as before, let a request with a session
find the anonymous entry stored under a list without it — a logged-in user was served
the anonymous page — and each anonymous save reset the list.)

Stampede protection: concurrent misses of one URL run the app once (``Cache.
single_flight``: one task per process, one process across processes); the others get
the stored entry. When that response turned out not cacheable, the URL is marked
("nocache", ``lock_timeout`` seconds) and later misses run the app at once, in
parallel, instead of queueing for a lock.

A served entry carries ``Age`` (section 5.1), the seconds since it was stored.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import orjson

from vivace.cache._cache import Cache
from vivace.types import ASGIApp, Message, Receive, Scope, Send
from vivace.web import FileResponse, Request, Response, StreamingResponse, to_response

__all__ = ["CacheMiddleware", "ResponseCache", "cache_page"]

_NO_STORE = frozenset(("no-store", "no-cache", "private"))
_NOCACHE = b"nocache"


def _directives(value: str) -> dict[str, str]:
    """``Cache-Control`` as {directive: argument} (RFC 9111 section 5.2, lower-case)."""
    out = {}
    for part in value.split(","):
        name, _, argument = part.strip().partition("=")
        if name:
            out[name.lower()] = argument.strip().strip('"')
    return out


def _seconds(value: str | None) -> float | None:
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    return float(value)


class ResponseCache:
    """The response-caching rules and storage (see the module docstring)."""

    __slots__ = ("cache", "cache_authenticated", "max_size", "statuses", "ttl")

    def __init__(
        self,
        cache: Cache,
        *,
        ttl: float | None = None,
        statuses: Iterable[int] = (200,),
        max_size: int = 1024 * 1024,
        cache_authenticated: bool = False,
    ) -> None:
        self.cache = cache
        self.ttl = cache.default_ttl if ttl is None else ttl
        self.statuses = frozenset(statuses)
        self.max_size = max_size
        self.cache_authenticated = cache_authenticated

    # -- requests -------------------------------------------------------------------------

    def bypass(self, scope: Scope) -> bool:
        """The request neither reads nor fills the cache."""
        if scope["method"] not in ("GET", "HEAD"):
            return True
        if self.cache_authenticated:
            return False
        user = scope.get("user")
        if user is not None and getattr(user, "is_authenticated", False):
            return True
        return any(name == b"authorization" for name, _ in scope["headers"])

    @staticmethod
    def base_key(scope: Scope) -> str:
        host = b""
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
                break
        url = b"%s://%s%s?%s" % (
            scope.get("scheme", "http").encode(),
            host,
            scope.get("raw_path") or scope["path"].encode("utf-8"),
            scope.get("query_string", b""),
        )
        if scope.get("session"):
            # The request's own entries, keyed by its cookie (see the module docstring).
            cookies = [value for name, value in scope["headers"] if name == b"cookie"]
            url += b"\ncookie:" + b"; ".join(cookies)
        return hashlib.sha256(url).hexdigest()

    @staticmethod
    def _entry_key(base: str, scope: Scope, varied: Sequence[str]) -> str:
        if not varied:
            return "page:" + base
        digest = hashlib.sha256(base.encode())
        for name in varied:
            wanted = name.encode("latin-1")
            values = [v for n, v in scope["headers"] if n == wanted]
            digest.update(b"\n" + wanted + b":" + b",".join(values))
        return "page:" + digest.hexdigest()

    async def lookup(self, scope: Scope, base: str) -> Any:
        """The stored entry for the request, ``_NOCACHE`` for a URL marked not cacheable,
        or ``Cache.MISSING``."""
        store = self.cache.store
        # One round trip for a URL without Vary (the common case): its entry's key is
        # known before the Vary list is read.
        index, marker, entry = await store.get_many(
            ["vary:" + base, "nocache:" + base, "page:" + base]
        )
        varied: list[str] = []
        if index is not None:
            try:
                varied = [str(name) for name in orjson.loads(index)]
            except (orjson.JSONDecodeError, TypeError):
                varied = []
        if varied:
            entry = await store.get(self._entry_key(base, scope, varied))
        if entry is not None:
            return entry
        return _NOCACHE if marker is not None else Cache.MISSING

    # -- responses ------------------------------------------------------------------------

    def ttl_for(self, scope: Scope, status: int, headers: Sequence[tuple[bytes, bytes]]) -> float:
        """How long to keep the response; 0 when it must not be stored."""
        if status not in self.statuses or scope["method"] != "GET":
            return 0
        control: dict[str, str] = {}
        for name, value in headers:
            if name == b"set-cookie":
                return 0
            if name == b"cache-control":
                control.update(_directives(value.decode("latin-1")))
            elif name == b"vary" and b"*" in value:
                return 0
        if _NO_STORE.intersection(control):
            return 0
        ttl = _seconds(control.get("s-maxage"))
        if ttl is None:
            ttl = _seconds(control.get("max-age"))
        if ttl is None:
            ttl = self.ttl
        return ttl or 0

    async def save(
        self,
        scope: Scope,
        base: str,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        ttl: float,
    ) -> bytes:
        """Store the response (and its URL's ``Vary`` list); returns the entry."""
        varied: list[str] = []
        for name, value in headers:
            if name == b"vary":
                for item in value.decode("latin-1").split(","):
                    item = item.strip().lower()
                    if item and item not in varied:
                        varied.append(item)
        varied.sort()
        head = orjson.dumps(
            {
                "s": status,
                "h": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in headers],
                "t": time.time(),
            }
        )
        entry = head + b"\n" + body
        store = self.cache.store
        await store.set("vary:" + base, orjson.dumps(varied), ttl=ttl)
        await store.set(self._entry_key(base, scope, varied), entry, ttl=ttl)
        return entry

    async def mark_uncacheable(self, base: str) -> None:
        await self.cache.store.set("nocache:" + base, b"1", ttl=self.cache.lock_timeout)

    @staticmethod
    def unpack(entry: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, headers with ``Age``, body) of a stored entry."""
        head, _, body = entry.partition(b"\n")
        meta = orjson.loads(head)
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in meta["h"]]
        age = max(0, int(time.time() - meta["t"]))
        headers.append((b"age", b"%d" % age))
        return int(meta["s"]), headers, body


class CacheMiddleware:
    """Cache whole responses of an app, or of one route (``Route(..., middleware=[...])``).

    >>> from vivace.stores import MemoryStore
    >>> from vivace.web import App, Middleware
    >>> cache = Cache(MemoryStore(), default_ttl=60)
    >>> app = App(middleware=[Middleware(CacheMiddleware, cache=cache)])

    Options are ``ResponseCache``'s (``ttl``, ``statuses``, ``max_size``,
    ``cache_authenticated``). Put it inside the session and authentication middleware,
    so it sees who the request is from.
    """

    def __init__(self, app: ASGIApp, cache: Cache, **options: Any) -> None:
        self.app = app
        self.rules = ResponseCache(cache, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rules = self.rules
        if scope["type"] != "http" or rules.bypass(scope):
            await self.app(scope, receive, send)
            return
        base = rules.base_key(scope)
        found = await rules.lookup(scope, base)
        if isinstance(found, bytes) and found != _NOCACHE:
            await _serve(found, scope, send)
            return
        if found == _NOCACHE or scope["method"] != "GET":
            await self._run(scope, receive, send, base)
            return
        served = False

        async def lookup() -> Any:
            return await rules.lookup(scope, base)

        async def compute() -> bytes:
            nonlocal served
            served = True
            return await self._run(scope, receive, send, base)

        result = await rules.cache.single_flight("flight:" + base, lookup, compute)
        if served:
            return
        if result != _NOCACHE:
            await _serve(result, scope, send)
            return
        await self._run(scope, receive, send, base)

    async def _run(self, scope: Scope, receive: Receive, send: Send, base: str) -> bytes:
        """Run the app for this client, storing its response when cacheable; returns the
        entry, or ``_NOCACHE`` (and marks the URL) when it was not."""
        rules = self.rules
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        ttl = 0.0
        chunks: list[bytes] = []
        size = 0
        entry = _NOCACHE

        async def capture(message: Message) -> None:
            nonlocal status, headers, ttl, size, entry
            kind = message["type"]
            if kind == "http.response.start":
                # A copy: middleware outside this one add their headers (a session's
                # Set-Cookie) to this very message, and those must never be stored.
                status = message["status"]
                headers = list(message.get("headers") or [])
                ttl = rules.ttl_for(scope, status, headers)
            elif kind == "http.response.body" and ttl > 0:
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > rules.max_size:
                    ttl = 0
                    chunks.clear()
                else:
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        body = b"".join(chunks)
                        entry = await rules.save(scope, base, status, headers, body, ttl)
            await send(message)

        await self.app(scope, receive, capture)
        if entry == _NOCACHE and scope["method"] == "GET":
            await rules.mark_uncacheable(base)
        return entry


async def _serve(entry: bytes, scope: Scope, send: Send) -> None:
    status, headers, body = ResponseCache.unpack(entry)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def cache_page(
    cache: Cache, ttl: float | None = None, **options: Any
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Cache what an async handler returns (the same rules as ``CacheMiddleware``).

    >>> from vivace.stores import MemoryStore
    >>> cache = Cache(MemoryStore())
    >>> @cache_page(cache, ttl=60)
    ... async def catalogue(request):
    ...     return {"items": [1, 2, 3]}

    Only what the handler itself returns is seen: cookies and headers added by
    middleware outside are not part of the entry (they are added to each answer).
    Streaming and file responses are passed through, never stored.
    """
    rules = ResponseCache(cache, ttl=ttl, **options)

    def decorate(handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError("cache_page caches async handlers")

        @functools.wraps(handler)
        async def cached(request: Request) -> Any:
            scope = request.scope
            if rules.bypass(scope):
                return await handler(request)
            base = rules.base_key(scope)
            found = await rules.lookup(scope, base)
            if isinstance(found, bytes) and found != _NOCACHE:
                return _replay(found, scope)
            fresh: list[Response] = []

            async def compute() -> bytes:
                response = to_response(await handler(request))
                fresh.append(response)
                if isinstance(response, StreamingResponse | FileResponse):
                    await rules.mark_uncacheable(base)
                    return _NOCACHE
                ttl = rules.ttl_for(scope, response.status_code, response.raw_headers)
                if ttl <= 0 or len(response.body) > rules.max_size:
                    await rules.mark_uncacheable(base)
                    return _NOCACHE
                return await rules.save(
                    scope, base, response.status_code, response.raw_headers, response.body, ttl
                )

            if found == _NOCACHE or scope["method"] != "GET":
                return to_response(await handler(request))

            async def lookup() -> Any:
                return await rules.lookup(scope, base)

            result = await cache.single_flight("flight:" + base, lookup, compute)
            if fresh:
                return fresh[0]
            if result != _NOCACHE:
                return _replay(result, scope)
            return to_response(await handler(request))

        return cached

    return decorate


def _replay(entry: bytes, scope: Scope) -> Response:
    status, headers, body = ResponseCache.unpack(entry)
    response = Response(b"" if scope["method"] == "HEAD" else body, status)
    response.raw_headers = headers
    return response
