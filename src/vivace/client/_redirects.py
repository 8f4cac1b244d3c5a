"""Following redirects: the request a 3xx response asks for (RFC 9110 section 15.4).

- ``303 See Other`` becomes ``GET`` (a ``HEAD`` stays ``HEAD``); ``301`` and ``302`` turn a
  ``POST`` into a ``GET``, as every browser does (RFC 9110 sections 15.4.2 and 15.4.3 note
  it); ``307`` and ``308`` keep the method and the body, which must be replayable.
- A hop to another origin drops ``Authorization`` (an ``http`` -> ``https`` upgrade on the
  same host and default ports keeps it, as httpx does); ``Host`` and ``Cookie`` are rebuilt
  for the new URL; body headers go when the body goes.
- A ``Location`` without a fragment keeps the original one (RFC 9110 section 10.2.2).
"""

from __future__ import annotations

from vivace.client._cookies import Cookies
from vivace.client._exceptions import LocalProtocolError, RemoteProtocolError
from vivace.client._models import Request, Response, host_header
from vivace.client._multipart import MultipartStream
from vivace.client._streams import ByteStream
from vivace.http import URL, InvalidURL, check_header_value

__all__ = ["build_redirect"]

_BODY_HEADERS = (b"content-length", b"content-type", b"transfer-encoding", b"content-encoding")


def _same_origin(a: URL, b: URL) -> bool:
    return a.origin == b.origin


def _is_https_upgrade(old: URL, new: URL) -> bool:
    return (
        old.scheme == "http"
        and new.scheme == "https"
        and old.hostname == new.hostname
        and old.port in (None, 80)
        and new.port in (None, 443)
    )


def build_redirect(request: Request, response: Response, cookies: Cookies) -> Request:
    """The request that ``response`` (a redirect) asks for after ``request``."""
    location = response.headers["location"]
    try:
        url = request.url.join(location)
        if not url.fragment and request.url.fragment:
            # RFC 9110 section 10.2.2: a Location without a fragment keeps ours.
            url = url.replace(fragment=request.url.fragment)
        url.port  # noqa: B018 - validates the port now
    except (InvalidURL, ValueError) as exc:
        raise RemoteProtocolError(
            f"invalid Location header {location!r}: {exc}", request=request
        ) from None
    method = request.method
    status = response.status_code
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        # 303 always means GET; 301/302 turn POST into GET as every browser does
        # (RFC 9110 sections 15.4.2 and 15.4.3 note it).
        method = "GET"
    headers = request.headers.mutablecopy()
    raw = headers.raw
    raw[:] = [(n, v) for n, v in raw if n not in (b"host", b"cookie")]
    raw.insert(0, (b"host", host_header(url)))
    if not _same_origin(request.url, url) and not _is_https_upgrade(request.url, url):
        # Never send credentials to another origin.
        raw[:] = [(n, v) for n, v in raw if n != b"authorization"]
    stream = request.stream
    if method != request.method:
        raw[:] = [(n, v) for n, v in raw if n not in _BODY_HEADERS]
        stream = None
    elif stream is not None and not isinstance(stream, ByteStream | MultipartStream):
        raise LocalProtocolError(
            f"cannot follow a {status} redirect: the request body was a stream and has "
            "been sent; use bytes or read it first (await request.aread())",
            request=request,
        )
    cookie = cookies.header_for(url)
    if cookie is not None:
        raw.append((b"cookie", check_header_value(cookie.encode("utf-8"), b"cookie")))
    return Request._new(method, url, headers, stream, dict(request.extensions))
