"""Elementwise ops: each op against PyTorch (or NumPy) on edge values, on both
backends; fused loops that mix element types; a property that random chains
of these ops agree between the NumPy and C backends; the PyTorch converters."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_helpers import Lambda, build_module, run, trace_and_compare
from xdsl.dialects.builtin import ModuleOp, f32, f64, i1, i32
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

import hybridize
from hybridize.ir import elementwise as ew
from hybridize.ir.linalg import LinearOp
from hybridize.ir.module import print_module
from hybridize.ir.shape import BroadcastOp
from hybridize.ir.structure import ConstantOp, FusedOp
from hybridize.ir.types import tensor_type

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy warns on NaN, inf and overflow


def edge_values(dtype, n_random: int = 200, seed: int = 0) -> np.ndarray:
    """NaN, infinities, signed zeros, tiny and large values, then random ones."""
    special = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1e-4, -1e-4, 0.5, -0.5, 1.0, -1.0,
               3.0, -3.0, 19.5, 20.0, 20.5, -20.0, 88.0, 100.0, -100.0, 1e4, -1e4]  # fmt: skip
    rng = np.random.default_rng(seed)
    return np.concatenate([special, rng.standard_normal(n_random) * 4]).astype(dtype)


# --- unary ops vs PyTorch ---

UNARY = {
    "neg": (ew.NegOp, lambda torch, F: torch.neg),
    "abs": (ew.AbsOp, lambda torch, F: torch.abs),
    "relu": (ew.ReluOp, lambda torch, F: torch.relu),
    "exp": (ew.ExpOp, lambda torch, F: torch.exp),
    "expm1": (ew.Expm1Op, lambda torch, F: torch.expm1),
    "log": (ew.LogOp, lambda torch, F: torch.log),
    "log1p": (ew.Log1pOp, lambda torch, F: torch.log1p),
    "sqrt": (ew.SqrtOp, lambda torch, F: torch.sqrt),
    "rsqrt": (ew.RsqrtOp, lambda torch, F: torch.rsqrt),
    "reciprocal": (ew.ReciprocalOp, lambda torch, F: torch.reciprocal),
    "erf": (ew.ErfOp, lambda torch, F: torch.erf),
    "sigmoid": (ew.SigmoidOp, lambda torch, F: torch.sigmoid),
    "tanh": (ew.TanhOp, lambda torch, F: torch.tanh),
    "sin": (ew.SinOp, lambda torch, F: torch.sin),
    "cos": (ew.CosOp, lambda torch, F: torch.cos),
    "floor": (ew.FloorOp, lambda torch, F: torch.floor),
    "silu": (ew.SiluOp, lambda torch, F: F.silu),
    "hardswish": (ew.HardswishOp, lambda torch, F: F.hardswish),
    "hardsigmoid": (ew.HardsigmoidOp, lambda torch, F: F.hardsigmoid),
    "softplus": (ew.SoftplusOp, lambda torch, F: F.softplus),
    "gelu": (lambda x: ew.GeluOp(x), lambda torch, F: F.gelu),
    "gelu_tanh": (lambda x: ew.GeluOp(x, "tanh"), lambda torch, F: lambda t: F.gelu(t, approximate="tanh")),
    "leaky_relu": (lambda x: ew.LeakyReluOp(x, 0.2), lambda torch, F: lambda t: F.leaky_relu(t, 0.2)),
    "elu": (lambda x: ew.EluOp(x, 1.3), lambda torch, F: lambda t: F.elu(t, 1.3)),
    "clamp": (lambda x: ew.ClampOp(x, -1.5, 2.0), lambda torch, F: lambda t: t.clamp(-1.5, 2.0)),
    "clamp_min": (lambda x: ew.ClampOp(x, min=0.25), lambda torch, F: lambda t: t.clamp(min=0.25)),
    "clamp_max": (lambda x: ew.ClampOp(x, max=6.0), lambda torch, F: lambda t: t.clamp(max=6.0)),
}
# float32 agreement with PyTorch: a few ulps; erf/gelu exact to 1e-6
TOL = {"float32": dict(rtol=2e-6, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-14)}


@pytest.fixture(scope="module")
def unary_results(c_cache):
    """Every unary op on the edge values, per dtype and backend (one build each)."""
    results = {}
    for dtype in ("float32", "float64"):
        x = edge_values(dtype)
        module = build_module(
            [tensor_type(x.shape, dtype)], lambda emit, a: [emit(make(a)) for make, _ in UNARY.values()]
        )
        for backend in ("numpy", "c"):
            outs = run(module, backend, c_cache, x, pipeline="plan")
            results[dtype, backend] = dict(zip(UNARY, outs))
    return results


@pytest.mark.torch
@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_op_matches_torch(name, dtype, backend, unary_results):
    torch = pytest.importorskip("torch")
    fn = UNARY[name][1](torch, torch.nn.functional)
    x = edge_values(dtype)
    expected = fn(torch.from_numpy(x)).numpy()
    if name == "gelu":
        # torch's AVX-512 gelu gives NaN at +inf (its scalar path, and the limit, inf)
        expected = np.where(np.isposinf(x), np.inf, expected)
    got = unary_results[dtype, backend][name]
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, equal_nan=True, **TOL[dtype])


def test_erf_is_accurate_to_double_precision():
    import math

    from hybridize.backends.special import erf

    x = np.concatenate([np.linspace(-7, 7, 20001), np.logspace(-20, 0.8, 2000), [0.5, 6.0]])
    exact = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(erf(x), exact, rtol=2e-14, atol=0)
    assert erf(np.array([np.inf, -np.inf])).tolist() == [1.0, -1.0]
    assert np.isnan(erf(np.array([np.nan]))).all()
    # float32 in, float32 out, correctly rounded on these points
    x32 = x.astype(np.float32)
    exact32 = np.array([math.erf(float(v)) for v in x32]).astype(np.float32)
    assert erf(x32).dtype == np.float32
    np.testing.assert_array_equal(erf(x32), exact32)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_integer_neg_abs_and_clamp(backend, c_cache):
    x = np.array([-7, -1, 0, 3, 9], np.int64)
    module = build_module(
        [tensor_type((5,), "int64")],
        lambda emit, a: [emit(ew.NegOp(a)), emit(ew.AbsOp(a)), emit(ew.ClampOp(a, -2, 4)), emit(ew.ReluOp(a))],
    )
    neg, ab, cl, re = run(module, backend, c_cache, x, pipeline="plan")
    assert neg.dtype == ab.dtype == cl.dtype == np.int64
    np.testing.assert_array_equal(neg, -x)
    np.testing.assert_array_equal(ab, np.abs(x))
    np.testing.assert_array_equal(cl, np.clip(x, -2, 4))
    np.testing.assert_array_equal(re, np.maximum(x, 0))


# --- binary ops, comparisons, logic, where, casts ---


def _two_operands(dtype):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 1, 4)).astype(dtype) * 3
    b = rng.standard_normal((5, 4)).astype(dtype) * 3
    a.flat[:4] = [np.nan, np.inf, -2.0, 0.0]
    b[0] = [1.0, np.nan, -np.inf, 0.5]
    b[1, 2] = a[1, 0, 2]  # an equal pair for eq/le/ge
    return a, b


BINARY = {
    "pow": (ew.PowOp, lambda torch: torch.pow),
    "maximum": (ew.MaximumOp, lambda torch: torch.maximum),
    "minimum": (ew.MinimumOp, lambda torch: torch.minimum),
    "eq": (ew.EqOp, lambda torch: torch.eq),
    "ne": (ew.NeOp, lambda torch: torch.ne),
    "lt": (ew.LtOp, lambda torch: torch.lt),
    "le": (ew.LeOp, lambda torch: torch.le),
    "gt": (ew.GtOp, lambda torch: torch.gt),
    "ge": (ew.GeOp, lambda torch: torch.ge),
}


@pytest.mark.torch
@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_binary_ops_broadcast_and_match_torch(backend, c_cache):
    torch = pytest.importorskip("torch")
    a, b = _two_operands("float32")
    module = build_module(
        [tensor_type(a.shape, "float32"), tensor_type(b.shape, "float32")],
        lambda emit, x, y: [emit(cls(x, y)) for cls, _ in BINARY.values()],
    )
    outs = run(module, backend, c_cache, a, b, pipeline="plan")
    for (name, (_, fn)), got in zip(BINARY.items(), outs):
        expected = fn(torch)(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        assert got.shape == (3, 5, 4) and got.dtype == expected.dtype, name
        np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-6, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_logic_and_three_way_where(backend, c_cache):
    rng = np.random.default_rng(2)
    p, q = rng.random((3, 1)) < 0.5, rng.random((4,)) < 0.5
    a = rng.standard_normal((1, 4)).astype(np.float32)
    b = np.array([[np.nan], [2.0]], np.float32)  # (2, 1)
    cond = rng.random((3, 1, 1)) < 0.5

    def body(emit, p_, q_, c_, a_, b_):
        return [
            emit(ew.AndOp(p_, q_)),
            emit(ew.OrOp(p_, q_)),
            emit(ew.XorOp(p_, q_)),
            emit(ew.NotOp(p_)),
            emit(ew.WhereOp(c_, a_, b_)),
        ]

    types = [tensor_type(v.shape, v.dtype) for v in (p, q, cond, a, b)]
    got = run(build_module(types, body), backend, c_cache, p, q, cond, a, b, pipeline="plan")
    expected = [p & q, p | q, p ^ q, ~p, np.where(cond, a, b)]
    for g, e in zip(got, expected):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


CAST_INPUTS = {
    "float32": np.array([-99.75, -2.5, -1.5, -0.5, -0.0, 0.0, 0.25, 1.99, 2.5, 100.5], np.float32),
    "float64": np.array([-99.75, -2.5, -1.5, -0.5, -0.0, 0.0, 1e-300, 1.99, 2.5, 100.5], np.float64),
    "int64": np.array([-100, -3, -1, 0, 0, 1, 2, 7, 99, 100], np.int64),
    "int32": np.array([-100, -3, -1, 0, 0, 1, 2, 7, 99, 100], np.int32),
    "bool": np.array([True, False, True, True, False, False, True, False, True, True]),
}


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_casts_follow_numpy_astype(backend, c_cache):
    names = list(CAST_INPUTS)
    types = [tensor_type((10,), name) for name in names]
    elems = [t.element_type for t in types]
    module = build_module(types, lambda emit, *xs: [emit(ew.CastOp(x, e)) for x in xs for e in elems])
    got = run(module, backend, c_cache, *CAST_INPUTS.values(), pipeline="plan")
    expected = [CAST_INPUTS[src].astype(dst) for src in names for dst in names]
    for g, e, (src, dst) in zip(got, expected, [(s, d) for s in names for d in names]):
        assert g.dtype == e.dtype, (src, dst)
        np.testing.assert_array_equal(g, e, err_msg=f"{src} -> {dst}")


def test_float_to_bool_cast_is_nonzero_nan_included(c_cache):
    x = np.array([np.nan, 0.0, -0.0, 1e-38, -np.inf], np.float32)
    module = build_module([tensor_type((5,), "float32")], lambda emit, a: [emit(ew.CastOp(a, i1))])
    for backend in ("numpy", "c"):
        (got,) = run(module, backend, c_cache, x, pipeline="plan")
        assert got.tolist() == [True, False, False, True, True]


# --- fused loops mixing element types ---


def mixed_chain(emit, x, y):
    """compare (i1) -> where (f32) -> cast to i32 -> cast back -> mul, plus an
    i1 -> f32 cast of the mask."""
    mask = emit(ew.GtOp(x, y))
    picked = emit(ew.WhereOp(mask, x, y))
    as_int = emit(ew.CastOp(picked, i32))
    back = emit(ew.CastOp(as_int, f32))
    return [emit(ew.MulOp(back, x)), emit(ew.CastOp(emit(ew.NotOp(mask)), f64))]


def test_fused_mixed_type_chain_runs_as_one_kernel_in_c(c_cache):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((6, 5)) * 10).astype(np.float32)
    y = (rng.standard_normal(5) * 10).astype(np.float32)
    module = build_module([tensor_type((6, 5), "float32"), tensor_type((5,), "float32")], mixed_chain)
    fused = hybridize.optimize(module, "canonicalize,fuse,plan")
    groups = [op for op in fused.walk() if isinstance(op, FusedOp)]
    assert len(groups) == 2
    body_types = {str(r.type.element_type) for g in groups for op in g.ops for r in op.results}
    assert body_types == {"i1", "i32", "f32", "f64"}
    mask = x > y
    expected = [np.where(mask, x, y).astype(np.int32).astype(np.float32) * x, (~mask).astype(np.float64)]
    for backend in ("numpy", "c"):
        got = run(fused, backend, c_cache, x, y, pipeline="")
        for g, e in zip(got, expected):
            assert g.dtype == e.dtype
            np.testing.assert_array_equal(g, e)
    source = hybridize.build(fused, "c", cache_dir=c_cache).source
    assert "const _Bool t0" in source and "const int32_t" in source and "const double" in source


def test_mixed_type_epilogue_of_an_anchor(c_cache):
    # linear -> (h > 0.1) -> cast to f32 -> + 1: the epilogue runs in the linear's row loop
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 8)).astype(np.float32)
    w = rng.standard_normal((5, 8)).astype(np.float32)

    def body(emit, a):
        h = emit(LinearOp(a, emit(ConstantOp(w))))
        mask = emit(ew.GtOp(h, emit(ConstantOp(np.array(0.1, np.float32)))))
        one = emit(ConstantOp(np.array(1.0, np.float32)))
        return [emit(ew.AddOp(emit(ew.CastOp(mask, f32)), one))]

    module = hybridize.optimize(build_module([tensor_type((3, 8), "float32")], body), "canonicalize,fuse,plan")
    (group,) = [op for op in module.walk() if isinstance(op, FusedOp)]
    assert [op.name for op in group.ops] == ["hy.linear", "hy.gt", "hy.cast", "hy.add"]
    h = x @ w.T
    for backend in ("numpy", "c"):
        (got,) = run(module, backend, c_cache, x, pipeline="")
        np.testing.assert_array_equal(got, (h > 0.1) + np.float32(1))


# --- property: random chains agree between the NumPy and C backends ---

FLOAT_UNARY = [
    ew.NegOp, ew.AbsOp, ew.ExpOp, ew.LogOp, ew.SqrtOp, ew.RsqrtOp, ew.ReciprocalOp, ew.ErfOp,
    ew.SigmoidOp, ew.TanhOp, ew.SinOp, ew.CosOp, ew.FloorOp, ew.SiluOp, ew.HardswishOp,
    ew.HardsigmoidOp, ew.SoftplusOp, ew.ReluOp, ew.Expm1Op, ew.Log1pOp,
    lambda x: ew.GeluOp(x), lambda x: ew.GeluOp(x, "tanh"), lambda x: ew.LeakyReluOp(x, 0.1),
    lambda x: ew.EluOp(x, 0.7), lambda x: ew.ClampOp(x, -2.0, 1.5), lambda x: ew.ClampOp(x, min=0.5),
]  # fmt: skip
FLOAT_BINARY = [ew.AddOp, ew.SubOp, ew.MulOp, ew.MaximumOp, ew.MinimumOp, ew.PowOp]
COMPARE = [ew.EqOp, ew.NeOp, ew.LtOp, ew.LeOp, ew.GtOp, ew.GeOp]
LOGIC = [ew.AndOp, ew.OrOp, ew.XorOp]
SHAPES = [(4, 5), (5,), (4, 1), (1, 5), (1,)]  # 0-d inputs: the runtime passes them as (1,)


class ChainCase:
    """A drawn chain; its repr is the IR, so failures print readably."""

    def __init__(self, module, inputs):
        self.module, self.inputs = module, inputs

    def __repr__(self) -> str:
        return print_module(self.module)


@st.composite
def elementwise_chains(draw, max_ops: int = 12):
    """A random DAG of elementwise ops over f32 inputs of broadcastable shapes,
    touching floats (f32, f64), integers (i32) and masks (i1). Float-to-int
    casts go through a NaN/inf-free clamp (their result is undefined otherwise)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shapes = [(4, 5)] + [draw(st.sampled_from(SHAPES)) for _ in range(draw(st.integers(0, 2)))]
    block = Block(arg_types=[tensor_type(s, "float32") for s in shapes])
    values = list(block.args)

    def emit(op):
        block.add_op(op)
        values.append(op.results[0])
        return op.results[0]

    def pick(kind):  # mostly recent values, so chains form and fuse
        pool = [v for v in values if str(v.type.element_type) == kind]
        return draw(st.sampled_from(pool[-3:] if draw(st.integers(0, 3)) else pool)) if pool else None

    for _ in range(draw(st.integers(2, max_ops))):
        kind = draw(st.sampled_from(["unary", "unary", "binary", "compare", "logic", "where", "cast", "broadcast"]))
        x, y = pick("f32"), pick("f32")
        if kind == "unary":
            emit(draw(st.sampled_from(FLOAT_UNARY))(x))
        elif kind == "binary":
            emit(draw(st.sampled_from(FLOAT_BINARY))(x, y))
        elif kind == "compare":
            emit(draw(st.sampled_from(COMPARE))(x, y))
        elif kind == "logic" and pick("i1") is not None:
            a, b = pick("i1"), pick("i1")
            emit(ew.NotOp(a) if draw(st.booleans()) else draw(st.sampled_from(LOGIC))(a, b))
        elif kind == "where" and pick("i1") is not None:
            emit(ew.WhereOp(pick("i1"), x, y))
        elif kind == "cast":
            target = draw(st.sampled_from(["i32", "f64", "i1"]))
            if target == "i32":  # nan_to_num and clamp first, then truncate; back to f32
                finite = emit(ew.ClampOp(emit(ew.WhereOp(emit(ew.EqOp(x, x)), x, x_zero(emit))), -1e4, 1e4))
                emit(ew.CastOp(emit(ew.CastOp(finite, i32)), f32))
            elif target == "f64":
                emit(ew.CastOp(emit(ew.ExpOp(emit(ew.CastOp(x, f64)))), f32))
            else:
                emit(ew.CastOp(x, i1))
        elif kind == "broadcast":
            emit(BroadcastOp(x, (4, 5)))
    candidates = [v for v in values[len(shapes) :] if not isinstance(v.owner, ConstantOp)]
    outputs = candidates[-2:] if draw(st.booleans()) else candidates[-1:]
    block.add_op(ReturnOp(*outputs))
    func = FuncOp("forward", ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    module = ModuleOp([func])
    module.verify()
    inputs = []
    for s in shapes:
        a = (rng.standard_normal(s) * 2).astype(np.float32)
        if a.size > 2 and draw(st.booleans()):
            a.flat[rng.integers(0, a.size, 2)] = rng.choice([np.nan, np.inf, -np.inf, 0.0], 2)
        inputs.append(a)
    return ChainCase(module, inputs)


def x_zero(emit):
    return emit(ConstantOp(np.array(0.0, np.float32)))


@settings(max_examples=40, derandomize=True)
@given(elementwise_chains())
def test_random_chains_agree_between_numpy_and_c(c_cache, case):
    optimized = hybridize.optimize(case.module, "canonicalize,fuse,plan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = run(case.module, "numpy", c_cache, *case.inputs, pipeline="")
        planned = run(optimized, "numpy", c_cache, *case.inputs, pipeline="")  # fused, in place
        got = run(optimized, "c", c_cache, *case.inputs, pipeline="")
    for p, g, e in zip(planned, got, expected):
        assert g.dtype == e.dtype == p.dtype and g.shape == e.shape == p.shape
        np.testing.assert_array_equal(p, e)
        if e.dtype == np.bool_:
            np.testing.assert_array_equal(g, e)
        else:
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4, equal_nan=True)


# --- PyTorch converters ---


@pytest.fixture
def torch_nn():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


@pytest.mark.torch
def test_activations_from_torch(torch_nn, c_cache):
    torch, F = torch_nn
    x = torch.from_numpy(edge_values("float32", 60))
    x = x[x != float("inf")]  # torch's AVX-512 gelu: NaN at +inf, its scalar path inf
    model = Lambda(
        lambda x: (
            F.gelu(x), F.gelu(x, approximate="tanh"), F.silu(x), F.hardswish(x), F.hardsigmoid(x),
            F.softplus(x), F.softplus(x, beta=2.0), F.elu(x), F.selu(x), F.leaky_relu(x, 0.2), F.relu6(x),
            F.hardtanh(x), F.hardtanh(x, -2.0, 3.0), torch.clamp(x, min=0.1), torch.clamp(x, max=0.3),
            torch.sigmoid(x), torch.tanh(x), torch.erf(x), torch.exp(x), -x, x.abs(),
        )
    )  # fmt: skip
    (default, decomposed) = trace_and_compare(model, x, c_cache=c_cache, rtol=2e-6)
    text = print_module(default)
    for name in ("hy.gelu", "hy.silu", "hy.hardswish", "hy.softplus", "hy.elu", "hy.leaky_relu", "hy.clamp"):
        assert name in text


@pytest.mark.torch
def test_math_and_pow_from_torch(torch_nn, c_cache):
    torch, F = torch_nn
    x = torch.rand(3, 4) * 4 + 0.1
    model = Lambda(
        lambda x: (
            torch.log(x), torch.sqrt(x), torch.rsqrt(x), torch.reciprocal(x), torch.sin(x), torch.cos(x),
            torch.floor(x), torch.log1p(x), torch.expm1(x), x**2, x**0.5, x**-1, x**3, 2**x, x**x,
            torch.maximum(x, 2.5 - x), torch.minimum(x, 1.5 - x), torch.square(x),
        )
    )  # fmt: skip
    (default, _) = trace_and_compare(model, x, c_cache=c_cache, rtol=2e-6)
    assert "hy.pow" in print_module(default)  # x**3, 2**x, x**x stay pow; x**2 etc. canonicalize away


@pytest.mark.torch
def test_scalar_type_promotion_follows_torch(torch_nn, c_cache):
    torch, _ = torch_nn
    i = torch.tensor([[-3, 0, 2], [5, 7, -1]])
    x = torch.tensor([[0.5, -1.5, 2.0], [3.0, 0.0, -4.0]])
    model = Lambda(
        lambda i, x: (
            i * 0.5, i + 2, i - 1, 3 - i, i / 2, i * x, i > 1.5, i == 2, x >= 0, x < i,
            x + 1, 2 * x, x / 4, 1 - x, (i > 0).to(torch.float32), x.to(torch.int64), i.float(),
            (x > 0) & (i > 0), ~(x > 0), (x > 0) | (i < 0), (x > 0) ^ (i < 0),
            torch.logical_not(x), torch.logical_and(x, i), torch.logical_or(x > 1, i),
            i ** 2, i.clamp(-1, 4), i.clamp(min=0.5), x.clamp(1.0, -1.0), x.to(torch.float64),
            x[0, 1] * 2 + 1, torch.where(x[1, 1] > 0, x[1, 1], -1.0),  # 0-d results stay 0-d
        )
    )  # fmt: skip
    trace_and_compare(model, i, x, c_cache=c_cache)


@pytest.mark.torch
def test_where_and_masked_fill_from_torch(torch_nn, c_cache):
    torch, _ = torch_nn
    x = torch.randn(4, 5)
    m = torch.randn(1, 5) > 0
    model = Lambda(
        lambda x, m: (
            torch.where(m, x, 0.0), torch.where(x > 0, 1.0, x), torch.where(m, x, -2 * x),
            x.masked_fill(m, float("-inf")), x.masked_fill(x > 0.5, 2),
            torch.clamp(x, torch.zeros(5), torch.ones(1)),
        )
    )  # fmt: skip
    trace_and_compare(model, x, m, c_cache=c_cache)


@pytest.mark.torch
def test_device_moves_are_refused_clearly(torch_nn):
    from types import SimpleNamespace

    from hybridize.frontends.torch import CONVERTERS, UnsupportedOpError

    torch, _ = torch_nn
    node = SimpleNamespace(
        target=torch.ops.aten._to_copy.default,
        meta={"val": torch.empty(2), "stack_trace": 'File "model.py", line 3, in forward\n    x.cuda()'},
    )
    with pytest.raises(UnsupportedOpError, match=r"device cuda.*not supported.*model.py"):
        CONVERTERS["aten._to_copy.default"](None, node, [None], {"device": torch.device("cuda")})
