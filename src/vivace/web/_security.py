"""Security dependencies: read a credential from the request, and describe the scheme
for OpenAPI.

Each class here is a dependency (``Depends(api_key)``) that returns the credential the
request carries, or answers 401 (403 for a missing API key, as the credential is not an
HTTP authentication scheme) when there is none and ``auto_error`` is true (with
``auto_error=False`` it returns ``None`` and the handler decides). Checking the
credential (a user lookup, a token's signature) is the application's or the auth helper's
job: these only read it.

The OpenAPI side is an interface any callable can offer: ``__openapi_security__``, a list
of ``(scheme_name, scheme_dict, scopes)``. The generator puts ``scheme_dict`` under
``components.securitySchemes`` and ``{scheme_name: scopes}`` in the operation's
``security``.

>>> from typing import Annotated
>>> from vivace.web import Depends, HTTPBearer
>>> bearer = HTTPBearer()
>>> async def me(token: Annotated[str, Depends(bearer)]) -> dict[str, str]: ...
>>> bearer.__openapi_security__
[('HTTPBearer', {'type': 'http', 'scheme': 'bearer'}, [])]
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal

from vivace.web._exceptions import HTTPException
from vivace.web._request import Request

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "OAuth2",
    "OAuth2PasswordBearer",
    "OpenIdConnect",
    "SecurityScheme",
]


class SecurityScheme:
    """Base of the security dependencies: a scheme name and its OpenAPI description."""

    scheme: dict[str, Any]

    def __init__(
        self,
        scheme: dict[str, Any],
        *,
        scheme_name: str | None,
        description: str | None,
        scopes: list[str] | None = None,
        auto_error: bool = True,
    ) -> None:
        if description is not None:
            scheme = {**scheme, "description": description}
        self.scheme = scheme
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error
        self.__openapi_security__ = [(self.scheme_name, scheme, list(scopes or []))]

    def _refuse(self, status: int = 401, challenge: str | None = None) -> None:
        if self.auto_error:
            headers = {"www-authenticate": challenge} if challenge else None
            raise HTTPException(status, "Not authenticated", headers=headers)


class _APIKey(SecurityScheme):
    where: Literal["header", "query", "cookie"]

    def __init__(
        self,
        name: str,
        *,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            {"type": "apiKey", "in": self.where, "name": name},
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )
        self.name = name

    async def __call__(self, request: Request) -> str | None:
        if self.where == "header":
            value = request.headers.get(self.name)
        elif self.where == "query":
            value = request.query_params.get(self.name)
        else:
            value = request.cookies.get(self.name)
        if not value:
            self._refuse(403)
            return None
        return value


class APIKeyHeader(_APIKey):
    """An API key in a header: ``APIKeyHeader("x-api-key")``."""

    where = "header"


class APIKeyQuery(_APIKey):
    """An API key in the query string: ``APIKeyQuery("api_key")``."""

    where = "query"


class APIKeyCookie(_APIKey):
    """An API key in a cookie: ``APIKeyCookie("session")``."""

    where = "cookie"


def _authorization(request: Request, scheme: str) -> str | None:
    """The credentials of an ``Authorization: <scheme> <credentials>`` header."""
    value = request.headers.get("authorization")
    if not value:
        return None
    given, _, credentials = value.partition(" ")
    if given.lower() != scheme or not credentials.strip():
        return None
    return credentials.strip()


class _Bearer(SecurityScheme):
    """Schemes whose credential is a bearer token (RFC 6750 section 2.1)."""

    async def __call__(self, request: Request) -> str | None:
        token = _authorization(request, "bearer")
        if token is None:
            self._refuse(401, "Bearer")
        return token


class HTTPBearer(_Bearer):
    """A bearer token (RFC 6750): returns the token of ``Authorization: Bearer <token>``."""

    def __init__(
        self,
        *,
        bearer_format: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        scheme: dict[str, Any] = {"type": "http", "scheme": "bearer"}
        if bearer_format is not None:
            scheme["bearerFormat"] = bearer_format
        super().__init__(
            scheme, scheme_name=scheme_name, description=description, auto_error=auto_error
        )


@dataclass(frozen=True)
class HTTPBasicCredentials:
    """What ``HTTPBasic`` returns. Compare the password in constant time
    (``hmac.compare_digest``) or with a password hasher."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"HTTPBasicCredentials(username={self.username!r}, password='**********')"


class HTTPBasic(SecurityScheme):
    """HTTP Basic authentication (RFC 7617): returns ``HTTPBasicCredentials``."""

    def __init__(
        self,
        *,
        realm: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            {"type": "http", "scheme": "basic"},
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )
        self.challenge = f'Basic realm="{realm}"' if realm else "Basic"

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:
        encoded = _authorization(request, "basic")
        if encoded is not None:
            try:
                decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            username, colon, password = decoded.partition(":")
            if colon:
                return HTTPBasicCredentials(username, password)
        self._refuse(401, self.challenge)
        return None


class OAuth2(_Bearer):
    """OAuth 2.0 with the given ``flows`` (the OpenAPI Flows Object); returns the
    bearer token the client obtained. ``scopes``: the ones this dependency requires."""

    def __init__(
        self,
        flows: dict[str, Any],
        *,
        scopes: list[str] | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            {"type": "oauth2", "flows": flows},
            scheme_name=scheme_name,
            description=description,
            scopes=scopes,
            auto_error=auto_error,
        )


class OAuth2PasswordBearer(OAuth2):
    """OAuth 2.0 password flow: clients get a token at ``token_url``."""

    def __init__(
        self,
        token_url: str,
        *,
        scopes: dict[str, str] | None = None,
        required_scopes: list[str] | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            {"password": {"tokenUrl": token_url, "scopes": dict(scopes or {})}},
            scopes=required_scopes,
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )


class OpenIdConnect(_Bearer):
    """OpenID Connect discovery at ``openid_connect_url``; returns the bearer token."""

    def __init__(
        self,
        openid_connect_url: str,
        *,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(
            {"type": "openIdConnect", "openIdConnectUrl": openid_connect_url},
            scheme_name=scheme_name,
            description=description,
            auto_error=auto_error,
        )
