"""``Session``: the dict a handler sees as ``request.session``, with its id's life cycle.

It is a ``dict`` (JSON-serialisable values), so code written for the signed-cookie
``SessionMiddleware`` runs unchanged; on top of it:

- ``rotate()``: the data moves to a new id when the response starts and the old id is
  deleted from the store. Call it when the user's privilege changes (login, logout,
  sudo): an id an attacker planted or saw before the login is worthless after it
  (session fixation, OWASP ASVS V3.2.1).
- ``flush()``: the data and the id are gone (logout); what is set afterwards starts a
  new session under a new id.
- ``id``: the current id (None until the session is first saved).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Session"]


class Session(dict[str, Any]):
    """A server-side session (see the module docstring).

    >>> session = Session({"user": 7}, session_id="abc")
    >>> session.rotate()
    >>> session.id, session["user"], session.rotated
    ('abc', 7, True)
    >>> session.flush()
    >>> session, session.flushed
    (Session({}), True)
    """

    __slots__ = ("_flushed", "_id", "_rotated")

    def __init__(self, data: dict[str, Any] | None = None, *, session_id: str | None = None):
        super().__init__(data or {})
        self._id = session_id
        self._rotated = False
        self._flushed = False

    @property
    def id(self) -> str | None:
        """The id the session was loaded under (None for a new session)."""
        return self._id

    @property
    def rotated(self) -> bool:
        return self._rotated

    @property
    def flushed(self) -> bool:
        return self._flushed

    def rotate(self) -> None:
        """Give the session a new id when the response starts (the data stays)."""
        self._rotated = True

    def flush(self) -> None:
        """Delete the data and the id (logout)."""
        self.clear()
        self._flushed = True

    def __repr__(self) -> str:
        # The id is a credential: never in reprs, logs or tracebacks.
        return f"Session({dict.__repr__(self)})"
