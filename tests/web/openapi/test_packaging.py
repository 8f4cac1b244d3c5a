"""The docs UIs' files ship in the wheel and the sdist (hatchling builds them here, from
this checkout, the way ``pip install`` and ``python -m build`` would)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from vivace.web.openapi._assets import asset_manifest

ROOT = Path(__file__).resolve().parents[3]
BUILD = """
import sys
from hatchling.build import build_sdist, build_wheel
print(build_wheel(sys.argv[1]))
print(build_sdist(sys.argv[1]))
"""


def shipped() -> set[str]:
    files = asset_manifest()["files"]
    names = {key + (".gz" if entry["gzip"] else "") for key, entry in files.items()}
    return {f"vivace/web/openapi/assets/{name}" for name in names} | {
        "vivace/web/openapi/assets/LICENSES.md",
        "vivace/web/openapi/assets/manifest.json",
    }


def test_wheel_and_sdist_carry_the_assets(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    wheel_name, sdist_name = done.stdout.split()
    with zipfile.ZipFile(tmp_path / wheel_name) as wheel:
        in_wheel = {name for name in wheel.namelist() if "/openapi/assets/" in name}
        assert (
            wheel.read("vivace/web/openapi/assets/manifest.json")
            == (ROOT / "src/vivace/web/openapi/assets/manifest.json").read_bytes()
        )
    assert in_wheel == shipped()
    with tarfile.open(tmp_path / sdist_name) as sdist:
        prefix = sdist_name.removesuffix(".tar.gz") + "/src/"
        in_sdist = {
            name.removeprefix(prefix) for name in sdist.getnames() if "/openapi/assets/" in name
        }
    assert in_sdist == shipped()
    # The package stays small: the three UIs, compressed, in about 2.6 MB.
    assert (tmp_path / wheel_name).stat().st_size < 4_000_000
