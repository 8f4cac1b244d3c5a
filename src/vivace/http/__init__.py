"""vivace.http: the HTTP vocabulary every layer shares. No I/O.

Headers, URL, query parameters, multi-value dictionaries, cookies, dates, status codes and
form bodies (urlencoded and multipart parsers fed in chunks)::

    >>> from vivace.http import URL, Headers, QueryParams
    >>> URL("https://example.com/search?q=vivace").query_params["q"]
    'vivace'
"""

from vivace.http import status
from vivace.http._cookies import format_set_cookie, parse_cookie_header
from vivace.http._dates import format_http_date, http_date_now, parse_http_date
from vivace.http._errors import (
    ClientDisconnected,
    FormError,
    FormLimitExceeded,
    InvalidCookie,
    InvalidHeader,
    InvalidURL,
    MalformedForm,
)
from vivace.http._forms import (
    DEFAULT_MAX_FIELD_SIZE,
    DEFAULT_MAX_PARTS,
    UrlencodedParser,
    parse_options_header,
)
from vivace.http._headers import (
    Headers,
    HeadersInput,
    MutableHeaders,
    check_header_name,
    check_header_value,
)
from vivace.http._multidict import ImmutableMultiDict, MultiDict, QueryParams
from vivace.http._multipart import (
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_MAX_PART_HEADER_SIZE,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    boundary_from_content_type,
)
from vivace.http._set_cookie import SetCookie, parse_cookie_date, parse_set_cookie
from vivace.http._tokens import is_field_value, is_token
from vivace.http._url import DEFAULT_PORTS, URL, encoded_path
from vivace.http._websocket import (
    CloseCode,
    WebSocketClosed,
    WebSocketCore,
    WebSocketDisconnect,
    WebSocketPing,
    WebSocketPong,
    accept_key,
)

__all__ = [
    "DEFAULT_MAX_FIELD_SIZE",
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_MAX_PARTS",
    "DEFAULT_MAX_PART_HEADER_SIZE",
    "DEFAULT_PORTS",
    "URL",
    "ClientDisconnected",
    "CloseCode",
    "FormError",
    "FormLimitExceeded",
    "Headers",
    "HeadersInput",
    "ImmutableMultiDict",
    "InvalidCookie",
    "InvalidHeader",
    "InvalidURL",
    "MalformedForm",
    "MultiDict",
    "MultipartParser",
    "MutableHeaders",
    "PartData",
    "PartEnd",
    "PartStart",
    "QueryParams",
    "SetCookie",
    "UrlencodedParser",
    "WebSocketClosed",
    "WebSocketCore",
    "WebSocketDisconnect",
    "WebSocketPing",
    "WebSocketPong",
    "accept_key",
    "boundary_from_content_type",
    "check_header_name",
    "check_header_value",
    "encoded_path",
    "format_http_date",
    "format_set_cookie",
    "http_date_now",
    "is_field_value",
    "is_token",
    "parse_cookie_date",
    "parse_cookie_header",
    "parse_http_date",
    "parse_options_header",
    "parse_set_cookie",
    "status",
]
