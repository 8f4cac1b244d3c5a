"""``MockTransport``: answer requests with a function of yours, for tests.

The handler takes the ``Request`` and returns a ``Response`` (or an awaitable of one)::

    def handler(request):
        if request.url.path == "/users/1":
            return Response(200, json={"id": 1})
        return Response(404)

    client = Client(transport=MockTransport(handler), base_url="https://api.test")
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from vivace.client._models import Request, Response
from vivace.client._transport import AsyncBaseTransport

__all__ = ["MockTransport"]

Handler = Callable[[Request], Response | Awaitable[Response]]


class MockTransport(AsyncBaseTransport):
    """A transport that calls ``handler(request)`` for every request.

    >>> import asyncio
    >>> from vivace.client import Client
    >>> async def main():
    ...     transport = MockTransport(lambda request: Response(200, text=request.method))
    ...     async with Client(transport=transport) as client:
    ...         return (await client.delete("http://x.test/")).text
    >>> asyncio.run(main())
    'DELETE'
    """

    __slots__ = ("handler",)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def handle_async_request(self, request: Request) -> Response:
        # The handler may look at the body: read a streamed one first.
        await request.aread()
        result = self.handler(request)
        response = await result if inspect.isawaitable(result) else result
        if not isinstance(response, Response):
            raise TypeError(f"the MockTransport handler returned {response!r}, not a Response")
        response.request = request
        return response
