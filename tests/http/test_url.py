from __future__ import annotations

import pytest

from vivace.http import URL, InvalidURL


def test_components() -> None:
    url = URL("https://user:p%40ss@Example.com:8443/caf%C3%A9/x?q=1&q=2#frag")
    assert url.scheme == "https"
    assert url.netloc == "user:p%40ss@Example.com:8443"
    assert url.username == "user"
    assert url.password == "p@ss"
    assert url.hostname == "example.com"
    assert url.port == 8443
    assert url.effective_port == 8443
    assert url.path == "/café/x"
    assert url.raw_path == "/caf%C3%A9/x"
    assert url.target == "/caf%C3%A9/x?q=1&q=2"
    assert url.query == "q=1&q=2"
    assert url.query_params.getlist("q") == ["1", "2"]
    assert url.fragment == "frag"
    assert url.is_secure and url.is_absolute
    assert url.origin == ("https", "example.com", 8443)


def test_defaults() -> None:
    url = URL("http://example.com")
    assert url.port is None
    assert url.effective_port == 80
    assert url.raw_path == "/"
    assert url.target == "/"
    assert url.username is None and url.password is None
    assert not url.is_secure
    assert not URL("/relative").is_absolute
    assert URL("unknown://host").effective_port is None
    assert URL("wss://h").effective_port == 443


def test_replace_parts() -> None:
    url = URL("http://user:pw@example.com:8080/a?x=1")
    assert str(url.replace(scheme="https")) == "https://user:pw@example.com:8080/a?x=1"
    assert str(url.replace(port=None)) == "http://user:pw@example.com/a?x=1"
    assert str(url.replace(hostname="other.test")) == "http://user:pw@other.test:8080/a?x=1"
    assert str(url.replace(username=None)) == "http://example.com:8080/a?x=1"
    assert str(url.replace(password="n e w")) == "http://user:n%20e%20w@example.com:8080/a?x=1"
    assert str(url.replace(path="/b", query="")) == "http://user:pw@example.com:8080/b"
    v6 = URL("http://[::1]:8000/")
    assert v6.hostname == "::1"
    assert str(v6.replace(port=9000)) == "http://[::1]:9000/"
    assert str(URL("http://h/").replace(hostname="::1")) == "http://[::1]/"


def test_query_param_helpers() -> None:
    url = URL("http://h/p?a=1&b=2&a=3")
    assert str(url.include_query_params(a="9", c=3)) == "http://h/p?b=2&a=9&c=3"
    assert str(url.replace_query_params(z="1")) == "http://h/p?z=1"
    assert str(url.remove_query_params("a")) == "http://h/p?b=2"
    assert str(url.remove_query_params(["a", "b"])) == "http://h/p"


def test_join() -> None:
    base = URL("http://a.test/x/y?q=1")
    assert base.join("z") == "http://a.test/x/z"
    assert base.join("/root") == "http://a.test/root"
    assert base.join(URL("https://b.test/")) == "https://b.test/"


def test_equality_hash_repr() -> None:
    assert URL("http://h/") == "http://h/"
    assert URL("http://h/") == URL("http://h/")
    assert URL("http://h/") != 3
    assert len({URL("http://h/"), URL("http://h/")}) == 1
    assert repr(URL("http://u:secret@h/")) == "URL('http://u:********@h/')"
    assert repr(URL("http://h/")) == "URL('http://h/')"


def test_from_scope_with_host_header() -> None:
    scope = {
        "scheme": "https",
        "server": ("10.0.0.1", 443),
        "path": "/a b",
        "raw_path": b"/a%20b",
        "query_string": b"x=1",
        "headers": [(b"host", b"example.com")],
    }
    assert str(URL(scope=scope)) == "https://example.com/a%20b?x=1"


def test_from_scope_without_host_header() -> None:
    base = {"scheme": "http", "path": "/p", "query_string": b"", "headers": []}
    assert str(URL(scope={**base, "server": ("127.0.0.1", 8000)})) == "http://127.0.0.1:8000/p"
    assert str(URL(scope={**base, "server": ("127.0.0.1", 80)})) == "http://127.0.0.1/p"
    assert str(URL(scope={**base, "server": ("sock", None)})) == "http://sock/p"
    assert str(URL(scope={**base, "server": None})) == "/p"


def test_from_scope_prefers_path_when_mount_changed_it() -> None:
    # A mount strips nothing from ``path`` (it includes root_path) but a rewrite may change
    # it; raw_path is used only while it still decodes to path.
    scope = {
        "scheme": "http",
        "server": ("h", 80),
        "path": "/new%path",
        "raw_path": b"/old",
        "query_string": b"",
        "headers": [],
    }
    assert str(URL(scope=scope)) == "http://h/new%25path"


def test_constructor_argument_conflicts() -> None:
    with pytest.raises(TypeError):
        URL("http://h/", scope={"path": "/"})
    with pytest.raises(TypeError):
        URL("http://h/", scheme="http")
    assert str(URL(scheme="https", netloc="h", path="/x")) == "https://h/x"


def test_invalid_urls_raise_typed_errors() -> None:
    with pytest.raises(InvalidURL):
        _ = URL("http://h:99999999/").port
    with pytest.raises(InvalidURL):
        _ = URL("http://[::1/").components
