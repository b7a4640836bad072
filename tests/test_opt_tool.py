"""opt-tool as a user runs it: clean errors, exit codes, pipes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent

GOOD = """func.func @forward(%x: tensor<1x8xf32>, %w: tensor<4x8xf32>) -> tensor<1x4xf32> {
  %0 = hy.linear %x, %w : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  %1 = hy.relu %0 : tensor<1x4xf32>
  func.return %1 : tensor<1x4xf32>
}
"""


def opt_tool(*args, input=None):
    return subprocess.run([str(BIN / "opt-tool"), *map(str, args)], capture_output=True, text=True, input=input)


def test_reads_stdin_and_runs_passes():
    r = opt_tool("-p", "fuse,plan", input=GOOD)
    assert r.returncode == 0, r.stderr
    assert "hy.fused" in r.stdout and "hy.arena" in r.stdout


def test_verify_error_names_file_line_col_without_traceback(tmp_path):
    f = tmp_path / "bad.mlir"
    f.write_text(GOOD.replace("1x4", "1x5"))
    r = opt_tool(f)
    assert r.returncode == 1
    assert r.stderr.startswith(f"{f}:2:3: error: hy.linear: result shape 1x5")
    assert "Traceback" not in r.stderr


def test_garbage_and_binary_input(tmp_path):
    for content in (b"\x00\xff\xfe garbage", b"func.func @forward(", b""):
        f = tmp_path / "x.mlir"
        f.write_bytes(content)
        r = opt_tool(f)
        assert "Traceback" not in r.stderr
        if content:
            assert r.returncode == 1 and "error" in r.stderr


def test_unknown_target_and_missing_file(tmp_path):
    r = opt_tool("-t", "llvm", input=GOOD)
    assert r.returncode != 0 and "invalid choice" in r.stderr
    r = opt_tool(tmp_path / "missing.mlir")
    assert r.returncode == 1 and "no such file" in r.stderr and "Traceback" not in r.stderr


def test_closed_pipe_is_not_an_error():
    big = GOOD.replace("4x8", "400x8").replace("1x4", "1x400")
    p = subprocess.Popen(
        f"'{BIN / 'opt-tool'}' -t c | head -c 10", shell=True, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, err = p.communicate(big)
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "my_mlp.mlir"
    r = subprocess.run(
        [sys.executable, "-m", "hybridize.tools.demo", "--calls", "20", "--output", str(out)],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "eager/compiled" in r.stdout and out.exists()
    r = opt_tool("--passes=fuse,plan", out)
    assert r.returncode == 0 and r.stdout.count("hy.fused") == 2


BIG = """func.func @forward(%x: tensor<64xf32>) -> tensor<64xf32> {
  %w = hy.constant dense<0.5> : tensor<64xf32>
  %0 = hy.mul %x, %w : (tensor<64xf32>, tensor<64xf32>) -> tensor<64xf32>
  func.return %0 : tensor<64xf32>
}
"""


def test_constants_elided_on_a_terminal_kept_in_files_and_pipes(tmp_path):
    import os
    import pty

    src = tmp_path / "big.mlir"
    src.write_text(BIG.replace("dense<0.5>", "dense<[" + ", ".join(f"{i}.0" for i in range(64)) + "]>"))
    master, slave = pty.openpty()
    try:
        r = subprocess.run([str(BIN / "opt-tool"), str(src)], stdout=slave, stderr=subprocess.PIPE, text=True)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
    assert r.returncode == 0, r.stderr
    assert b"dense_resource<__elided__> : tensor<64xf32>" in out
    piped = opt_tool(str(src))
    assert piped.returncode == 0 and "__elided__" not in piped.stdout and "6.300000e+01" in piped.stdout
    r = opt_tool(str(src), "-o", tmp_path / "out.mlir")
    assert r.returncode == 0 and "__elided__" not in (tmp_path / "out.mlir").read_text()
    # Elided text is refused with its position, also from Python.
    import pytest

    import hybridize

    elided = hybridize.print_module(hybridize.parse_module(src.read_text()), elide_larger_than=16)
    with pytest.raises(hybridize.IRError, match=r"<string>:3:\d+: this constant was elided"):
        hybridize.parse_module(elided)
