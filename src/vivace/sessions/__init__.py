"""vivace.sessions: server-side sessions on a ``vivace.stores`` store.

The session id travels in a signed, HttpOnly, SameSite cookie; the data stays on the
server (memory, Redis or a database), shared by every process and host that shares the
store. Beside it, ``vivace.web.middleware.SessionMiddleware`` keeps small sessions in
the cookie itself.

>>> from vivace.stores import MemoryStore
>>> from vivace.web import App, Middleware
>>> app = App(middleware=[
...     Middleware(StoreSessionMiddleware, store=MemoryStore(), secret_key="change-me")])

Layer: above ``vivace.web`` and ``vivace.stores`` (see docs/batteries.md).
"""

from vivace.sessions._middleware import StoreSessionMiddleware
from vivace.sessions._session import Session

__all__ = ["Session", "StoreSessionMiddleware"]
