"""Issue 9: no hang, crash or silent wrong answer from any input. One test (or
more) per row of the issue's table; the C backend follows the NumPy
reference's rules (`backends/numpy.py`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region
from xdsl.utils.exceptions import ParseError

import hybridize
from hybridize.ir.checks import CheckError, verify_plan
from hybridize.ir.module import IRVerifyError, parse_module
from hybridize.ir.parser import Limits
from hybridize.ir.types import tensor_type

BIN = Path(sys.executable).parent
HEAD = "func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {\n"
TAIL = "  func.return %x : tensor<2xf32>\n}\n"


def opt_tool(path, *args, timeout=60):
    return subprocess.run([str(BIN / "opt-tool"), *map(str, args), str(path)], capture_output=True, text=True,
                          timeout=timeout)


def assert_located_error(r, path, where: str | None = None):
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith(f"{path}:"), first
    if where is not None:  # "2:3", or "2:" for any column of line 2
        assert first.startswith(f"{path}:{where}") and ": error: " in first, first
        assert where.endswith(":") or first.startswith(f"{path}:{where}: error: "), first


# --- parser: hangs, unbounded allocation, tracebacks, unlocated errors ---

HOSTILE = {
    # an unterminated string of >= 34 characters: exponential backtracking in xDSL's lexer
    "unterminated-string": (HEAD + '  %0 = hy.constant dense<"0x' + "0" * 80 + "\n" + TAIL, "2:"),
    # a splat that xDSL expands into a Python list of 2**31 floats
    "huge-splat": (HEAD + "  %0 = hy.constant dense<0.0> : tensor<2147483648xf32>\n" + TAIL, "2:25"),
    "float-out-of-range": (HEAD + "  %0 = hy.constant dense<1.0e39> : tensor<f32>\n" + TAIL, "2:"),
    "int-out-of-range": (
        "func.func @forward(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {\n"
        "  %0 = hy.slice %x starts [0, 0] steps [1, 99999999999999999999] : tensor<4x4xf32> -> tensor<4x4xf32>\n"
        "  func.return %x : tensor<4x4xf32>\n}\n", "2:"),
    "shape-beyond-63-bits": (
        "func.func @forward(%x: tensor<99999999999x99999999999xf32>) -> tensor<99999999999x99999999999xf32> {\n"
        "  func.return %x : tensor<99999999999x99999999999xf32>\n}\n", "1:1"),
    "complex": ("func.func @forward(%x: tensor<2xcomplex<f32>>) -> tensor<2xcomplex<f32>> {\n"
                "  func.return %x : tensor<2xcomplex<f32>>\n}\n", "1:1"),
    "use-before-def": (HEAD + "  %1 = hy.relu %0 : tensor<2xf32>\n  %0 = hy.relu %x : tensor<2xf32>\n"
                       "  func.return %1 : tensor<2xf32>\n}\n", "2:3"),
    "two-blocks": (HEAD + "  func.return %x : tensor<2xf32>\n^bb1:\n" + TAIL, "1:1"),
    "deep-nesting": ("[" * 5000 + "\n", "1:101"),
    "non-utf8": (HEAD.encode() + b"  %0 = hy.relu %x : tensor<2xf32> \xff\xfe\n" + TAIL.encode(), "2:35"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("target", [[], ["-t", "numpy"], ["-t", "c"]])
def test_hostile_ir_ends_in_a_located_error(tmp_path, name, target):
    text, where = HOSTILE[name]
    path = tmp_path / f"{name}.mlir"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    r = opt_tool(path, *target)  # the timeout turns a hang into a failure
    assert_located_error(r, path, where)


def test_parse_module_raises_only_parse_and_verify_errors():
    for name, (text, _) in HOSTILE.items():
        with pytest.raises((ParseError, IRVerifyError)):
            parse_module(text, f"{name}.mlir")


def test_size_limit_is_configurable():
    text = HEAD + "  %0 = hy.constant dense<0.0> : tensor<1024xf32>\n" + TAIL
    parse_module(text)
    with pytest.raises(ParseError, match="above the limit of 1000 bytes"):
        parse_module(text, limits=Limits(max_tensor_bytes=1000))


def test_broadcast_beyond_63_bits_is_refused():
    text = (
        "func.func @forward(%a: tensor<4294967296x1xf32>, %b: tensor<4294967296xf32>) -> tensor<4294967296x4294967296xf32> {\n"
        "  %0 = hy.add %a, %b : (tensor<4294967296x1xf32>, tensor<4294967296xf32>) -> tensor<4294967296x4294967296xf32>\n"
        "  func.return %0 : tensor<4294967296x4294967296xf32>\n}\n"
    )
    with pytest.raises(IRVerifyError, match="63 bits|above the limit"):
        parse_module(text)


def test_backends_run_the_module_checks_on_built_modules():
    block = Block(arg_types=[tensor_type((2,), "float32")])
    from hybridize.ir.elementwise import ReluOp

    first = ReluOp(block.args[0])
    second = ReluOp(first.results[0])
    block.add_op(second)  # uses `first` before it is defined
    block.add_op(first)
    block.add_op(ReturnOp(second.results[0]))
    m = ModuleOp([FuncOp("forward", ([block.args[0].type], [second.results[0].type]), Region(block))])
    for backend in ("numpy", "c"):
        with pytest.raises(CheckError, match="used before it is defined"):
            hybridize.build(m, backend)


# --- memory plans written in the IR are verified, never trusted ---

PLANNED = """func.func @forward(%x: tensor<1x8xf32>) -> tensor<1x8xf32> attributes {hy.arena = #hy.arena<bytes ARENA, lower_bound 64, no_reuse 64>} {
  %0 = hy.relu %x {hy.buf = #hy.buf<offset OFFSET, bytes BYTES, live 1 to END>} : tensor<1x8xf32>
  %1 = hy.exp %0 : tensor<1x8xf32>
  func.return %1 : tensor<1x8xf32>
}
"""


def planned(arena=64, offset=0, nbytes=64, end=3):
    return (PLANNED.replace("ARENA", str(arena)).replace("OFFSET", str(offset))
            .replace("BYTES", str(nbytes)).replace("END", str(end)))


def test_a_valid_plan_passes():
    m = parse_module(planned())
    x = np.random.rand(1, 8).astype(np.float32)
    np.testing.assert_allclose(hybridize.build(m, "numpy")(x), np.exp(np.maximum(x, 0)), rtol=1e-6)


@pytest.mark.parametrize("bad, message", [
    (dict(offset=64), "outside the arena"),
    (dict(offset=1 << 40), "outside the arena"),
    (dict(nbytes=16), "cannot hold"),
    (dict(offset=2, arena=128), "not aligned"),
    (dict(end=1), "read at step 3"),
])
def test_a_bad_plan_is_refused_with_its_location(tmp_path, bad, message):
    with pytest.raises(IRVerifyError, match=message):
        parse_module(planned(**bad))
    path = tmp_path / "plan.mlir"
    path.write_text(planned(**bad))
    assert_located_error(opt_tool(path, "-t", "c"), path, "2:3")


def test_overlapping_live_buffers_are_refused():
    text = """func.func @forward(%x: tensor<16xf32>) -> tensor<16xf32> attributes {hy.arena = #hy.arena<bytes 128, lower_bound 128, no_reuse 128>} {
  %0 = hy.relu %x {hy.buf = #hy.buf<offset 0, bytes 64, live 1 to 5>} : tensor<16xf32>
  %1 = hy.exp %x {hy.buf = #hy.buf<offset 32, bytes 64, live 3 to 5>} : tensor<16xf32>
  %2 = hy.add %0, %1 : (tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  func.return %2 : tensor<16xf32>
}
"""
    with pytest.raises(IRVerifyError, match="overlaps"):
        parse_module(text)


def test_inplace_claims_are_checked():
    text = """func.func @forward(%x: tensor<16xf32>) -> tensor<4x4xf32> attributes {hy.arena = #hy.arena<bytes 128, lower_bound 128, no_reuse 128>} {
  %0 = hy.relu %x {hy.buf = #hy.buf<offset 0, bytes 64, live 1 to 2>} : tensor<16xf32>
  %1 = hy.reshape %0 {hy.buf = #hy.buf<offset 0, bytes 64, live 3 to 5, inplace 0>} : tensor<16xf32> -> tensor<4x4xf32>
  %2 = hy.exp %1 : tensor<4x4xf32>
  func.return %2 : tensor<4x4xf32>
}
"""
    with pytest.raises(IRVerifyError, match="owns no buffer"):
        parse_module(text)


def test_plans_from_the_plan_pass_verify():
    from hybridize.ir.module import forward_func
    from hybridize.passes import run_pipeline
    from helpers import module

    m = run_pipeline(module(), "canonicalize,fuse,plan")
    verify_plan(forward_func(m))


# --- NumPy reference: every op the verifier accepts runs, with defined corners ---


def one_op(build, *types):
    block = Block(arg_types=[tensor_type(s, d) for s, d in types])
    op = build(*block.args)
    block.add_op(op)
    block.add_op(ReturnOp(op.results[0]))
    return ModuleOp([FuncOp("forward", ([a.type for a in block.args], [op.results[0].type]), Region(block))])


INT_DIV_CASES = (
    np.array([-7, 7, -7, 7, 5, np.iinfo(np.int64).min, 3, 0], np.int64),
    np.array([2, -2, -2, 2, 0, -1, 1, 0], np.int64),
    np.array([-3, -3, 3, 3, 0, np.iinfo(np.int64).min, 3, 0], np.int64),  # trunc; x/0 = 0; INT_MIN/-1 wraps
)


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_numpy_integer_division_rule(dtype):
    from hybridize.ir.elementwise import DivOp

    a, b, want = (x.astype(dtype) for x in INT_DIV_CASES)
    if dtype == "int32":
        a[5] = want[5] = np.iinfo(np.int32).min
    m = one_op(DivOp, ((8,), dtype), ((8,), dtype))
    np.testing.assert_array_equal(hybridize.build(m, "numpy")(a, b), want)


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_c_integer_division_rule(dtype, c_cache):
    from hybridize.ir.elementwise import DivOp

    a, b, want = (x.astype(dtype) for x in INT_DIV_CASES)
    if dtype == "int32":
        a[5] = want[5] = np.iinfo(np.int32).min
    m = one_op(DivOp, ((8,), dtype), ((8,), dtype))
    # in a child process: a SIGFPE must fail the test, not kill pytest
    code = (
        "import numpy as np, hybridize, pickle, sys\n"
        "m, a, b, cache = pickle.loads(sys.stdin.buffer.read())\n"
        "sys.stdout.buffer.write(pickle.dumps(np.asarray(hybridize.build(hybridize.parse_module(m), 'c', cache_dir=cache)(a, b))))\n"
    )
    import pickle

    r = subprocess.run([sys.executable, "-c", code], input=pickle.dumps((hybridize.print_module(m), a, b, str(c_cache))),
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()[-500:]
    np.testing.assert_array_equal(pickle.loads(r.stdout), want)


FLOATS = np.array([np.nan, 1e20, -1e20, 3.7, -3.7, np.inf, -np.inf, 2.0**63, -(2.0**63)], np.float32)
WANT_I64 = np.array([0, 2**63 - 1, -(2**63), 3, -3, 2**63 - 1, -(2**63), 2**63 - 1, -(2**63)], np.int64)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_float_to_int_cast_rule(backend, c_cache):
    from hybridize.ir.elementwise import CastOp
    from hybridize.ir.types import element_from_numpy

    m = one_op(lambda x: CastOp(x, element_from_numpy("int64")), ((9,), "float32"))
    kw = {"cache_dir": c_cache} if backend == "c" else {}
    np.testing.assert_array_equal(hybridize.build(m, backend, **kw)(FLOATS), WANT_I64)


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_c_integer_arithmetic_wraps(dtype, c_cache):
    from hybridize.ir.elementwise import AbsOp, AddOp, MulOp, NegOp, SubOp

    info = np.iinfo(dtype)
    a = np.array([info.max, info.min, info.min, 7, -3], dtype)
    b = np.array([1, -1, info.min, info.max, 2], dtype)
    with np.errstate(over="ignore"):
        for op, want in ((AddOp, a + b), (SubOp, a - b), (MulOp, a * b)):
            m = one_op(op, ((5,), dtype), ((5,), dtype))
            np.testing.assert_array_equal(hybridize.build(m, "c", cache_dir=c_cache)(a, b), want)
        for op, want in ((NegOp, -a), (AbsOp, np.abs(a))):
            m = one_op(op, ((5,), dtype))
            np.testing.assert_array_equal(hybridize.build(m, "c", cache_dir=c_cache)(a), want)


def test_c_runs_i1_arithmetic_like_numpy(c_cache):
    from hybridize.ir.elementwise import AddOp, DivOp, MulOp, SubOp

    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    for op in (SubOp, AddOp, MulOp, DivOp):
        m = one_op(op, ((4,), "bool"), ((4,), "bool"))
        np.testing.assert_array_equal(hybridize.build(m, "c", cache_dir=c_cache)(a, b), hybridize.build(m, "numpy")(a, b))


@pytest.mark.parametrize("src, dst", [("float64", "int64"), ("float32", "int32"), ("float64", "int32")])
def test_c_float_to_int_casts_saturate(src, dst, c_cache):
    from hybridize.backends.numpy import float_to_int
    from hybridize.ir.elementwise import CastOp
    from hybridize.ir.types import element_from_numpy

    x = np.array([np.nan, -np.inf, np.inf, 2.0**31, -(2.0**31), 2.0**31 - 1, -(2.0**31) - 1, 2.0**63, -(2.0**63),
                  -0.9, 0.9, 123456.75], src)
    m = one_op(lambda v: CastOp(v, element_from_numpy(dst)), ((12,), src))
    np.testing.assert_array_equal(hybridize.build(m, "c", cache_dir=c_cache)(x), float_to_int(x, dst))


def test_c_float_rules_stay_plain():
    """The float expressions are the hot path: no integer guards in them."""
    from hybridize.backends.c.scalar import scalar_expr
    from hybridize.ir.elementwise import AddOp, DivOp, MulOp, NegOp, SubOp

    block = Block(arg_types=[tensor_type((2,), "float32")] * 2)
    x, y = block.args
    for op, want in ((AddOp(x, y), "(a + b)"), (SubOp(x, y), "(a - b)"), (MulOp(x, y), "(a * b)"),
                     (DivOp(x, y), "(a / b)"), (NegOp(x), "(-a)")):
        assert scalar_expr(op, ["a", "b"][: len(op.operands)], "float") == want


def test_numpy_runs_i1_arithmetic():
    from hybridize.ir.elementwise import AddOp, DivOp, MulOp, ReluOp, SubOp

    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    for op, want in ((SubOp, a ^ b), (AddOp, a | b), (MulOp, a & b), (DivOp, a & b)):
        m = one_op(op, ((4,), "bool"), ((4,), "bool"))
        np.testing.assert_array_equal(hybridize.build(m, "numpy")(a, b), want)
    np.testing.assert_array_equal(hybridize.build(one_op(ReluOp, ((4,), "bool")), "numpy")(a), a)


def test_zero_size_dimensions_run_on_numpy():
    from hybridize.ir.nn import AttentionOp, Conv2dOp, SoftmaxOp
    from hybridize.ir.reduce import ReduceMeanOp

    x = np.zeros((2, 0), np.float32)
    assert hybridize.build(one_op(lambda v: SoftmaxOp(v, 1), ((2, 0), "float32")), "numpy")(x).shape == (2, 0)
    mean = hybridize.build(one_op(lambda v: ReduceMeanOp(v, [1]), ((2, 0), "float32")), "numpy")(x)
    assert np.isnan(mean).all()  # the mean of nothing is NaN, as torch.mean
    conv = one_op(lambda v, w: Conv2dOp(v, w, padding=(1, 1)), ((1, 0, 5, 5), "float32"), ((2, 0, 3, 3), "float32"))
    y = hybridize.build(conv, "numpy")(np.zeros((1, 0, 5, 5), np.float32), np.zeros((2, 0, 3, 3), np.float32))
    np.testing.assert_array_equal(y, np.zeros((1, 2, 5, 5), np.float32))
    q = np.random.rand(1, 2, 3, 4).astype(np.float32)
    k = np.zeros((1, 2, 0, 4), np.float32)
    attn = one_op(lambda a, b, c: AttentionOp(a, b, c, scale=0.5), ((1, 2, 3, 4), "float32"),
                  ((1, 2, 0, 4), "float32"), ((1, 2, 0, 4), "float32"))
    np.testing.assert_array_equal(hybridize.build(attn, "numpy")(q, k, k), np.zeros((1, 2, 3, 4), np.float32))


def test_max_over_an_empty_axis_is_refused():
    from xdsl.utils.exceptions import VerifyException

    from hybridize.ir.reduce import ReduceMaxOp

    with pytest.raises(VerifyException, match="no identity"):
        one_op(lambda v: ReduceMaxOp(v, [1]), ((2, 0), "float32")).verify()


def test_c_conv_with_zero_channels(c_cache):
    from hybridize.ir.nn import Conv2dOp

    m = one_op(lambda v, w, b: Conv2dOp(v, w, b, padding=(1, 1)), ((1, 0, 5, 5), "float32"),
               ((2, 0, 3, 3), "float32"), ((2,), "float32"))
    args = (np.zeros((1, 0, 5, 5), np.float32), np.zeros((2, 0, 3, 3), np.float32), np.array([1.5, -2], np.float32))
    np.testing.assert_array_equal(hybridize.build(m, "c", cache_dir=c_cache)(*args),
                                  hybridize.build(m, "numpy")(*args))


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("batch", [1, "dynamic"])
def test_c_conv_with_zero_channels_constant_weights_and_epilogue(bias, batch, c_cache):
    from hybridize.ir.elementwise import AddOp, ExpOp
    from hybridize.ir.nn import Conv2dOp
    from hybridize.ir.structure import ConstantOp
    from hybridize.ir.types import DYNAMIC

    n = DYNAMIC if batch == "dynamic" else 1
    block = Block(arg_types=[tensor_type((n, 0, 5, 5), "float32"), tensor_type((n, 2, 5, 5), "float32")])
    consts = [ConstantOp(np.zeros((2, 0, 3, 3), np.float32))]
    if bias:
        consts.append(ConstantOp(np.array([1.5, -2], np.float32)))
    for c in consts:
        block.add_op(c)
    conv = Conv2dOp(block.args[0], *[c.results[0] for c in consts], padding=(1, 1))
    add = AddOp(conv.results[0], block.args[1])
    exp = ExpOp(add.results[0])
    for op in (conv, add, exp, ReturnOp(exp.results[0])):
        block.add_op(op)
    m = ModuleOp([FuncOp("forward", ([a.type for a in block.args], [exp.results[0].type]), Region(block))])
    rows = 3 if batch == "dynamic" else 1
    args = (np.zeros((rows, 0, 5, 5), np.float32), np.random.rand(rows, 2, 5, 5).astype(np.float32))
    want = hybridize.build(m, "numpy")(*args)
    got = hybridize.build(hybridize.optimize(m), "c", cache_dir=c_cache)(*args)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("bad", ["weight-inf", "mean-inf", "var-nan", "bias-inf", "scale-overflows"])
def test_batch_norm_folding_keeps_results_with_non_finite_parameters(bad):
    from hybridize.ir.nn import BatchNormOp
    from hybridize.ir.structure import ConstantOp

    mean, var = np.array([0.5, -1], np.float32), np.array([1, 4], np.float32)
    weight, bias = np.array([2, 1], np.float32), np.array([0, 1], np.float32)
    if bad == "weight-inf":
        weight[0] = np.inf
    elif bad == "mean-inf":
        mean[1] = -np.inf
    elif bad == "var-nan":
        var[0] = np.nan
    elif bad == "bias-inf":
        bias[1] = np.inf
    else:  # finite parameters whose folded shift overflows float32
        mean[0], weight[0] = 3e38, 1e3
    block = Block(arg_types=[tensor_type((3, 2, 4), "float32")])
    consts = [ConstantOp(a) for a in (mean, var, weight, bias)]
    for c in consts:
        block.add_op(c)
    bn = BatchNormOp(block.args[0], *[c.results[0] for c in consts])
    block.add_op(bn)
    block.add_op(ReturnOp(bn.results[0]))
    m = ModuleOp([FuncOp("forward", ([block.args[0].type], [bn.results[0].type]), Region(block))])
    x = np.random.rand(3, 2, 4).astype(np.float32)
    x[0, 0, :3] = [np.inf, -np.inf, 3e38]
    x[1, 1, :2] = [-np.inf, np.nan]
    with np.errstate(all="ignore"):
        want = hybridize.build(m, "numpy")(x)
        folded = hybridize.optimize(m, "canonicalize")
        np.testing.assert_array_equal(hybridize.build(folded, "numpy")(x), want)


NAN_CASES = ["masked-attention", "causal-attention", "fully-masked-attention", "padded-conv", "adaptive-pool"]


@pytest.mark.parametrize("case", NAN_CASES)
def test_c_nan_propagates_like_numpy(case, c_cache):
    from hybridize.ir.nn import AdaptiveAvgPool2dOp, AttentionOp, Conv2dOp

    x = np.random.rand(1, 2, 5, 5).astype(np.float32)
    x[0, 0, 2, 2] = np.nan
    x[0, 1, 0, 0] = np.inf
    if case == "padded-conv":
        m = one_op(lambda v, w: Conv2dOp(v, w, padding=(1, 1)), ((1, 2, 5, 5), "float32"), ((2, 2, 3, 3), "float32"))
        args = (x, np.random.rand(2, 2, 3, 3).astype(np.float32))
    elif case == "adaptive-pool":
        m = one_op(lambda v: AdaptiveAvgPool2dOp(v, (3, 3)), ((1, 2, 5, 5), "float32"))
        args = (x,)
    elif case == "causal-attention":  # keys after the query weigh 0, and 0 * Inf is NaN
        m = one_op(lambda q, k, v: AttentionOp(q, k, v, scale=0.5, causal=True), *[((1, 2, 5, 5), "float32")] * 3)
        v = np.random.rand(1, 2, 5, 5).astype(np.float32)
        v[0, 0, 4, 1] = np.inf
        v[0, 1, 3, 2] = np.nan
        args = (np.random.rand(1, 2, 5, 5).astype(np.float32),) * 2 + (v,)
    else:
        mask = np.ones((5, 5), bool)
        mask[:, 0] = False
        if case == "fully-masked-attention":
            mask[2] = False
        m = one_op(lambda q, k, v, mk: AttentionOp(q, k, v, mk, scale=0.5), *[((1, 2, 5, 5), "float32")] * 3,
                   ((5, 5), "bool"))
        args = (x, x, x, mask)
    want = hybridize.build(m, "numpy")(*args)
    got = hybridize.build(m, "c", cache_dir=c_cache)(*args)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


# --- frontends: TorchScript archives of every op, training mode ---


@pytest.mark.torch
@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_archive_with_conv_gelu_pooling_norms_reductions_attention(tmp_path, how):
    import warnings

    import torch
    from torch import nn
    from torch.nn import functional as F

    class Kitchen(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.ln = nn.LayerNorm(8)
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            y = F.gelu(self.bn(self.conv(x)))
            y = F.max_pool2d(y, 2)
            y = F.adaptive_avg_pool2d(y, (2, 2)).flatten(1)
            q = self.ln(self.fc(torch.cat([y[:, :8], y[:, 8:]], 0)))
            a = F.scaled_dot_product_attention(q[None, None], q[None, None], q[None, None])
            return a.sum(-1) + q.mean(-1)

    net = Kitchen().eval()
    x = torch.randn(1, 3, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        archive = torch.jit.script(net) if how == "script" else torch.jit.trace(net, (x,))
        archive.save(str(tmp_path / "k.pt"))
    fast = hybridize.build(hybridize.trace(str(tmp_path / "k.pt"), x), "numpy")
    with torch.no_grad():
        np.testing.assert_allclose(fast(x.numpy()), net(x).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.torch
def test_training_mode_is_refused_unless_asked_for():
    import torch
    from torch import nn

    from hybridize.frontends.torch import TrainingModeError

    net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    x = torch.randn(3, 4)
    with pytest.raises(TrainingModeError, match="BatchNorm1d, Dropout.*force_eval=True"):
        hybridize.trace(net, x)
    hybridize.trace(net, x, force_eval=True)
    assert net.training
    hybridize.trace(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), x)  # nothing depends on the mode


# --- found by `make fuzz` on an AVX-512 machine ---


def test_a_long_quoted_value_keeps_its_error_short_and_located(tmp_path):
    # the error quoted all 5,000 characters, so a reader of the first 3,000
    # (the fuzzer) lost the `file:line:col:` in front
    for op in ('hy.gelu %x approximate "l' + "(" * 5000 + 'inear"',
               'hy.resize %y mode "' + "(" * 5000 + 'nearest"'):
        path = tmp_path / "long.mlir"
        path.write_text(
            "func.func @forward(%x: tensor<2xf32>, %y: tensor<1x4x5x6xf32>) -> tensor<2xf32> {\n"
            f"  %0 = {op} : {'tensor<2xf32>' if 'gelu' in op else 'tensor<1x4x5x6xf32> -> tensor<1x4x10x12xf32>'}\n"
            "  func.return %x : tensor<2xf32>\n}\n"
        )
        r = opt_tool(path)
        assert_located_error(r, path, "2:3")
        assert len(r.stderr) < 1000 and "more characters" in r.stderr, r.stderr[:200]


def test_c_matrix_vector_epilogue_stays_in_its_output(c_cache):
    # matmul's row kernel stores a matrix @ vector output as m rows of one
    # element; the fused epilogue ran m elements from each, past the output
    # and reading the other operand at the wrong index
    text = (
        "func.func @forward(%a: tensor<BxMx5xT>, %v: tensor<5xT>, %e: tensor<MxT>) -> tensor<BxMxT> {\n"
        "  %0 = hy.matmul %a, %v : (tensor<BxMx5xT>, tensor<5xT>) -> tensor<BxMxT>\n"
        "  %1 = hy.sin %0 : tensor<BxMxT>\n"
        "  %2 = hy.minimum %e, %1 : (tensor<MxT>, tensor<BxMxT>) -> tensor<BxMxT>\n"
        "  func.return %2 : tensor<BxMxT>\n}\n"
    )
    rng = np.random.default_rng(0)
    for b, m, t in ((1, 4, "f32"), (3, 7, "f32"), (2, 3, "f64")):
        module = parse_module(text.replace("B", str(b)).replace("M", str(m)).replace("T", t))
        dtype = np.float32 if t == "f32" else np.float64
        args = [rng.standard_normal(s).astype(dtype) for s in ((b, m, 5), (5,), (m,))]
        fused = hybridize.optimize(module)
        assert any(op.name == "hy.fused" for op in fused.walk())
        want = hybridize.build(module, "numpy")(*args)
        np.testing.assert_allclose(hybridize.build(fused, "c", cache_dir=c_cache)(*args), want, rtol=1e-5)


ZERO_SIGN_OPS = {
    "relu": "hy.relu %x : tensor<6xT>",
    "elu": "hy.elu %x alpha 5.000000e-01 : tensor<6xT>",
}


@pytest.mark.torch
@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ZERO_SIGN_OPS))
def test_relu_and_elu_keep_negative_zero_as_torch(name, dtype, backend, c_cache):
    # np.maximum(-0.0, 0) is +0.0 on NumPy's AVX-512 loop; PyTorch and C keep
    # -0.0, and a later rsqrt or division turns the sign into -inf against +inf
    import torch

    t = "f32" if dtype == "float32" else "f64"
    m = parse_module(
        f"func.func @forward(%x: tensor<6x{t}>) -> tensor<6x{t}> {{\n"
        f"  %0 = {ZERO_SIGN_OPS[name].replace('T', t)}\n"
        f"  %1 = hy.reciprocal %0 : tensor<6x{t}>\n"
        f"  func.return %1 : tensor<6x{t}>\n}}\n"
    )
    x = np.array([-0.0, 0.0, -1.0, 2.0, np.nan, -np.inf], dtype)
    fn = torch.relu if name == "relu" else (lambda v: torch.nn.functional.elu(v, 0.5))
    want = torch.reciprocal(fn(torch.from_numpy(x))).numpy()
    for pipeline in ("plan", "canonicalize,fuse,plan"):
        model = hybridize.build(hybridize.optimize(m, pipeline), backend,
                                **({"cache_dir": c_cache} if backend == "c" else {}))
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(model(x), want)


SIGNED_ZERO_REDUCTIONS = {  # body over %x: tensor<4x37x5xf32>, yielding %r (its type after the colon)
    "reduce_max": "%b = hy.reduce_max %x axes [1] : X -> tensor<4x5xf32>\n  %r = hy.reciprocal %b : tensor<4x5xf32>",
    "reduce_min": "%b = hy.reduce_min %x axes [1, 2] : X -> tensor<4xf32>\n  %r = hy.reciprocal %b : tensor<4xf32>",
    "reduce_max_fused": ("%b = hy.reduce_max %x axes [2] keepdim : X -> tensor<4x37x1xf32>\n"
                         "  %c = hy.sub %x, %b : (X, tensor<4x37x1xf32>) -> X\n  %r = hy.reciprocal %c : X"),
    "max_pool2d": ("%y = hy.reshape %x : X -> tensor<4x1x37x5xf32>\n  %p = hy.max_pool2d %y kernel [2, 2] stride [1, 1] "
                   "padding [0, 0] : tensor<4x1x37x5xf32> -> tensor<4x1x36x4xf32>\n"
                   "  %r = hy.reciprocal %p : tensor<4x1x36x4xf32>"),
    "cumsum": "%b = hy.cumsum %x axis 1 : X\n  %r = hy.reciprocal %b : X",
}


@pytest.mark.parametrize("name", sorted(SIGNED_ZERO_REDUCTIONS))
def test_max_min_and_scans_give_zero_one_sign_on_both_backends(name, c_cache):
    # which of -0.0 and 0.0 a max keeps on a tie depended on loop order
    # (NumPy's SIMD loop, C's lanes and taps), and np.cumsum started from
    # the first element (-0.0) where C and PyTorch start from +0.0
    x_type = "tensor<4x37x5xf32>"
    body = SIGNED_ZERO_REDUCTIONS[name].replace("X", x_type)
    r_type = body.rsplit(": ", 1)[1]
    m = parse_module(f"func.func @forward(%x: {x_type}) -> {r_type} {{\n  {body}\n  func.return %r : {r_type}\n}}\n")
    x = np.random.default_rng(1).choice(np.array([-0.0, 0.0, -1.0], np.float32), size=(4, 37, 5))
    with np.errstate(all="ignore"):
        want = hybridize.build(m, "numpy")(x)
        if name.startswith(("reduce", "max_pool")):
            assert not np.isneginf(want).any() or name == "reduce_max_fused"
        if name == "cumsum":
            assert not np.isneginf(want[:, 0]).any()  # 1 / cumsum(-0.0) = 1 / 0.0
        for pipeline in ("plan", "canonicalize,fuse,plan"):
            fast = hybridize.optimize(m, pipeline)
            np.testing.assert_array_equal(hybridize.build(fast, "numpy")(x), want)
            np.testing.assert_array_equal(hybridize.build(fast, "c", cache_dir=c_cache)(x), want)


@pytest.mark.parametrize("op", ["hy.softmax", "hy.log_softmax"])
def test_softmax_of_an_empty_constant_folds_to_empty(op):
    """Fuzz seed 166646210: canonicalize folded log_softmax of dense<> : tensor<0xf64>
    through the NumPy rule, whose max over the empty axis raised."""
    from hybridize.ir import parse_module

    text = f"""
func.func @forward(%x: tensor<2xf64>) -> (tensor<0xf64>, tensor<2xf64>) {{
  %0 = hy.constant dense<> : tensor<0xf64>
  %1 = {op} %0 axis 0 : tensor<0xf64>
  %2 = {op} %x axis 0 : tensor<2xf64>
  func.return %1, %2 : tensor<0xf64>, tensor<2xf64>
}}"""
    module = parse_module(text)
    x = np.array([1.0, 3.0])
    for m in (module, hybridize.optimize(module)):
        empty, full = hybridize.build(m, "numpy")(x)
        assert empty.shape == (0,)
        assert np.isfinite(full).all()
