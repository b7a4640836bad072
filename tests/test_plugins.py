"""Pass plugins: `register_pass`, `--load-pass-plugin FILE.py`, the
`hybridize.passes` entry-point group, and no silent shadowing of built-ins."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from xdsl.passes import ModulePass

import hybridize
from hybridize.passes import BUILTIN_PASSES, PASSES, PassRegistrationError, load_pass_plugin, register_pass

BIN = Path(sys.executable).parent
MLIR = """func.func @forward(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = hy.relu %x : tensor<3xf32>
  func.return %0 : tensor<3xf32>
}
"""
PLUGIN = '''
from dataclasses import dataclass
from xdsl.passes import ModulePass

@dataclass(frozen=True)
class NoopPlugin(ModulePass):
    """Do nothing, from an installed package."""
    name = "noop-plugin"
    level: int = 3
    """How much nothing."""
    def apply(self, ctx, module):
        module.attributes["plugin.ran"] = __import__("xdsl.dialects.builtin", fromlist=["UnitAttr"]).UnitAttr()

@dataclass(frozen=True)
class Fuse(ModulePass):
    name = "fuse"
    def apply(self, ctx, module):
        pass
'''


def fake_distribution(root: Path, entries: str) -> Path:
    """An installed package `fakeplug` whose entry points are `entries`."""
    (root / "fakeplug_mod.py").write_text(PLUGIN)
    info = root / "fakeplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[hybridize.passes]\n{entries}\n")
    return root


def opt_tool(*args, pythonpath: Path | None = None, input=MLIR):
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([str(BIN / "opt-tool"), *map(str, args)], capture_output=True, text=True, input=input, env=env)


def test_entry_point_pass_runs_and_is_listed(tmp_path):
    root = fake_distribution(tmp_path, "noop-plugin = fakeplug_mod:NoopPlugin")
    r = opt_tool("-p", "noop-plugin{level=4}", pythonpath=root)
    assert r.returncode == 0, r.stderr
    assert "plugin.ran" in r.stdout
    r = opt_tool("--list-passes", pythonpath=root)
    assert r.returncode == 0, r.stderr
    assert "noop-plugin  [fakeplug (entry point fakeplug_mod:NoopPlugin)]" in r.stdout
    assert "level: int = 3    How much nothing." in r.stdout


def test_entry_point_may_not_shadow_a_builtin(tmp_path):
    root = fake_distribution(tmp_path, "fuse = fakeplug_mod:Fuse")
    r = opt_tool("-p", "fuse", pythonpath=root)
    assert r.returncode == 1
    assert "fakeplug" in r.stderr and "would replace the built-in pass 'fuse'" in r.stderr
    assert "Traceback" not in r.stderr


def test_entry_point_naming_the_wrong_class(tmp_path):
    root = fake_distribution(tmp_path, "other-name = fakeplug_mod:NoopPlugin")
    r = opt_tool("-p", "other-name", pythonpath=root)
    assert r.returncode == 1 and "whose name is 'other-name'" in r.stderr, r.stderr


def test_register_pass_refuses_to_shadow_a_builtin_unless_asked():
    @dataclass(frozen=True)
    class MyPlan(ModulePass):
        name = "plan"

        def apply(self, ctx, module):
            pass

    with pytest.raises(PassRegistrationError, match="would replace the built-in pass 'plan'"):
        register_pass(MyPlan)
    assert PASSES["plan"]().__module__ == "hybridize.passes.plan"
    original = PASSES["plan"]
    try:
        assert register_pass(replace=True)(MyPlan) is MyPlan
        assert PASSES["plan"]() is MyPlan
    finally:
        PASSES["plan"] = original
        from hybridize.passes import ORIGINS

        ORIGINS.pop("plan", None)
    assert register_pass(PASSES["fuse"]()) is PASSES["fuse"]()  # the built-in itself: a no-op


def test_register_pass_checks_its_argument():
    with pytest.raises(PassRegistrationError, match="ModulePass"):
        register_pass(int)

    class Nameless(ModulePass):
        def apply(self, ctx, module):
            pass

    with pytest.raises(PassRegistrationError, match="no `name`"):
        register_pass(Nameless)


def test_load_pass_plugin_file_and_errors(tmp_path):
    good = tmp_path / "count_passes.py"
    good.write_text(
        "from dataclasses import dataclass\nfrom xdsl.passes import ModulePass\n"
        "from hybridize.passes import register_pass\n\n"
        "@register_pass\n@dataclass(frozen=True)\nclass CountOps(ModulePass):\n"
        "    name = 'count-ops-plugin'\n    def apply(self, ctx, module):\n        pass\n"
    )
    try:
        assert load_pass_plugin(str(good)) == ["count-ops-plugin"]
        module = hybridize.parse_module(MLIR)
        hybridize.optimize(module, "count-ops-plugin,plan")
    finally:
        PASSES.pop("count-ops-plugin", None)
    broken = tmp_path / "broken.py"
    broken.write_text("x = 1\nraise RuntimeError('plugin exploded')\n")
    with pytest.raises(PassRegistrationError, match=r"broken.py:2: RuntimeError: plugin exploded"):
        load_pass_plugin(str(broken))
    bad_syntax = tmp_path / "bad_syntax.py"
    bad_syntax.write_text("def (:\n")
    with pytest.raises(PassRegistrationError, match=r"bad_syntax.py:1: syntax error"):
        load_pass_plugin(str(bad_syntax))
    with pytest.raises(PassRegistrationError, match="no such file"):
        load_pass_plugin(str(tmp_path / "missing.py"))


def test_every_builtin_has_a_description():
    from hybridize.passes import pass_description

    for name in BUILTIN_PASSES:
        assert pass_description(PASSES[name]()), name


def test_python_dash_m_hybridize_runs_opt_tool():
    r = subprocess.run(
        [sys.executable, "-m", "hybridize", "-p", "fuse,plan"], input=MLIR, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "hy.arena" in r.stdout
    r = subprocess.run([sys.executable, "-m", "hybridize", "--version"], capture_output=True, text=True)
    assert f"hybridize {hybridize.__version__}" in r.stdout and "xdsl" in r.stdout
