"""Watching source files for ``--reload``: a polling scanner with no dependency.

Every ``reload_interval`` seconds the watched directories are walked and the
modification time of each file matching ``reload_includes`` (and no
``reload_excludes`` pattern) is compared with the previous scan. Polling a source tree of
a few thousand files costs a few milliseconds, which is fine for a development server,
and it works the same on every filesystem (including bind mounts where inotify does not).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Sequence

__all__ = ["FileWatcher"]


class FileWatcher:
    """Reports the files that changed, appeared or vanished since the last ``changes()``."""

    def __init__(
        self, dirs: Iterable[str], includes: Sequence[str], excludes: Sequence[str]
    ) -> None:
        self.dirs = [os.path.abspath(d) for d in dirs] or [os.getcwd()]
        self.includes = tuple(includes)
        self.excludes = tuple(excludes)
        self._mtimes = self._scan()

    def _excluded(self, name: str) -> bool:
        return any(fnmatch.fnmatch(name, pattern) for pattern in self.excludes)

    def _scan(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for root_dir in self.dirs:
            for root, dirnames, filenames in os.walk(root_dir):
                dirnames[:] = [d for d in dirnames if not self._excluded(d)]
                for name in filenames:
                    if self._excluded(name) or not any(
                        fnmatch.fnmatch(name, pattern) for pattern in self.includes
                    ):
                        continue
                    path = os.path.join(root, name)
                    try:
                        found[path] = os.stat(path).st_mtime
                    except OSError:  # vanished between listing and stat
                        continue
        return found

    def changes(self) -> list[str]:
        """Paths changed since the previous call (empty if none)."""
        current = self._scan()
        previous = self._mtimes
        self._mtimes = current
        changed = [p for p, mtime in current.items() if previous.get(p) != mtime]
        changed += [p for p in previous if p not in current]
        return sorted(changed)
