"""``python -m vivace.db``: database migrations (the same as ``vivace db``)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
