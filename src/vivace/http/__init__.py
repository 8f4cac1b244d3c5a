"""vivace.http: the HTTP vocabulary every layer shares. No I/O.

Headers, URL, query parameters, multi-value dictionaries, cookies, dates and status codes::

    >>> from vivace.http import URL, Headers, QueryParams
    >>> URL("https://example.com/search?q=vivace").query_params["q"]
    'vivace'
"""

from vivace.http import status
from vivace.http._cookies import format_set_cookie, parse_cookie_header
from vivace.http._dates import format_http_date, http_date_now, parse_http_date
from vivace.http._errors import InvalidCookie, InvalidHeader, InvalidURL
from vivace.http._headers import (
    Headers,
    HeadersInput,
    MutableHeaders,
    check_header_name,
    check_header_value,
)
from vivace.http._multidict import ImmutableMultiDict, MultiDict, QueryParams
from vivace.http._set_cookie import SetCookie, parse_cookie_date, parse_set_cookie
from vivace.http._url import DEFAULT_PORTS, URL

__all__ = [
    "DEFAULT_PORTS",
    "URL",
    "Headers",
    "HeadersInput",
    "ImmutableMultiDict",
    "InvalidCookie",
    "InvalidHeader",
    "InvalidURL",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "SetCookie",
    "check_header_name",
    "check_header_value",
    "format_http_date",
    "format_set_cookie",
    "http_date_now",
    "parse_cookie_date",
    "parse_cookie_header",
    "parse_http_date",
    "parse_set_cookie",
    "status",
]
