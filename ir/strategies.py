"""Hypothesis strategies for random `hy` graphs, for property-testing passes.

    from hypothesis import given
    from hybridize.ir.strategies import graphs

    @given(graphs())
    def test_my_pass_keeps_results(case):
        module, inputs = case
        expected = hybridize.build(module, "numpy")(*inputs)
        optimized = hybridize.optimize(module, "my-pass")
        np.testing.assert_allclose(hybridize.build(optimized, "numpy")(*inputs), expected, rtol=1e-5)

A graph is a DAG over one or two inputs of random 2-D shapes: linear layers
(random weights and optional bias), matmuls with constants, transposes,
reshapes, elementwise binary ops with broadcast operands (constants or earlier
values) and relus. Values are kept moderate (weights ~ 1/sqrt(fan_in)) so
float32 comparisons at 1e-5 are meaningful. Requires `hypothesis`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region, SSAValue

from hybridize.ir.elementwise import AddOp, DivOp, MulOp, ReluOp, SubOp
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.shape import ReshapeOp, TransposeOp
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import shape_of, tensor_type

dims = st.integers(min_value=1, max_value=9)


class GraphCase:
    """A drawn graph: unpacks as `(module, inputs)`; its repr is the IR text,
    so hypothesis reports failing cases readably."""

    def __init__(self, module: ModuleOp, inputs: list[np.ndarray]):
        self.module, self.inputs = module, inputs

    def __iter__(self):
        return iter((self.module, self.inputs))

    def __repr__(self) -> str:
        from hybridize.ir.module import print_module

        shapes = ", ".join(str(a.shape) for a in self.inputs)
        return f"GraphCase(inputs of shapes {shapes}):\n{print_module(self.module)}"


@st.composite
def graphs(draw, max_ops: int = 10, max_inputs: int = 2):
    """`(module, inputs)`: a random module with `@forward` and matching inputs."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_inputs = draw(st.integers(1, max_inputs))
    batch = draw(dims)
    in_shapes = [(batch, draw(dims)) for _ in range(n_inputs)]
    block = Block(arg_types=[tensor_type(s, "float32") for s in in_shapes])
    values: list[SSAValue] = list(block.args)

    def emit(op):
        block.add_op(op)
        values.append(op.results[0])
        return op.results[0]

    def const(shape, scale=1.0):
        return emit(ConstantOp((rng.standard_normal(shape) * scale).astype(np.float32)))

    for _ in range(draw(st.integers(1, max_ops))):
        tensors = [v for v in values if len(shape_of(v)) == 2]
        x = draw(st.sampled_from(tensors))
        m, k = shape_of(x)
        kind = draw(st.sampled_from(["linear", "linear", "matmul", "relu", "binary", "binary", "transpose", "reshape"]))
        if kind == "linear":
            n = draw(dims)
            w = const((n, k), 1 / np.sqrt(k))
            b = const((n,)) if draw(st.booleans()) else None
            emit(LinearOp(x, w, b))
        elif kind == "matmul":
            n = draw(dims)
            emit(MatmulOp(x, const((k, n), 1 / np.sqrt(k))))
        elif kind == "relu":
            emit(ReluOp(x))
        elif kind == "binary":
            op = draw(st.sampled_from([AddOp, SubOp, MulOp, DivOp]))
            same = [v for v in values if shape_of(v) == (m, k) and v is not x]
            choices = ["row", "col", "full", "scalar"] + (["value"] if same and op is not DivOp else [])
            choice = draw(st.sampled_from(choices))
            if choice == "value":
                y = draw(st.sampled_from(same))
            else:
                shape = {"row": (k,), "col": (m, 1), "full": (m, k), "scalar": ()}[choice]
                data = rng.standard_normal(shape)
                if op is DivOp:  # divisors away from zero
                    data = np.abs(data) + 0.5
                y = emit(ConstantOp(np.asarray(data, np.float32)))
            swap = op is not DivOp and draw(st.booleans())
            emit(op(y, x) if swap else op(x, y))
        elif kind == "transpose":
            emit(TransposeOp(x, [1, 0]))
        else:
            flat = emit(ReshapeOp(x, (m * k,)))
            emit(ReshapeOp(flat, (m, k)) if draw(st.booleans()) else ReshapeOp(flat, (k, m)))
    candidates = [v for v in values[n_inputs:] if not isinstance(v.owner, ConstantOp)] or [block.args[0]]
    n_out = draw(st.integers(1, min(2, len(candidates))))
    outputs = candidates[-n_out:]
    block.add_op(ReturnOp(*outputs))
    func = FuncOp("forward", ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    module = ModuleOp([func])
    module.verify()
    inputs = [rng.standard_normal(s).astype(np.float32) for s in in_shapes]
    return GraphCase(module, inputs)


# --- every op and dtype: valid but hostile graphs for differential fuzzing ---

_DTYPES = ("float32", "float64", "int64", "int32", "bool")


def _hostile_array(rng, shape, dtype: str) -> np.ndarray:
    """Random data with the corner values of its dtype: NaN, +-Inf, -0.0 and
    large floats; 0, -1, INT_MIN and INT_MAX for integers."""
    gen = np.random.default_rng(rng.getrandbits(32))
    if dtype == "bool":
        return gen.random(shape) > 0.5
    if dtype.startswith("int"):
        info = np.iinfo(dtype)
        a = gen.integers(-4, 5, shape).astype(dtype)
        corners = [0, -1, info.min, info.max]
    else:
        a = gen.standard_normal(shape).astype(dtype)
        corners = [np.nan, np.inf, -np.inf, -0.0, 1e30]
    if a.size and rng.random() < 0.5:
        for _ in range(rng.randint(1, 3)):
            a.flat[rng.randrange(a.size)] = rng.choice(corners)
    return a


def _shape(rng, rank: int, zero: bool) -> tuple[int, ...]:
    dims = [rng.randint(1, 5) for _ in range(rank)]
    if zero and dims and rng.random() < 0.05:
        dims[rng.randrange(rank)] = 0
    return tuple(dims)


def random_graph(rng, max_ops: int = 6, zero_dims: bool = True) -> GraphCase:
    """A random module over every op and dtype of the dialect, with inputs
    holding corner values; deterministic in `rng` (a `random.Random`).

    Ops are drawn from a table of builders; each builder picks operands from the
    values so far (or new inputs and constants of the shape it needs), and an
    op the verifier refuses is simply dropped: whatever the verifier accepts,
    every backend must compute identically. Float values that feed casts to
    integers come from inputs only (a rounding difference upstream would flip
    an integer downstream)."""
    from xdsl.dialects.builtin import TensorType

    from hybridize.ir import elementwise as E
    from hybridize.ir import indexing as I
    from hybridize.ir import nn as N
    from hybridize.ir import reduce as R
    from hybridize.ir import shape as S
    from hybridize.ir.types import element_from_numpy, numpy_dtype

    arg_types: list = []
    inputs: list[np.ndarray] = []
    block = Block()
    values: list[SSAValue] = []

    def new_input(shape, dtype):
        a = _hostile_array(rng, shape, dtype)
        arg = block.insert_arg(tensor_type(shape, dtype), len(block.args))
        inputs.append(a)
        values.append(arg)
        return arg

    def const(shape, dtype, data=None):
        a = _hostile_array(rng, shape, dtype) if data is None else np.asarray(data, dtype)
        op = ConstantOp(a)
        block.add_op(op)
        return op.results[0]

    def dt(v):
        return numpy_dtype(v).name

    def pick(rank=None, dtype=None, kind=None):
        pool = [
            v for v in values
            if (rank is None or len(shape_of(v)) == rank)
            and (dtype is None or dt(v) == dtype)
            and (kind is None or numpy_dtype(v).kind in kind)
        ]
        if pool and rng.random() < 0.8:
            return rng.choice(pool)
        d = dtype or rng.choice([x for x in _DTYPES if kind is None or np.dtype(x).kind in kind])
        return new_input(_shape(rng, rank if rank is not None else rng.randint(0, 3), zero_dims), d)

    def partner(x):
        """A second operand for x: same shape, broadcastable or a constant."""
        shape = shape_of(x)
        r = rng.random()
        if r < 0.3:
            same = [v for v in values if v.type == x.type and v is not x]
            if same:
                return rng.choice(same)
        if r < 0.6 and shape:
            return const(shape[rng.randrange(len(shape)):], dt(x))
        if r < 0.75:
            return const((), dt(x))
        return new_input(shape, dt(x))

    unary = [c for c in E.ELEMENTWISE_OPS if issubclass(c, E.UnaryOp) and c not in (E.LeakyReluOp, E.EluOp, E.ClampOp, E.GeluOp)]
    binary = [c for c in E.ELEMENTWISE_OPS if issubclass(c, E.BinaryOp | E.CompareOp)]

    def b_unary():
        return rng.choice(unary)(pick())

    def b_param_unary():
        x = pick(kind="f")
        return rng.choice([
            lambda: E.LeakyReluOp(x, rng.choice([0.01, 0.2, -1.5])),
            lambda: E.EluOp(x, rng.choice([1.0, 0.5])),
            lambda: E.GeluOp(x, rng.choice(["none", "tanh"])),
            lambda: E.ClampOp(x, rng.choice([None, -1.0, 0.0]), rng.choice([None, 1.0, 6.0])),
        ])()

    def b_binary():
        x = pick()
        y = partner(x)
        return rng.choice(binary)(*((y, x) if rng.random() < 0.3 else (x, y)))

    def b_where():
        x = pick()
        return E.WhereOp(pick(dtype="bool"), x, partner(x))

    def b_cast():
        floats_from_inputs = [v for v in block.args if numpy_dtype(v).kind == "f"]
        x = rng.choice(floats_from_inputs) if floats_from_inputs and rng.random() < 0.5 else pick(kind="iub")
        return E.CastOp(x, element_from_numpy(rng.choice(_DTYPES)))

    def b_linear():
        x = pick(rank=2, kind="f")
        m, k = shape_of(x)
        n = rng.randint(1, 4)
        w = const((n, k), dt(x), np.random.default_rng(rng.getrandbits(32)).standard_normal((n, k)))
        b = const((n,), dt(x)) if rng.random() < 0.5 else None
        return LinearOp(x, w, b) if rng.random() < 0.6 else MatmulOp(x, const((k, n), dt(x)))

    def b_shape():
        x = pick()
        shape = shape_of(x)
        r = rng.random()
        if r < 0.25:
            return S.ReshapeOp(x, (int(np.prod(shape, dtype=np.int64)),))
        if r < 0.45 and len(shape) >= 2:
            perm = list(range(len(shape)))
            rng.shuffle(perm)
            return S.TransposeOp(x, perm)
        if r < 0.6 and shape:
            axis = rng.randrange(len(shape))
            return S.ConcatOp([x, partner_same_rank(x, axis)], axis)
        if r < 0.75 and shape:
            starts = [rng.randrange(d) if d else 0 for d in shape]
            steps = [rng.randint(1, 2) for _ in shape]
            out = [max(0, -(-(d - s) // st)) if d else 0 for d, s, st in zip(shape, starts, steps)]
            return S.SliceOp(x, starts, steps, [rng.randint(0, o) if o else 0 for o in out])
        if r < 0.9 and shape:
            return S.PadOp(x, [rng.randint(0, 2) for _ in shape], [rng.randint(0, 2) for _ in shape],
                           rng.choice([0.0, 1.0, -2.0]))
        return S.BroadcastOp(x, (rng.randint(1, 3), *shape))

    def partner_same_rank(x, axis):
        shape = list(shape_of(x))
        shape[axis] = rng.randint(0, 3)
        return new_input(tuple(shape), dt(x))

    def b_index():
        x = pick(rank=rng.randint(1, 3))
        shape = shape_of(x)
        if not shape or min(shape) == 0:
            return None
        axis = rng.randrange(len(shape))
        gen = np.random.default_rng(rng.getrandbits(32))
        r = rng.random()
        if r < 0.35:
            idx = const((rng.randint(1, 4),), "int64", gen.integers(0, shape[axis], rng.randint(1, 4)))
            return I.TakeOp(x, idx, axis)
        if r < 0.7:
            ishape = tuple(rng.randint(1, d) for d in shape)
            return I.GatherOp(x, const(ishape, "int64", gen.integers(0, shape[axis], ishape)), axis)
        if r < 0.85:
            return I.CumsumOp(x, axis)
        return I.IotaOp(TensorType(element_from_numpy(rng.choice(_DTYPES[:4])), list(shape)), axis,
                        float(rng.randint(-3, 3)), float(rng.choice([1, 2, -1])))

    def b_reduce():
        x = pick(rank=rng.randint(1, 3))
        rank = len(shape_of(x))
        axes = sorted(rng.sample(range(rank), rng.randint(1, rank)))
        cls = rng.choice(R.REDUCE_OPS)
        return cls(x, axes, rng.random() < 0.3)

    def b_nn():
        x = pick(rank=4, kind="f")
        n, c, h, w = shape_of(x)
        r = rng.random()
        if r < 0.3:
            groups = rng.choice([g for g in (1, 2) if c % g == 0])
            o = groups * rng.randint(1, 2)
            k = rng.randint(1, 3)
            wt = const((o, c // groups, k, k), dt(x), np.random.default_rng(rng.getrandbits(32)).standard_normal((o, c // groups, k, k)))
            bias = const((o,), dt(x)) if rng.random() < 0.5 else None
            return N.Conv2dOp(x, wt, bias, stride=(rng.randint(1, 2),) * 2, padding=(rng.randint(0, 1),) * 2,
                              dilation=(rng.randint(1, 2),) * 2, groups=groups)
        if r < 0.5:
            k, s, p = rng.randint(1, 3), rng.randint(1, 2), rng.randint(0, 1)
            out = [(d + 2 * p - k) // s + 1 for d in (h, w)]
            if min(out) < 1 or p * 2 > k:
                return None
            if rng.random() < 0.5:
                return N.MaxPool2dOp(x, (k, k), (s, s), (p, p), out)
            return N.AvgPool2dOp(x, (k, k), (s, s), (p, p), out, rng.random() < 0.5)
        if r < 0.6:
            return N.AdaptiveAvgPool2dOp(x, (rng.randint(1, 3), rng.randint(1, 3)))
        if r < 0.75:
            gen = np.random.default_rng(rng.getrandbits(32))
            var = const((c,), dt(x), np.abs(gen.standard_normal(c)) + 0.1)
            return N.BatchNormOp(x, const((c,), dt(x)), var, const((c,), dt(x)), const((c,), dt(x)))
        if r < 0.85:
            return N.LayerNormOp(x, axis=rng.randint(1, 3))
        if r < 0.92:
            return (N.SoftmaxOp if rng.random() < 0.5 else N.LogSoftmaxOp)(x, rng.randint(0, 3))
        k = new_input((n, c, rng.randint(1, 4), w), dt(x))
        v = new_input((n, c, shape_of(k)[2], rng.randint(1, 4)), dt(x))
        mask = None
        if rng.random() < 0.4:
            mask = new_input((h, shape_of(k)[2]), rng.choice(["bool", dt(x)]))
        return N.AttentionOp(x, k, v, mask, scale=rng.choice([0.5, 1.0]), causal=mask is None and rng.random() < 0.3)

    builders = [b_unary, b_param_unary, b_binary, b_binary, b_where, b_cast, b_linear, b_shape, b_index, b_reduce, b_nn]
    for _ in range(rng.randint(1, max_ops)):
        try:
            op = rng.choice(builders)()
            if op is None:
                continue
            op.verify()
        except Exception:
            continue  # refused by a constructor or the verifier: not a graph to test
        block.add_op(op)
        values.append(op.results[0])
    computed = [v for v in values if not isinstance(v, type(block.args[0]) if block.args else ()) and
                not isinstance(v.owner, ConstantOp)]
    if not block.args:
        new_input((2,), "float32")
    outputs = computed[-rng.randint(1, 2):] if computed else [block.args[0]]
    block.add_op(ReturnOp(*outputs))
    func = FuncOp("forward", ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    module = ModuleOp([func])
    module.verify()
    return GraphCase(module, inputs)


def any_graphs(max_ops: int = 6):
    """A hypothesis strategy over `random_graph`: every op and dtype, inputs
    with corner values (NaN, Inf, INT_MIN, zero-size dims)."""
    import random

    return st.integers(0, 2**32 - 1).map(lambda seed: random_graph(random.Random(seed), max_ops))
