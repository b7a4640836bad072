"""Runs the golden IR tests (`tests/filecheck/**.mlir`) with lit + filecheck."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_lit_golden_tests():
    lit = Path(sys.executable).parent / "lit"
    result = subprocess.run(
        [str(lit), "-q", "--order=lexical", str(HERE / "filecheck")], capture_output=True, text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
