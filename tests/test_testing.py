"""hybridize.testing: the strategies cover every op and can be steered; the
differential check catches wrong and IR-breaking passes, shrinks them and
writes a reproducer that re-runs."""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from xdsl.passes import ModulePass

from hybridize.ir import ReluOp, parse_module, print_module
from hybridize.ir.base import BinaryOp
from hybridize.ir.dialect import Hy
from hybridize.ir.elementwise import AddOp, ExpOp
from hybridize.ir.linalg import LinearOp
from hybridize.ir.module import forward_func
from hybridize.ir.nn import Conv2dOp
from hybridize.ir.structure import ConstantOp, FusedOp, YieldOp
from hybridize.passes import PASSES, register_pass
from hybridize.testing import (
    ALL_OPS,
    OP_BUILDERS,
    PassCheckError,
    check_pass,
    count_ops,
    graphs,
    load_reproducer,
    mismatch,
    random_graph,
)

ROOT = Path(__file__).resolve().parent.parent


def sample(n=120, **options):
    return [random_graph(random.Random(s), **{"zero_dims": False, "corner_values": False, **options}) for s in range(n)]


def test_every_op_of_the_dialect_has_a_builder_and_is_drawn():
    structural = {ConstantOp, FusedOp, YieldOp}
    assert set(Hy.operations) - structural <= set(OP_BUILDERS), "ops graphs() cannot draw"
    seen = Counter(op.name for case in sample(150, max_ops=12) for op in case.ops())
    assert {cls.name for cls in ALL_OPS} <= set(seen), sorted({c.name for c in ALL_OPS} - set(seen))


def test_graphs_draw_every_dtype_and_broadcast_form():
    dtypes, forms = Counter(), Counter()
    for case in sample(150):
        for op in case.ops():
            dtypes[str(op.results[0].type.element_type)] += 1
            if isinstance(op, BinaryOp):
                a, b = (tuple(o.type.get_shape()) for o in op.operands)
                forms["same" if a == b else "rank" if len(a) != len(b) else "unit"] += 1
    assert {"f32", "f64", "i64", "i32", "i1"} <= set(dtypes)
    assert set(forms) == {"same", "rank", "unit"}


def test_ops_steer_the_graphs():
    cases = sample(60, ops=[ReluOp], min_ops=4)
    counts = [count_ops(c.module, ReluOp) for c in cases]
    assert min(counts) >= 1
    assert sum(n >= 2 for n in counts) >= 0.7 * len(cases)
    chained = sum(any(isinstance(op, ReluOp) and isinstance(op.input.owner, ReluOp) for op in c.ops()) for c in cases)
    assert chained >= 0.4 * len(cases), "relu(relu(x)) should be common when asked for relu"
    only = sample(30, ops=[LinearOp, ExpOp], other_ops=())
    assert all({type(op) for op in c.ops()} <= {LinearOp, ExpOp} for c in only)
    assert all(count_ops(c.module, Conv2dOp) for c in sample(20, ops=[Conv2dOp]))


def test_dtypes_shapes_and_outputs_are_respected():
    cases = sample(60, dtypes=["float32"], shapes=[(2, 3), (3,)], max_ops=6)
    for case in cases:
        assert {str(a.dtype) for a in case.inputs} <= {"float32"}
        assert all(str(v.type.element_type) == "f32" for op in case.ops() for v in op.results)
    assert {tuple(a.shape) for c in cases for a in c.inputs} == {(2, 3), (3,)}
    outs = Counter(len(forward_func(c.module).function_type.outputs) for c in sample(80))
    assert sum(n for k, n in outs.items() if k >= 2) >= 20, outs
    with pytest.raises(ValueError, match="dtypes"):
        random_graph(random.Random(0), dtypes=["float16"])


@settings(max_examples=15)
@given(graphs(ops=[ReluOp], dtypes=["float32"], max_ops=5))
def test_hypothesis_graphs_contain_the_ops_asked_for(case):
    assert count_ops(case.module, ReluOp) >= 1
    assert {a.dtype for a in case.inputs} <= {np.dtype("float32")}


def test_mismatch_tolerance_by_dtype():
    f = np.float32
    assert mismatch(np.array([1.0, np.nan, np.inf], f), np.array([1.00001, np.nan, np.inf], f)) is None
    assert "differ" in mismatch(np.array([1.0], f), np.array([1.01], f))
    assert mismatch(np.array([np.nan], f), np.array([0.0], f))
    assert mismatch(np.array([np.inf], f), np.array([-np.inf], f))
    assert mismatch(np.array([1, 2]), np.array([1, 3]))
    assert mismatch(np.array([True]), np.array([False]))
    assert "float64" in mismatch(np.array([1.0]), np.array([1.0], f))
    assert mismatch(np.array([1.0 + 1e-7]), np.array([1.0])), "float64 is held to a tighter tolerance"


