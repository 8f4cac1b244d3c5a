"""vivace.web: the web framework. Every piece that handles a request is an ASGI app.

>>> from vivace.web import App, Route, JSONResponse
>>> async def item(request):
...     return JSONResponse({"id": request.path_params["id"]})
>>> app = App(routes=[Route("/items/{id:int}", item)])

See docs/web.md for the guide.
"""

from vivace.http import ClientDisconnected
from vivace.web._app import App
from vivace.web._background import BackgroundTask, BackgroundTasks
from vivace.web._broadcast import (
    Broadcast,
    BroadcastBackend,
    BroadcastError,
    BroadcastEvent,
    MemoryBackend,
    ReplayBackend,
    Subscriber,
    SubscriberLagged,
)
from vivace.web._concurrency import ThreadPool, iterate_in_threadpool, run_in_threadpool
from vivace.web._config import Limits
from vivace.web._converters import Converter, register_converter
from vivace.web._datastructures import Address, FormData, State, UploadFile, URLPath
from vivace.web._endpoints import HTTPEndpoint, WebSocketEndpoint
from vivace.web._exceptions import (
    ClientDisconnect,
    ContentTooLarge,
    HTTPException,
    MalformedBody,
    NoMatchFound,
    RequestValidationError,
    UnsupportedMediaType,
    WebError,
)
from vivace.web._fileresponse import FileResponse
from vivace.web._handlers import to_response
from vivace.web._params import Body, Cookie, Depends, File, Form, Header, Path, Query
from vivace.web._request import HTTPConnection, Request
from vivace.web._responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from vivace.web._router import Router
from vivace.web._routes import BaseRoute, Host, Mount, Route
from vivace.web._security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    OAuth2,
    OAuth2PasswordBearer,
    OpenIdConnect,
    SecurityScheme,
)
from vivace.web._sse import EventSourceResponse, ServerSentEvent
from vivace.web._staticfiles import StaticFiles
from vivace.web._templating import Jinja2Templates
from vivace.web._websocket_routes import WebSocketRoute
from vivace.web._websockets import (
    WebSocket,
    WebSocketDisconnect,
    WebSocketException,
    WebSocketState,
)
from vivace.web.middleware import Middleware

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "Address",
    "App",
    "BackgroundTask",
    "BackgroundTasks",
    "BaseRoute",
    "Body",
    "Broadcast",
    "BroadcastBackend",
    "BroadcastError",
    "BroadcastEvent",
    "ClientDisconnect",
    "ClientDisconnected",
    "ContentTooLarge",
    "Converter",
    "Cookie",
    "Depends",
    "EventSourceResponse",
    "File",
    "FileResponse",
    "Form",
    "FormData",
    "HTMLResponse",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "HTTPConnection",
    "HTTPEndpoint",
    "HTTPException",
    "Header",
    "Host",
    "JSONResponse",
    "Jinja2Templates",
    "Limits",
    "MalformedBody",
    "MemoryBackend",
    "Middleware",
    "Mount",
    "NoMatchFound",
    "OAuth2",
    "OAuth2PasswordBearer",
    "OpenIdConnect",
    "Path",
    "PlainTextResponse",
    "Query",
    "RedirectResponse",
    "ReplayBackend",
    "Request",
    "RequestValidationError",
    "Response",
    "Route",
    "Router",
    "SecurityScheme",
    "ServerSentEvent",
    "State",
    "StaticFiles",
    "StreamingResponse",
    "Subscriber",
    "SubscriberLagged",
    "ThreadPool",
    "URLPath",
    "UnsupportedMediaType",
    "UploadFile",
    "WebError",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketEndpoint",
    "WebSocketException",
    "WebSocketRoute",
    "WebSocketState",
    "iterate_in_threadpool",
    "register_converter",
    "run_in_threadpool",
    "to_response",
]
