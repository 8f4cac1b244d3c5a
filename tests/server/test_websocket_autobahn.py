"""Interop: the Autobahn|Testsuite's quick cases against vivace.server.

Cases 1-7 and 10 (framing, pings, reserved bits, opcodes, fragmentation, UTF-8, closing,
limits) take about 10 s; the slow ones (9: large messages, 12 and 13: compression) run
with ``scripts/autobahn`` (several minutes; results in docs/websockets.md).

The suite comes from ``../shared/tools/autobahn/run.sh`` beside the checkout (as in CI),
or ``AUTOBAHN_RUN``; without it this test is skipped. Its Python 2.7 build is made by
``scripts/test``'s install step (``setup.sh``, 1-2 minutes on a fresh machine), never inside
this test: without it the test fails at once and says so instead of spending its timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import serve

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RUN = Path(os.environ.get("AUTOBAHN_RUN", ROOT.parent / "shared" / "tools" / "autobahn" / "run.sh"))
QUICK = '["1.*","2.*","3.*","4.*","5.*","6.*","7.*","10.*"]'
# Where setup.sh puts wstest (its header: "Home: $AUTOBAHN_HOME (default ~/.cache/autobahn)").
WSTEST = (
    Path(os.environ.get("AUTOBAHN_HOME", Path.home() / ".cache" / "autobahn"))
    / "wstest27"
    / "bin"
    / "wstest"
)

sys.path.insert(0, str(ROOT / "scripts"))

from autobahn_echo import app  # noqa: E402


@pytest.mark.skipif(not RUN.exists(), reason=f"the Autobahn runner is not at {RUN} (AUTOBAHN_RUN)")
@pytest.mark.timeout(120)  # ~12 s on an idle machine; room for a loaded CI host
def test_autobahn_quick_cases() -> None:
    if not os.access(WSTEST, os.X_OK):
        pytest.fail(
            f"the Autobahn testsuite is not installed ({WSTEST} is missing): scripts/test "
            f"installs it before the checks, or run {RUN.parent / 'setup.sh'} (1-2 minutes)",
            pytrace=False,
        )
    with serve(app, ws_max_size=64 * 1024 * 1024) as server:
        result = subprocess.run(
            [str(RUN), f"ws://127.0.0.1:{server.port}/", QUICK],
            capture_output=True,
            text=True,
            timeout=110,
        )
    summary = result.stdout.strip().splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary and summary[-1].startswith("autobahn:") and "FAILED" not in summary[-1]
