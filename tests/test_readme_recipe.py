"""The README's "Writing a pass" recipe works verbatim: its code blocks are
extracted and run as a user would, in a fresh directory: files written, Python
run as a script, shell commands through the shell (opt-tool and pytest with
this interpreter's environment)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def recipe_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Writing a pass")
    end = text.index("\n## ", start + 1)
    return BLOCK.findall(text[start:end])


def file_name(lang: str, code: str) -> str | None:
    """`# name.py` / `// name.mlir` on the first line: a file to write."""
    first = code.splitlines()[0]
    m = re.fullmatch(r"(?:#|//) ([\w.-]+\.(?:py|mlir))", first.strip())
    return m.group(1) if m else None


def user_env(tmp_path: Path, c_cache: Path) -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # the C compile cache of the test session, laid out as $XDG_CACHE_HOME/hybridize/c
    xdg = tmp_path / "xdg"
    (xdg / "hybridize").mkdir(parents=True)
    (xdg / "hybridize" / "c").symlink_to(c_cache)
    env["XDG_CACHE_HOME"] = str(xdg)
    return env


def test_recipe_has_the_four_steps():
    blocks = recipe_blocks()
    files = [file_name(lang, code) for lang, code in blocks]
    assert {"my_passes.py", "x.mlir", "test_my_passes.py"} <= set(files)
    shell = [code for lang, code in blocks if lang == "sh"]
    assert any("opt-tool --load-pass-plugin my_passes.py -p fold-double-relu" in c for c in shell)
    assert any("pytest" in c for c in shell)
    assert any("check_pass(" in code for _, code in blocks)


def test_recipe_runs_verbatim(tmp_path, c_cache):
    work = tmp_path / "user"
    work.mkdir()
    env = user_env(tmp_path, c_cache)
    ran = []
    for lang, code in recipe_blocks():
        name = file_name(lang, code)
        if name:
            (work / name).write_text(code)
            continue
        if lang == "python":
            cmd = [sys.executable, "-c", code]
        elif lang == "sh":
            cmd = ["sh", "-c", code]
        else:
            continue
        r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        if "unrecognized arguments: --load-pass-plugin" in r.stderr:
            pytest.xfail("opt-tool has no --load-pass-plugin yet (issue 12, the tools part)")
        assert r.returncode == 0, f"README block failed ({lang}):\n{code}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
        ran.append((lang, code, r.stdout))
    python_out = next(out for lang, _, out in ran if lang == "python")
    assert python_out.count("hy.relu") == 1, python_out
    opt_out = next(out for lang, code, out in ran if "opt-tool" in code)
    assert opt_out.count("hy.relu") == 1, opt_out
    pytest_out = next(out for lang, code, out in ran if "pytest" in code)
    assert "1 passed" in pytest_out, pytest_out
    assert shlex.split(next(code for lang, code, _ in ran if "opt-tool" in code))[0] == "opt-tool"
