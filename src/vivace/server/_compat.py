"""The private parts of asyncio that vivace.server relies on, in one place.

- ``asyncio.tasks._enter_task`` / ``_leave_task``: the server runs an app coroutine's
  first step synchronously, inside the connection's host Task, so that a small response
  costs no Task and no event-loop iteration (theory of operation in ``_driver.py``). These
  two functions make ``asyncio.current_task()`` return the host Task meanwhile, which
  ``asyncio.timeout``, anyio and asgiref need. The public alternative is an eager task
  per request (``asyncio.eager_task_factory``, Python 3.12+): it does not exist on the
  Python 3.11 this project is measured on, and it would still create a Task object (and
  its context switch bookkeeping) per request, which the host-Task scheme avoids.
- ``transport._sendfile_compatible`` and ``asyncio.constants._SendfileMode.TRY_NATIVE``:
  whether ``loop.sendfile`` on this transport can use sendfile(2). The public
  ``loop.sendfile`` has its own fallback, but it falls back by reading the whole range
  in 256 KiB chunks without the server's flow control; the server keeps its own
  chunked loop for TLS, uvloop and other transports and asks this question first.

tests/server/test_compat.py checks each of these against the running Python and fails,
naming the attribute, when a release changes one.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["enter_task", "leave_task", "native_sendfile"]

enter_task = asyncio.tasks._enter_task
leave_task = asyncio.tasks._leave_task

_SENDFILE_MODE = getattr(getattr(asyncio, "constants", None), "_SendfileMode", None)
_TRY_NATIVE = getattr(_SENDFILE_MODE, "TRY_NATIVE", None)


def native_sendfile(transport: Any) -> bool:
    """Whether ``loop.sendfile`` on ``transport`` uses the operating system's sendfile:
    asyncio's own plain-socket transports can; TLS transports and uvloop's cannot."""
    return (
        _TRY_NATIVE is not None
        and getattr(transport, "_sendfile_compatible", None) is _TRY_NATIVE
        and transport.get_extra_info("sslcontext") is None
    )
