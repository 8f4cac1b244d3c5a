"""Middleware for vivace.web: pure ASGI apps that wrap an app.

Write one as a class taking the app and calling it (see docs/web.md, "Writing
middleware")::

    class TimingMiddleware:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            ...
            await self.app(scope, receive, send)
"""

from vivace.web.middleware._auth import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    AuthenticationMiddleware,
    SimpleUser,
    UnauthenticatedUser,
    requires,
)
from vivace.web.middleware._base import Middleware
from vivace.web.middleware._compression import CompressionMiddleware, GZipMiddleware
from vivace.web.middleware._cors import CORSMiddleware
from vivace.web.middleware._errors import ServerErrorMiddleware
from vivace.web.middleware._hosts import HTTPSRedirectMiddleware, TrustedHostMiddleware
from vivace.web.middleware._sessions import SessionMiddleware
from vivace.web.middleware._signed_cookie import SignedCookie
from vivace.web.middleware._signing import BadSignature, SignatureExpired, Signer

__all__ = [
    "AuthCredentials",
    "AuthenticationBackend",
    "AuthenticationError",
    "AuthenticationMiddleware",
    "BadSignature",
    "CORSMiddleware",
    "CompressionMiddleware",
    "GZipMiddleware",
    "HTTPSRedirectMiddleware",
    "Middleware",
    "ServerErrorMiddleware",
    "SessionMiddleware",
    "SignatureExpired",
    "SignedCookie",
    "Signer",
    "SimpleUser",
    "TrustedHostMiddleware",
    "UnauthenticatedUser",
    "requires",
]
