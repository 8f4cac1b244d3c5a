"""CPU instructions per request in vivace's HTTP/1.1 protocol: the steadiest figure there is.

bench/server_inproc.py times the Python cost of a request without sockets, but on this
shared 2-core machine its minimum still moves by ~0.15 us (3%) between runs, as much as
the differences it is asked to show. The instructions a request executes do not move:
this runs bench/server_inproc.py under valgrind's callgrind twice per path, for 10 and
for 110 rounds of 64 requests, and divides the difference by 6,400, so start-up and
import cost cancel out. With ``PYTHONHASHSEED=0`` the count is the same to the
instruction from run to run, whatever else the machine does (it needs
``apt-get install valgrind``; each path takes ~1 minute under callgrind)::

    .venv/bin/python bench/server_instructions.py --paths /plaintext,/json,"POST /echo"
    .venv/bin/python bench/server_instructions.py --also base=/work/base7fd/src
    .venv/bin/python bench/server_instructions.py --app web_typed_apps:vivace_app \
        --paths "POST /orders" --also base=/tmp/base/src

``--also NAME=SRC`` counts another tree of vivace's source too (an export of an earlier
commit: ``git archive <commit> src | tar -x -C DIR``, then ``--also base=DIR/src``),
through ``PYTHONPATH``; ratios are printed against the first ``--also``. Instructions
are not time (a cache miss costs more than an add), so quote them beside the in-process
and wrk figures, not instead of them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(rb"Collected : (\d+)")
_SMALL, _LARGE, _BATCH = 10, 110, 64


def instructions(path: str, src: str | None, app: str | None = None) -> int:
    """The instructions one request of ``path`` costs with vivace from ``src`` (None:
    the installed one), served by ``app`` (bench/server_inproc.py's ``--app``)."""
    counts = []
    for rounds in (_SMALL, _LARGE):
        env = dict(os.environ, PYTHONHASHSEED="0")
        if src is not None:
            env["PYTHONPATH"] = src
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                str(HERE / "server_inproc.py"),
                "--paths",
                path,
                "--rounds",
                str(rounds),
                "--repeat",
                "1",
                *(["--app", app] if app else []),
            ],
            env=env,
            capture_output=True,
            check=True,
        )
        found = _COLLECTED.search(done.stderr)
        if found is None:
            raise SystemExit(f"no instruction count from callgrind:\n{done.stderr.decode()}")
        counts.append(int(found.group(1)))
    return round((counts[1] - counts[0]) / ((_LARGE - _SMALL) * _BATCH))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", default="/plaintext,/json", help="as bench/server_inproc.py")
    parser.add_argument(
        "--also", action="append", default=[], help="NAME=SRC: another source tree to count"
    )
    parser.add_argument("--app", help="as bench/server_inproc.py (module:attr in bench/)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    trees: list[tuple[str, str | None]] = []
    for item in args.also:
        name, _, src = item.partition("=")
        if not src:
            raise SystemExit(f"--also takes NAME=SRC, not {item!r}")
        trees.append((name, src))
    trees.append(("this", None))
    print(f"| path | {' | '.join(name for name, _ in trees)} | this / {trees[0][0]} |")
    print(f"| --- |{' ---: |' * (len(trees) + 1)}")
    for path in args.paths.split(","):
        counts = [instructions(path, src, args.app) for _, src in trees]
        cells = " | ".join(f"{count:,}" for count in counts)
        print(f"| {path} | {cells} | {counts[-1] / counts[0]:.3f}x |", flush=True)


if __name__ == "__main__":
    main()
