"""The wheel installs one import package, `hybridize`, with the card's folders
as subpackages, and nothing generic at the top level."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_has_only_the_hybridize_package(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("hybridize-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"hybridize"}, top
    for sub in ("ir", "passes", "frontends", "backends", "tools"):
        assert f"hybridize/{sub}/__init__.py" in names
    assert not any(n.startswith("hybridize/tests/") for n in names)
    # the C backend's package and the kernel library it compiles on the user's machine
    for name in ("backends/c/__init__.py", "backends/c/kernels/__init__.py", "backends/c/library/hy_kernels.h", "backends/c/library/gemm.c"):
        assert f"hybridize/{name}" in names, name
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "opt-tool = hybridize.tools.opt_tool:main" in zipfile.ZipFile(wheel).read(entry).decode()
