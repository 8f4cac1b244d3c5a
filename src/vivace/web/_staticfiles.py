"""``StaticFiles``: serve a directory, safely.

A request path is turned into a file path only through these checks, in order; any
failure is a 404 that says nothing about the file system:

1. The path (already percent-decoded by the server) may not contain NUL or a backslash
   (a Windows separator), and no segment may be ``..``; ``.`` and empty segments are
   dropped. So ``/../x``, ``/%2e%2e/x``, ``/a/..%2fb`` (decoded before us) and
   ``\\..\\x`` never reach the file system. A segment with ``:`` is refused on Windows
   (drive letters, alternate data streams).
2. The file's real path (symlinks resolved) must be inside the directory's real path,
   unless ``follow_symlinks=True`` (symlinks are then trusted to point anywhere the
   operator put them; ``..`` is still refused).
3. It must be a regular file (or a directory, with ``html=True``, holding ``index.html``).

Files are sent by ``FileResponse``: ETag, Last-Modified, 304, ranges, ``pathsend``. Only
GET and HEAD are allowed (405 otherwise). ``stat`` runs in the I/O thread pool.
"""

from __future__ import annotations

import importlib.util
import os
import stat
from collections.abc import Sequence
from typing import Any

from vivace.types import Receive, Scope, Send
from vivace.web._concurrency import io_pool
from vivace.web._exceptions import HTTPException
from vivace.web._fileresponse import FileResponse
from vivace.web._routes import route_path, send_error, slash_redirect

__all__ = ["StaticFiles"]

_WINDOWS = os.name == "nt"


def _clean_segments(path: str) -> list[str] | None:
    if "\x00" in path or "\\" in path:
        return None
    segments = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == ".." or (_WINDOWS and ":" in segment):
            return None
        segments.append(segment)
    return segments


class StaticFiles:
    """Serve files from ``directory`` (and/or packages' ``statics`` folders).

    >>> from vivace.web import App, Mount
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> app = App(routes=[Mount("/static", StaticFiles(directory=folder), name="static")])
    >>> app.url_path_for("static", path="css/site.css")
    '/static/css/site.css'

    ``html=True`` serves ``index.html`` for a directory (redirecting ``/dir`` to
    ``/dir/``) and ``404.html`` for missing files. ``cache_control`` sets that header on
    every file served.
    """

    def __init__(
        self,
        *,
        directory: str | os.PathLike[str] | None = None,
        packages: Sequence[str | tuple[str, str]] | None = None,
        html: bool = False,
        check_dir: bool = True,
        follow_symlinks: bool = False,
        cache_control: str | None = None,
    ) -> None:
        self.directory = os.fspath(directory) if directory is not None else None
        self.html = html
        self.follow_symlinks = follow_symlinks
        self.cache_control = cache_control
        self.all_directories = self._directories(self.directory, packages)
        if check_dir and self.directory is not None and not os.path.isdir(self.directory):
            raise RuntimeError(f"StaticFiles directory {self.directory!r} does not exist")
        self._real = [os.path.realpath(d) for d in self.all_directories]

    @staticmethod
    def _directories(
        directory: str | None, packages: Sequence[str | tuple[str, str]] | None
    ) -> list[str]:
        found = [] if directory is None else [directory]
        for package in packages or ():
            name, folder = (package, "statics") if isinstance(package, str) else package
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                raise RuntimeError(f"package {name!r} not found for StaticFiles")
            path = os.path.join(os.path.dirname(spec.origin), folder)
            if not os.path.isdir(path):
                raise RuntimeError(f"package {name!r} has no {folder!r} directory")
            found.append(path)
        return found

    def _lookup(self, segments: list[str]) -> tuple[str, os.stat_result] | None:
        for base, real_base in zip(self.all_directories, self._real, strict=True):
            candidate = os.path.join(base, *segments)
            checked = (
                os.path.abspath(candidate)
                if self.follow_symlinks
                else (os.path.realpath(candidate))
            )
            root = os.path.abspath(base) if self.follow_symlinks else real_base
            if checked != root and not checked.startswith(root.rstrip(os.sep) + os.sep):
                continue
            try:
                st = os.stat(candidate)
            except (OSError, ValueError):
                continue
            return candidate, st
        return None

    def _resolve(self, segments: list[str]) -> tuple[str, str, os.stat_result | None]:
        """("file", path, stat) / ("dir", path, stat) / ("missing", "", None)."""
        found = self._lookup(segments)
        if found is not None:
            path, st = found
            if stat.S_ISREG(st.st_mode):
                return "file", path, st
            if stat.S_ISDIR(st.st_mode) and self.html:
                index = self._lookup([*segments, "index.html"])
                if index is not None and stat.S_ISREG(index[1].st_mode):
                    return "dir", index[0], index[1]
        if self.html:
            page = self._lookup(["404.html"])
            if page is not None and stat.S_ISREG(page[1].st_mode):
                return "404", page[0], page[1]
        return "missing", "", None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("StaticFiles only serves HTTP requests")
        if scope["method"] not in ("GET", "HEAD"):
            await send_error(
                scope, receive, send, HTTPException(405, headers={"allow": "GET, HEAD"})
            )
            return
        path = route_path(scope)
        segments = _clean_segments(path)
        if segments is None:
            await send_error(scope, receive, send, HTTPException(404))
            return
        kind, file_path, st = await io_pool.run(self._resolve, segments)
        if kind == "dir" and not scope["path"].endswith("/"):
            # index.html's relative links need the trailing slash.
            await slash_redirect(scope)(scope, receive, send)
            return
        if kind == "missing":
            await send_error(scope, receive, send, HTTPException(404))
            return
        headers: dict[str, Any] | None = None
        if self.cache_control is not None:
            headers = {"cache-control": self.cache_control}
        response = FileResponse(
            file_path,
            status_code=404 if kind == "404" else 200,
            headers=headers,
            stat_result=st,
        )
        await response(scope, receive, send)
