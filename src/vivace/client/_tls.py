"""TLS configuration: ``ssl.SSLContext`` objects built once and cached.

Building a context (and loading the system CA bundle into it) costs milliseconds, so the
client builds one per distinct configuration and reuses it for every connection.

- ``verify=True``: verify against the system CA bundle (``ssl.create_default_context``,
  which reads OpenSSL's default locations and honours ``SSL_CERT_FILE``/``SSL_CERT_DIR``);
- ``verify="/path/ca.pem"`` (a file or directory): verify against those CAs only;
- ``verify=False``: no verification (for tests against self-signed servers, never for
  production);
- ``verify=ssl.SSLContext(...)``: used as it is.

``cert`` is a client certificate: a path to a PEM holding cert and key, or a tuple
``(certfile, keyfile)`` or ``(certfile, keyfile, password)``. TLS 1.2 is the minimum and
ALPN offers ``http/1.1``.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import Any

__all__ = ["CertTypes", "VerifyTypes", "ssl_context"]

VerifyTypes = bool | str | os.PathLike[str] | ssl.SSLContext
CertTypes = str | tuple[str, str] | tuple[str, str, str] | None


def ssl_context(
    verify: VerifyTypes = True, cert: CertTypes = None, http2: bool = False
) -> ssl.SSLContext:
    """The (cached) context for ``verify`` and ``cert``; ALPN offers ``h2`` too with
    ``http2`` (RFC 9113 section 3.2).

    >>> ssl_context() is ssl_context()
    True
    >>> ssl_context(False).verify_mode == ssl.CERT_NONE
    True
    """
    if isinstance(verify, ssl.SSLContext):
        if cert is not None:
            _load_cert(verify, cert)
        if http2:
            verify.set_alpn_protocols(["h2", "http/1.1"])
        return verify
    if isinstance(verify, os.PathLike):
        verify = os.fspath(verify)
    return _cached_context(verify, cert, http2)


def _load_cert(context: ssl.SSLContext, cert: Any) -> None:
    if isinstance(cert, str):
        context.load_cert_chain(cert)
    else:
        context.load_cert_chain(*cert)


@functools.lru_cache(maxsize=32)
def _cached_context(verify: bool | str, cert: CertTypes, http2: bool) -> ssl.SSLContext:
    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif verify is True:
        context = ssl.create_default_context()
    elif os.path.isdir(verify):
        context = ssl.create_default_context(capath=verify)
    else:
        context = ssl.create_default_context(cafile=verify)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
    if cert is not None:
        _load_cert(context, cert)
    return context