DROP_RELU = """
from dataclasses import dataclass
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern
from hybridize.ir import ReluOp
from hybridize.passes import PASSES, register_pass

class ReluToInput(RewritePattern):
    # relu(x) = x: wrong, on purpose
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReluOp, rewriter):
        rewriter.replace(op, [], [op.input])

@dataclass(frozen=True)
class DropRelu(ModulePass):
    name = "test-drop-relu"
    def apply(self, ctx, module):
        PatternRewriteWalker(ReluToInput()).rewrite_module(module)

if DropRelu.name not in PASSES:
    register_pass(DropRelu)
"""


@dataclass(frozen=True)
class BreakTypes(ModulePass):
    """Gives exp a result type its verifier refuses."""

    name = "test-break-types"

    def apply(self, ctx, module):
        from xdsl.dialects.builtin import TensorType, i32

        for op in module.walk():
            if isinstance(op, ExpOp):
                op.results[0]._type = TensorType(i32, op.results[0].type.get_shape())


def _register(cls):
    if cls.name not in PASSES:
        register_pass(cls)


def test_check_pass_finds_a_wrong_pass_and_writes_a_small_reproducer(tmp_path):
    plugin = tmp_path / "drop_relu.py"
    plugin.write_text(DROP_RELU)
    spec = importlib.util.spec_from_file_location("drop_relu", plugin)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    with pytest.raises(PassCheckError) as info:
        check_pass("test-drop-relu", graphs(ops=[ReluOp], dtypes=["float32"], max_ops=4), backends=("numpy",),
                   max_examples=40, reproducer_dir=tmp_path, shrink_seconds=2, settings=settings(database=None))
    err = info.value
    assert "after 'test-drop-relu', numpy output" in str(err)
    assert err.reproducer.exists() and err.reproducer.with_suffix(".npz").exists()
    text = err.reproducer.read_text()
    assert f"opt-tool --load-pass-plugin {plugin} -p test-drop-relu" in text
    assert "python -m hybridize.testing" in text
    case = load_reproducer(err.reproducer)
    assert count_ops(case.module, ReluOp) >= 1
    assert len(case.ops()) <= 3, f"shrunk to\n{text}"  # relu and at most its operand's makers
    rerun = subprocess.run(
        [sys.executable, "-m", "hybridize.testing", "-p", "test-drop-relu", "--backends", "numpy",
         "--load-pass-plugin", str(plugin), str(err.reproducer)], capture_output=True, text=True, cwd=tmp_path)
    assert rerun.returncode == 1 and "differ" in rerun.stderr, rerun.stderr
    ok = subprocess.run([sys.executable, "-m", "hybridize.testing", "-p", "canonicalize", "--backends", "numpy",
                         str(err.reproducer)], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr


def test_check_pass_names_the_pass_that_breaks_the_ir(tmp_path):
    _register(BreakTypes)
    with pytest.raises(PassCheckError, match=r"pass 'test-break-types' \(after canonicalize\) left IR that does not verify: (.|\n)*expected"):
        check_pass("canonicalize,test-break-types", graphs(ops=[ExpOp], dtypes=["float32"], max_ops=3),
                   backends=("numpy",), max_examples=10, reproducer_dir=tmp_path, shrink_seconds=2, settings=settings(database=None))


def test_check_pass_accepts_a_correct_pipeline_on_both_backends(c_cache, tmp_path):
    check_pass("canonicalize,fuse,plan", graphs(ops=[LinearOp, ReluOp, AddOp], max_ops=4, dtypes=["float32"]),
               max_examples=6, c_examples=2, cache_dir=c_cache, reproducer_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_check_pass_refuses_bad_arguments():
    with pytest.raises(ValueError, match="unknown pass"):
        check_pass("no-such-pass")
    with pytest.raises(ValueError, match="backend"):
        check_pass("canonicalize", backends=("cuda",))


def test_nan_and_inf_constants_print_and_parse_back():
    text = """func.func @forward() -> tensor<4xf32> {
  %0 = hy.constant dense<[0x7FC00000, 0xFF800000, 0x7F800000, 1.5]> : tensor<4xf32>
  func.return %0 : tensor<4xf32>
}"""
    module = parse_module(text)
    (const,) = [op for op in module.walk() if isinstance(op, ConstantOp)]
    values = const.numpy()
    assert np.isnan(values[0]) and values[1] == -np.inf and values[2] == np.inf and values[3] == 1.5
    assert print_module(parse_module(print_module(module))) == print_module(module)
    f64 = parse_module("func.func @f() {\n %0 = hy.constant dense<0x7FF0000000000000> : tensor<2xf64>\n func.return\n}")
    assert [op for op in f64.walk() if isinstance(op, ConstantOp)][0].numpy().tolist() == [np.inf, np.inf]
