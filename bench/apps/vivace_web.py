"""bench/web_apps.py's vivace.web app as a plain module attribute, for servers (hypercorn)
that look the app up in the module's namespace rather than with getattr."""

from __future__ import annotations

from web_apps import vivace_app

app = vivace_app
