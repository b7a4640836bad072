"""Random `hy` graphs over every op of the dialect, for property tests and fuzzing.

    from hypothesis import given
    from hybridize.ir import ReluOp
    from hybridize.ir.strategies import graphs

    @given(graphs(ops=[ReluOp], min_ops=3))
    def test_something(case):
        module, inputs = case      # an xDSL ModuleOp with @forward, and NumPy inputs for it
        ...

(`hybridize.testing.check_pass` runs the whole differential check for a pass.)

A graph is built op by op. Each step picks an op class (from `ops` three times
in four when `ops` is given, so the ops under test are there, most often
several times and fed by each other: an operand is the newest fitting value
half of the time), and that op's builder picks operands among the values so
far, in any dtype the op accepts, with every broadcast form (equal shapes, a
suffix, unit dims, a scalar, an operand of higher rank) or makes a new input
or constant of the shape it needs. The graph returns its sinks (the values
nobody reads, so no op is dead), sometimes also an inner value, the same value
twice or an input as is: multi-output graphs are the rule.

`OP_BUILDERS` maps each op class to its builder; families (unary, binary,
comparison, reduction, axis ops) have generic builders, so a new op of a
family is covered without a line here, and `tests/test_testing.py` checks
that every op of the dialect is. The builders draw through a `Chooser`, so
the same code serves hypothesis (`graphs`, which shrinks well: every choice's
simplest value is the smallest) and a seeded `random.Random` (`random_graph`,
the fuzzer's).

Data: floats are standard normal (weights ~ 1/sqrt(fan_in)), integers in
[-4, 4], indices in range; with `corner_values=True`, inputs also hold NaN,
+-Inf, -0.0, 1e30, INT_MIN and INT_MAX. Ops whose result jumps with a rounding
of their float input (casts to integers, floor, comparisons, a `where`
condition) only read floats that every backend computes bit for bit (inputs,
constants and data movement of them), so comparing results exactly where they
are integers stays meaningful. Requires `hypothesis`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from hypothesis import strategies as st
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, BlockArgument, Operation, Region, SSAValue

from hybridize.ir import elementwise as E
from hybridize.ir import indexing as I
from hybridize.ir import linalg as L
from hybridize.ir import nn as N
from hybridize.ir import recurrent as RNN
from hybridize.ir import reduce as R
from hybridize.ir import shape as S
from hybridize.ir import sort as O
from hybridize.ir.base import BinaryOp, UnaryOp
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import element_from_numpy, numpy_dtype, shape_of, tensor_type

DTYPES = ("float32", "float64", "int64", "int32", "bool")
"""Every element type of the dialect, by NumPy name."""

FLOATS = ("float32", "float64")


class GraphCase:
    """A drawn graph: unpacks as `(module, inputs)`; its repr is the IR text,
    so hypothesis reports failing cases readably."""

    def __init__(self, module: ModuleOp, inputs: list[np.ndarray]):
        self.module, self.inputs = module, inputs

    def __iter__(self):
        return iter((self.module, self.inputs))

    def ops(self) -> list[Operation]:
        """The computing ops of @forward (not constants nor the return)."""
        from hybridize.ir.module import forward_func

        return [op for op in forward_func(self.module).body.block.ops if not isinstance(op, ConstantOp | ReturnOp)]

    def __repr__(self) -> str:
        from hybridize.ir.module import print_module

        shapes = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.inputs)
        return f"GraphCase(inputs {shapes}):\n{print_module(self.module)}"


# --- choosers: one builder code for hypothesis and for random.Random ------------------


class Chooser:
    """The draws a builder makes. Every choice's simplest outcome is its
    smallest one (0, False, the first item), which is where hypothesis shrinks."""

    def int(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def coin(self, p: float = 0.5) -> bool:
        """True with probability about `p`."""
        return self.int(0, 99) >= round(100 * (1 - p))

    def choice(self, items: Sequence):
        return items[self.int(0, len(items) - 1)]

    def subset(self, items: Sequence, min_size: int = 0) -> list:
        """Items in order, each kept on a coin, at least `min_size` of them."""
        kept = [x for x in items if self.coin()]
        for x in items:
            if len(kept) >= min_size:
                break
            if x not in kept:
                kept.append(x)
        return sorted(kept, key=list(items).index)


class DrawChooser(Chooser):
    def __init__(self, draw):
        self.draw = draw

    def int(self, lo, hi):
        return lo if lo >= hi else self.draw(st.integers(lo, hi))


class RandomChooser(Chooser):
    def __init__(self, rng: random.Random):
        self.rng = rng

    def int(self, lo, hi):
        return lo if lo >= hi else self.rng.randint(lo, hi)


# --- the graph under construction ------------------------------------------------------

EXACT_OPS = (
    S.ReshapeOp, S.TransposeOp, S.ConcatOp, S.SliceOp, S.PadOp, S.BroadcastOp,
    I.TakeOp, I.GatherOp, E.NegOp, E.AbsOp, E.ReluOp, E.MaximumOp, E.MinimumOp, E.ClampOp, E.WhereOp,
    R.ReduceMaxOp, R.ReduceMinOp, N.MaxPool2dOp, N.MaxPool2dNhwcOp,
)
"""Ops whose float results every backend computes bit for bit from exact operands."""


class Graph:
    """The state of one graph being drawn (see the module docstring)."""

    def __init__(self, c: Chooser, *, dtypes: Sequence[str], shapes, max_inputs: int, max_outputs: int,
                 corner_values: bool, zero_dims: bool):
        self.c = c
        self.max_outputs = max_outputs
        self.dtypes = tuple(dtypes)
        self.shapes = shapes
        self.max_inputs = max_inputs
        self.corner_values = corner_values
        self.zero_dims = zero_dims
        self.rng = np.random.default_rng(c.int(0, 2**32 - 1))
        self.block = Block()
        self.inputs: list[np.ndarray] = []
        self.values: list[SSAValue] = []  # inputs and op results (not constants), oldest first
        self.exact: set[SSAValue] = set()

    # data

    def data(self, shape, dtype: str, corners: bool = False) -> np.ndarray:
        shape = tuple(shape)
        if dtype == "bool":
            return self.rng.random(shape) > 0.5
        if dtype.startswith("int"):
            a = self.rng.integers(-4, 5, shape).astype(dtype)
            special = [0, -1, np.iinfo(dtype).min, np.iinfo(dtype).max]
        else:
            a = self.rng.standard_normal(shape).astype(dtype)
            special = [np.nan, np.inf, -np.inf, -0.0, 1e30]
        if corners and a.size and self.rng.random() < 0.5:
            for _ in range(int(self.rng.integers(1, 3))):
                a.flat[int(self.rng.integers(a.size))] = special[int(self.rng.integers(len(special)))]
        return a

    def shape(self, rank: int | None = None) -> tuple[int, ...]:
        """A shape for a new input: from `shapes` if given and of the rank asked."""
        c = self.c
        if self.shapes is not None:
            fits = [s for s in self.shapes if rank is None or len(s) == rank]
            if fits:
                return tuple(c.choice(fits))
        if rank is None:
            rank = c.choice([2, 1, 3, 0, 4])
        dims = [c.int(1, 5) for _ in range(rank)]
        if self.zero_dims and dims and c.coin(0.05):
            dims[c.int(0, rank - 1)] = 0
        return tuple(dims)

    def dtype(self, accepted: Iterable[str]) -> str | None:
        ok = [d for d in self.dtypes if d in set(accepted)]
        return self.c.choice(ok) if ok else None

    # values

    def new_input(self, shape, dtype: str) -> SSAValue:
        """A new graph input, or a constant once there are `max_inputs` or
        when `shapes` is given and does not hold this shape."""
        if len(self.block.args) >= self.max_inputs or (self.shapes is not None and tuple(shape) not in self.shapes):
            return self.const(shape, dtype)
        arg = self.block.insert_arg(tensor_type(shape, dtype), len(self.block.args))
        self.inputs.append(self.data(shape, dtype, self.corner_values))
        self.values.append(arg)
        self.exact.add(arg)
        return arg

    def const(self, shape, dtype: str, data=None, scale: float = 1.0) -> SSAValue:
        if data is None:
            data = self.data(shape, dtype)
            if data.dtype.kind == "f":
                data = (data * scale).astype(dtype)
        op = ConstantOp(np.asarray(data, dtype).reshape(tuple(shape)))
        self.block.add_op(op)
        self.exact.add(op.results[0])
        return op.results[0]

    def fresh(self, shape, dtype: str) -> SSAValue:
        """A new input or constant of this type."""
        return self.new_input(shape, dtype) if self.c.coin(0.6) else self.const(shape, dtype)

    def pick(self, accepted: Iterable[str] = DTYPES, rank: int | Sequence[int] | None = None,
             fits: Callable[[tuple[int, ...]], bool] | None = None, exact: bool = False,
             dtype: str | None = None) -> SSAValue | None:
        """An operand: the newest fitting value half of the time, else one
        nobody reads yet (so few ops end up dead) or any fitting value, else
        (or on a coin) a new input of a fitting type."""
        accepted = {dtype} if dtype else set(accepted) & set(self.dtypes)
        ranks = (rank,) if isinstance(rank, int) else rank

        def ok(v):
            s = shape_of(v)
            return (numpy_dtype(v).name in accepted and (ranks is None or len(s) in ranks)
                    and (fits is None or fits(s)) and (not exact or v in self.exact or numpy_dtype(v).kind != "f"))

        pool = [v for v in self.values if ok(v)]
        c = self.c
        if pool and not c.coin(0.15):
            unused = [v for v in pool if not v.uses]
            if c.coin(0.5):
                return pool[-1]
            return c.choice(unused) if unused and c.coin(0.6) else c.choice(pool)
        d = self.dtype(accepted)
        if d is None:
            return None
        for _ in range(3):
            s = self.shape(c.choice(ranks) if ranks else None)
            if fits is None or fits(s):
                return self.new_input(s, d)
        return pool[-1] if pool else None

    def partner(self, x: SSAValue, exact: bool = False) -> SSAValue:
        """A second operand for x of its dtype, in one broadcast form: the same
        shape, a suffix, unit dims, a scalar, or a higher rank that x broadcasts to."""
        shape, d, c = shape_of(x), numpy_dtype(x).name, self.c
        form = c.int(0, 5)
        if form == 0:
            same = [v for v in self.values if v.type == x.type and v is not x and (not exact or v in self.exact)]
            if same:
                return c.choice(same)
            form = 5
        if form == 1 and shape:
            return self.fresh(shape[c.int(0, len(shape) - 1):], d)
        if form == 2 and shape:
            return self.fresh(tuple(1 if c.coin() else n for n in shape), d)
        if form == 3:
            return self.const((), d)
        if form == 4 and len(shape) < 4:
            return self.fresh((c.int(1, 3), *shape), d)
        return self.fresh(shape, d)

    def emit(self, op: Operation) -> None:
        self.block.add_op(op)
        for r in op.results:
            self.values.append(r)
            if isinstance(op, EXACT_OPS) and all(o in self.exact for o in op.operands):
                self.exact.add(r)


# --- builders: one per op class (or family); None when nothing fits ----------------------

_accepted_cache: dict[type, tuple[str, ...]] = {}


def accepted_dtypes(cls: type[Operation], make: Callable[[SSAValue], Operation]) -> tuple[str, ...]:
    """The dtypes `cls` accepts, found by asking its verifier about a [2] tensor of each."""
    if cls not in _accepted_cache:
        ok = []
        for d in DTYPES:
            block = Block(arg_types=[tensor_type((2,), d)])
            try:
                make(block.args[0]).verify()
                ok.append(d)
            except Exception:
                pass
        _accepted_cache[cls] = tuple(ok)
    return _accepted_cache[cls]


PARAM_UNARY: dict[type, Callable[[Graph, SSAValue], Operation]] = {
    E.LeakyReluOp: lambda g, x: E.LeakyReluOp(x, g.c.choice([0.01, 0.2, -1.5])),
    E.EluOp: lambda g, x: E.EluOp(x, g.c.choice([1.0, 0.5])),
    E.GeluOp: lambda g, x: E.GeluOp(x, g.c.choice(["none", "tanh"])),
    E.ClampOp: lambda g, x: E.ClampOp(x, *g.c.choice([(0.0, 6.0), (-1.0, None), (None, 1.0), (-2.0, 2.0)])),
}
JUMPY = (E.FloorOp, E.CastOp, E.CompareOp)
"""Ops whose result jumps with a rounding of a float operand."""


def b_unary(cls):
    make = PARAM_UNARY.get(cls, cls)

    def build(g: Graph):
        x = g.pick(accepted_dtypes(cls, lambda v: make(_Fixed(), v) if cls in PARAM_UNARY else cls(v)),
                   exact=cls in JUMPY)
        return None if x is None else (make(g, x) if cls in PARAM_UNARY else cls(x))

    return build


class _Fixed:
    """A stand-in graph for `accepted_dtypes`: each choice is its first option."""

    c = RandomChooser(random.Random(0))


def b_binary(cls):
    def build(g: Graph):
        exact = issubclass(cls, E.CompareOp)
        x = g.pick(accepted_dtypes(cls, lambda v: cls(v, v)), exact=exact)
        if x is None:
            return None
        y = g.partner(x, exact=exact)
        return cls(y, x) if g.c.coin(0.3) else cls(x, y)

    return build


def b_where(g: Graph):
    cond = g.pick(dtype="bool") if "bool" in g.dtypes else None
    x = g.pick()
    if cond is None or x is None:
        return None
    return E.WhereOp(cond, x, g.partner(x)) if g.c.coin(0.7) else E.WhereOp(cond, g.partner(x), x)


def b_cast(g: Graph):
    x = g.pick(exact=True)
    return None if x is None else E.CastOp(x, element_from_numpy(g.c.choice(g.dtypes)))


def b_linear(g: Graph):
    x = g.pick(FLOATS, rank=(2, 1, 3))
    if x is None:
        return None
    k, d, c = shape_of(x)[-1], numpy_dtype(x).name, g.c
    n = c.int(1, 6)
    w = g.const((n, k), d, scale=1 / np.sqrt(max(k, 1)))
    if c.coin(0.15):
        w = g.new_input((n, k), d)
    return L.LinearOp(x, w, g.const((n,), d) if c.coin() else None)


def b_matmul(g: Graph):
    x = g.pick(accepted_dtypes(L.MatmulOp, lambda v: L.MatmulOp(v, v)), rank=(2, 1, 3))
    if x is None:
        return None
    a, d, c = shape_of(x), numpy_dtype(x).name, g.c
    k = a[-1]
    form = c.int(0, 3)
    shape = [(k, c.int(1, 5)), (k,), (c.int(1, 2), k, c.int(1, 4)), (*a[:-2], k, c.int(1, 4))][form]
    y = g.const(shape, d, scale=1 / np.sqrt(max(k, 1))) if c.coin(0.7) else g.new_input(shape, d)
    return L.MatmulOp(x, y)


def b_reshape(g: Graph):
    x = g.pick()
    if x is None:
        return None
    shape, c = shape_of(x), g.c
    n = int(np.prod(shape, dtype=np.int64))
    form = c.int(0, 3)
    if form == 0:
        new = (n,)
    elif form == 1:
        new = (*shape, 1) if c.coin() else (1, *shape)
    elif form == 2 and len(shape) >= 2:
        new = (shape[0] * shape[1], *shape[2:])
    else:
        divisors = [q for q in range(1, n + 1) if n % q == 0] or [1]
        q = c.choice(divisors)
        new = (q, n // q) if n else (0, c.int(1, 3))
    return S.ReshapeOp(x, new)


def b_transpose(g: Graph):
    x = g.pick(rank=(2, 3, 4))
    if x is None:
        return None
    rank = len(shape_of(x))
    perm = list(range(rank))
    for i in range(rank - 1, 0, -1):  # Fisher-Yates through the chooser (identity when shrunk)
        j = g.c.int(0, i)
        perm[i], perm[j] = perm[j], perm[i]
    if perm == list(range(rank)):
        perm[-1], perm[-2] = perm[-2], perm[-1]
    return S.TransposeOp(x, perm)


def b_concat(g: Graph):
    x = g.pick(rank=(1, 2, 3, 4))
    if x is None:
        return None
    shape, d, c = list(shape_of(x)), numpy_dtype(x).name, g.c
    axis = c.int(0, len(shape) - 1)
    parts = [x]
    for _ in range(c.int(1, 2)):
        same = [v for v in g.values if v.type == x.type]
        if c.coin() and same:
            parts.append(c.choice(same))
        else:
            s = list(shape)
            s[axis] = c.int(0 if g.zero_dims else 1, 3)
            parts.append(g.fresh(tuple(s), d))
    return S.ConcatOp(parts, axis)


def b_slice(g: Graph):
    x = g.pick(rank=(1, 2, 3, 4))
    if x is None:
        return None
    shape, c = shape_of(x), g.c
    starts = [c.int(0, max(n - 1, 0)) for n in shape]
    steps = [c.int(1, 2) for _ in shape]
    room = [max(0, -(-(n - s) // st)) for n, s, st in zip(shape, starts, steps)]
    counts = [c.int(1, r) if r else 0 for r in room]
    return S.SliceOp(x, starts, steps, counts)


def b_pad(g: Graph):
    x = g.pick(rank=(1, 2, 3, 4))
    if x is None:
        return None
    shape, c = shape_of(x), g.c
    value = c.choice([0.0, 1.0, -2.0, float("-inf")] if numpy_dtype(x).kind == "f" else [0.0, 1.0, -2.0])
    return S.PadOp(x, [c.int(0, 2) for _ in shape], [c.int(0, 2) for _ in shape], value)


def b_broadcast(g: Graph):
    x = g.pick(rank=(0, 1, 2, 3))
    if x is None:
        return None
    c = g.c
    grown = tuple(c.int(2, 3) if n == 1 and c.coin() else n for n in shape_of(x))
    return S.BroadcastOp(x, (c.int(1, 3), *grown) if c.coin(0.7) or grown == shape_of(x) else grown)


def b_take(g: Graph):
    x = g.pick(rank=(1, 2, 3), fits=lambda s: min(s) > 0)
    if x is None:
        return None
    shape, c = shape_of(x), g.c
    axis = c.int(0, len(shape) - 1)
    ishape = [(c.int(1, 4),), (), (c.int(1, 3), c.int(1, 3))][c.int(0, 2)]
    idx = g.const(ishape, c.choice(["int64", "int32"]), g.rng.integers(0, shape[axis], ishape))
    return I.TakeOp(x, idx, axis)


def b_gather(g: Graph):
    x = g.pick(rank=(1, 2, 3), fits=lambda s: min(s) > 0)
    if x is None:
        return None
    shape, c = shape_of(x), g.c
    axis = c.int(0, len(shape) - 1)
    ishape = tuple(c.int(1, 4) if d == axis else c.int(1, n) for d, n in enumerate(shape))
    idx = g.const(ishape, c.choice(["int64", "int32"]), g.rng.integers(0, shape[axis], ishape))
    return I.GatherOp(x, idx, axis)


def b_cumsum(g: Graph):
    x = g.pick(accepted_dtypes(I.CumsumOp, lambda v: I.CumsumOp(v, 0)), rank=(1, 2, 3))
    return None if x is None else I.CumsumOp(x, g.c.int(0, len(shape_of(x)) - 1))


def b_iota(g: Graph):
    d = g.dtype(("float32", "float64", "int64", "int32"))
    if d is None:
        return None
    c = g.c
    shape = g.shape(c.int(1, 3))
    return I.IotaOp(tensor_type(shape, d), c.int(0, len(shape) - 1), float(c.int(-3, 3)), float(c.choice([1, 2, -1])))


def b_reduce(cls):
    def build(g: Graph):
        fits = (lambda s: min(s) > 0) if issubclass(cls, R.NoIdentityReduceOp) else None
        x = g.pick(accepted_dtypes(cls, lambda v: cls(v, [0])), rank=(1, 2, 3, 4), fits=fits)
        if x is None:
            return None
        rank = len(shape_of(x))
        axes = g.c.subset(range(rank), 1)
        return cls(x, axes, g.c.coin(0.3))

    return build


def b_axis(cls):
    def build(g: Graph):
        x = g.pick(FLOATS, rank=(1, 2, 3, 4))
        return None if x is None else cls(x, g.c.int(0, len(shape_of(x)) - 1))

    return build


def image(g: Graph) -> SSAValue | None:
    """A 4-D float operand [N, C, H, W]."""
    return g.pick(FLOATS, rank=4, fits=lambda s: min(s) > 0)


def b_conv(g: Graph, cls=N.Conv2dOp):
    x = image(g)
    if x is None:
        return None
    n, ch, h, w = N.to_nchw(shape_of(x), cls.NHWC)
    d, c = numpy_dtype(x).name, g.c
    groups = c.choice([q for q in (1, 2, ch) if ch % q == 0])
    o = groups * c.int(1, 2)
    kh, kw = c.int(1, 3), c.int(1, 3)
    wt = g.const((o, ch // groups, kh, kw), d, scale=1 / np.sqrt(ch // groups * kh * kw))
    bias = g.const((o,), d) if c.coin() else None
    padding = (c.int(0, 1),) * 2 if c.coin(0.8) else tuple(c.int(0, 2) for _ in range(4))
    return cls(x, wt, bias, stride=(c.int(1, 2), c.int(1, 2)), padding=padding,
               dilation=(c.int(1, 2),) * 2, groups=groups)


def b_pool(cls):
    def build(g: Graph):
        x = image(g)
        if x is None:
            return None
        h, w = N.to_nchw(shape_of(x), cls.NHWC)[2:]
        c = g.c
        k, s = (c.int(1, 3), c.int(1, 3)), (c.int(1, 2), c.int(1, 2))
        p = tuple(c.int(0, kk // 2) for kk in k)
        floor = [N.window_count(n, kk, ss, pp) for n, kk, ss, pp in zip((h, w), k, s, p)]
        ceil = [N.window_count(n, kk, ss, pp, ceil=True) for n, kk, ss, pp in zip((h, w), k, s, p)]
        if min(floor) < 1:
            return None
        out = [hi if c.coin(0.3) else lo for lo, hi in zip(floor, ceil)]
        if issubclass(cls, N.AvgPool2dBase):
            return cls(x, k, s, p, out, c.coin())
        return cls(x, k, s, p, out)

    return build


def b_adaptive(g: Graph):
    x = image(g)
    return None if x is None else N.AdaptiveAvgPool2dOp(x, (g.c.int(1, 3), g.c.int(1, 3)))


def b_batch_norm(g: Graph):
    x = g.pick(FLOATS, rank=(2, 3, 4))
    if x is None:
        return None
    ch, d, c = shape_of(x)[1], numpy_dtype(x).name, g.c
    var = g.const((ch,), d, np.abs(g.rng.standard_normal(ch)) + 0.1)
    weight = g.const((ch,), d) if c.coin(0.7) else None
    bias = g.const((ch,), d) if c.coin(0.7) else None
    return N.BatchNormOp(x, g.const((ch,), d), var, weight, bias, eps=c.choice([1e-5, 1e-3]))


def b_layer_norm(g: Graph):
    x = g.pick(FLOATS, rank=(1, 2, 3, 4))
    if x is None:
        return None
    shape, d, c = shape_of(x), numpy_dtype(x).name, g.c
    axis = c.int(0, len(shape) - 1)
    weight = g.const(shape[axis:], d) if c.coin(0.7) else None
    bias = g.const(shape[axis:], d) if weight is not None and c.coin(0.7) else None
    return N.LayerNormOp(x, weight, bias, axis=axis)


def b_attention(g: Graph):
    q = g.pick(FLOATS, rank=(2, 3, 4), fits=lambda s: min(s) > 0)
    if q is None:
        return None
    shape, d, c = shape_of(q), numpy_dtype(q).name, g.c
    *batch, length, e = shape
    s = c.int(1, 4)
    k = g.fresh((*batch, s, e), d)
    v = g.fresh((*batch, s, c.int(1, 4)), d)
    mask, causal = None, False
    if c.coin(0.4):
        mask = g.fresh((length, s), c.choice(["bool", d]))
    else:
        causal = c.coin(0.4)
    return N.AttentionOp(q, k, v, mask, scale=c.choice([1 / np.sqrt(e), 1.0]), causal=causal)


def b_axis_numeric(cls, **extra: Callable[[Chooser], object]):
    """An op on one input along one axis (scans, sorts, arg-reductions), in
    any dtype it accepts; a sort or an arg-reduction reads exact values only
    (a rounding would reorder ties)."""

    def build(g: Graph):
        exact = "Arg" in cls.__name__ or "Sort" in cls.__name__
        x = g.pick(accepted_dtypes(cls, lambda v: cls(v, 0)), rank=(1, 2, 3), fits=lambda s: min(s) > 0,
                   exact=exact)
        if x is None:
            return None
        return cls(x, g.c.int(0, len(shape_of(x)) - 1), **{k: f(g.c) for k, f in extra.items()})

    return build


def b_conv_transpose(g: Graph):
    x = image(g)
    if x is None:
        return None
    ch, d, c = shape_of(x)[1], numpy_dtype(x).name, g.c
    groups = c.choice([q for q in (1, 2) if ch % q == 0])
    og, kh, kw = c.int(1, 2), c.int(1, 3), c.int(1, 3)
    stride, dilation = (c.int(1, 2), c.int(1, 2)), (c.int(1, 2),) * 2
    wt = g.const((ch, og, kh, kw), d, scale=1 / np.sqrt(ch * kh * kw))
    bias = g.const((og * groups,), d) if c.coin() else None
    out_pad = tuple(c.int(0, max(s, dl) - 1) for s, dl in zip(stride, dilation))
    return N.ConvTranspose2dOp(x, wt, bias, stride=stride, padding=(c.int(0, 1),) * 2, output_padding=out_pad,
                               dilation=dilation, groups=groups)


def b_group_norm(g: Graph):
    x = g.pick(FLOATS, rank=(2, 3, 4), fits=lambda s: s[1] > 0)
    if x is None:
        return None
    ch, d, c = shape_of(x)[1], numpy_dtype(x).name, g.c
    weight = g.const((ch,), d) if c.coin(0.7) else None
    bias = g.const((ch,), d) if weight is not None and c.coin(0.7) else None
    return N.GroupNormOp(x, weight, bias, groups=c.choice([q for q in range(1, ch + 1) if ch % q == 0]))


def b_resize(g: Graph):
    x = g.pick(FLOATS, rank=(3, 4), fits=lambda s: min(s) > 0)
    if x is None:
        return None
    c = g.c
    mode = c.choice(N.RESIZE_MODES)
    out = [c.int(1, 2 * n + 1) for n in shape_of(x)[2:]]
    corners = mode in ("linear", "cubic") and c.coin(0.3)
    scale = [o / n for o, n in zip(out, shape_of(x)[2:])] if c.coin(0.3) else None
    return N.ResizeOp(x, out, mode, align_corners=corners, scale=scale)


def b_recurrent(cls):
    """One recurrent layer over a [T, B, I] float input: weights, optional
    biases (both or neither), an initial state; an LSTM sometimes projects."""

    def build(g: Graph):
        x = g.pick(FLOATS, rank=(3,), fits=lambda s: min(s) > 0)
        if x is None:
            return None
        (t, b, i), d, c = shape_of(x), numpy_dtype(x).name, g.c
        hidden, gates = c.int(1, 4), cls.GATES
        proj = c.int(1, hidden - 1) if cls.HAS_CELL and hidden > 1 and c.coin(0.3) else None
        out = proj or hidden
        w_ih = g.const((gates * hidden, i), d, scale=1 / np.sqrt(i))
        w_hh = g.const((gates * hidden, out), d, scale=1 / np.sqrt(out))
        biased = c.coin(0.7)
        b_ih = g.const((gates * hidden,), d) if biased else None
        b_hh = g.const((gates * hidden,), d) if biased else None
        h0 = g.const((b, out), d)
        c0 = g.const((b, hidden), d) if cls.HAS_CELL else None
        w_hr = g.const((proj, hidden), d, scale=1 / np.sqrt(hidden)) if proj else None
        extra = {"c0": c0, "w_hr": w_hr} if cls.HAS_CELL else {}
        return cls(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=c.coin(), **extra)

    return build


def _ordering_and_recurrent() -> dict:
    """Builders of the sort family, the new nn ops and the recurrent cells."""
    table: dict = {
        N.ConvTranspose2dOp: b_conv_transpose, N.GroupNormOp: b_group_norm, N.ResizeOp: b_resize,
        I.CumprodOp: b_axis_numeric(I.CumprodOp),
    }
    for cls in O.SORT_OPS:
        if issubclass(cls, O.ArgReduceOp):
            table[cls] = b_axis_numeric(cls, keepdim=lambda c: c.coin(0.3))
        else:
            table[cls] = b_axis_numeric(cls, descending=lambda c: c.coin())
    for cls in (RNN.LSTMOp, RNN.GRUOp, RNN.RNNTanhOp, RNN.RNNReluOp):
        table[cls] = b_recurrent(cls)
    return table


def _builders() -> dict[type[Operation], Callable[[Graph], Operation | None]]:
    table: dict = {}
    for cls in E.ELEMENTWISE_OPS:
        if issubclass(cls, UnaryOp):
            table[cls] = b_unary(cls)
        elif issubclass(cls, BinaryOp | E.CompareOp):
            table[cls] = b_binary(cls)
    for cls in R.REDUCE_OPS:
        table[cls] = b_reduce(cls)
    for cls in N.NN_OPS:
        if issubclass(cls, N.AxisOp):
            table[cls] = b_axis(cls)
    table.update({
        E.WhereOp: b_where, E.CastOp: b_cast,
        L.LinearOp: b_linear, L.MatmulOp: b_matmul,
        S.ReshapeOp: b_reshape, S.TransposeOp: b_transpose, S.ConcatOp: b_concat, S.SliceOp: b_slice,
        S.PadOp: b_pad, S.BroadcastOp: b_broadcast,
        I.TakeOp: b_take, I.GatherOp: b_gather, I.CumsumOp: b_cumsum, I.IotaOp: b_iota,
        N.Conv2dOp: b_conv, N.MaxPool2dOp: b_pool(N.MaxPool2dOp), N.AvgPool2dOp: b_pool(N.AvgPool2dOp),
        N.Conv2dNhwcOp: lambda g: b_conv(g, N.Conv2dNhwcOp), N.MaxPool2dNhwcOp: b_pool(N.MaxPool2dNhwcOp),
        N.AvgPool2dNhwcOp: b_pool(N.AvgPool2dNhwcOp),
        N.AdaptiveAvgPool2dOp: b_adaptive, N.BatchNormOp: b_batch_norm, N.LayerNormOp: b_layer_norm,
        N.AttentionOp: b_attention,
    })
    table.update(_ordering_and_recurrent())
    return table


OP_BUILDERS: dict[type[Operation], Callable[[Graph], Operation | None]] = _builders()
"""Each op class of the dialect that graphs draw, with its builder."""

ALL_OPS: tuple[type[Operation], ...] = tuple(OP_BUILDERS)


def build_graph(c: Chooser, *, ops: Sequence[type[Operation]] | None = None, other_ops=None, min_ops: int = 1,
                max_ops: int = 10, shapes=None, dtypes: Sequence[str] = DTYPES, max_inputs: int = 4,
                max_outputs: int = 3, corner_values: bool = False, zero_dims: bool = False) -> GraphCase:
    """One graph drawn through `c` (see `graphs` for the arguments)."""
    targets = list(ops or ())
    for cls in targets:
        if cls not in OP_BUILDERS:
            known = ", ".join(sorted(k.__name__ for k in OP_BUILDERS))
            raise ValueError(f"graphs: no builder for {getattr(cls, '__name__', cls)} (ops with builders: {known})")
    others = list(ALL_OPS if other_ops is None else other_ops)
    bad = [d for d in dtypes if d not in DTYPES]
    if bad or not dtypes:
        raise ValueError(f"graphs: dtypes must be a non-empty subset of {', '.join(DTYPES)}, got {list(dtypes)}")
    g = Graph(c, dtypes=dtypes, shapes=shapes, max_inputs=max_inputs, max_outputs=max_outputs,
              corner_values=corner_values, zero_dims=zero_dims)
    g.pick()  # the first input
    emitted: list[Operation] = []

    def step(cls) -> bool:
        try:
            op = OP_BUILDERS[cls](g)
            if op is None:
                return False
            op.verify()
        except Exception:  # refused by a constructor or the verifier: not a graph to test
            return False
        if any(numpy_dtype(r).name not in g.dtypes for r in op.results):
            return False  # a comparison's i1 in a float32-only graph
        g.emit(op)
        emitted.append(op)
        return True

    for _ in range(c.int(min_ops, max(min_ops, max_ops))):
        if targets and (not others or c.coin(0.75)):
            step(c.choice(targets))
        elif others:
            step(c.choice(others))
    for cls in targets:  # every op asked for is there
        for _ in range(4):
            if any(type(op) is cls for op in emitted) or step(cls):
                break
    return finish(g)


def finish(g: Graph) -> GraphCase:
    """Return the sinks (at most `max_outputs` of the newest), sometimes an
    inner value, a value twice or an input; wrap into `@forward`."""
    c, block = g.c, g.block
    results = [v for v in g.values if not isinstance(v, BlockArgument)]
    sinks = [v for v in results if not v.uses]
    outputs = sinks[-g.max_outputs:] or results[-1:] or list(block.args[:1])
    extra = c.int(0, 9)
    if extra == 1 and len(results) > len(outputs):
        outputs.append(c.choice([v for v in results if v not in outputs]))
    elif extra == 2:
        outputs.append(outputs[-1])
    elif extra == 3 and block.args:
        outputs.append(c.choice(list(block.args)))
    block.add_op(ReturnOp(*outputs))
    func = FuncOp("forward", ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    module = ModuleOp([func])
    module.verify()
    return GraphCase(module, g.inputs)


@st.composite
def graphs(draw, max_ops: int = 10, max_inputs: int = 4, *, ops: Sequence[type[Operation]] | None = None,
           other_ops: Sequence[type[Operation]] | None = None, min_ops: int = 1, shapes=None,
           dtypes: Sequence[str] = DTYPES, max_outputs: int = 3, corner_values: bool = False,
           zero_dims: bool = False):
    """A hypothesis strategy of `GraphCase`s (`module, inputs = case`).

    - `ops`: op classes the graphs are about: three steps in four draw one of
      them, and each is in every graph (`graphs(ops=[ReluOp])`).
    - `other_ops`: the ops mixed in (default: every op in `OP_BUILDERS`; `()`
      for graphs of `ops` only).
    - `min_ops`, `max_ops`: how many op steps (constants not counted).
    - `shapes`: the shapes of the graph's inputs (a list of tuples, or a
      strategy of them); operands of other shapes that an op needs (conv2d's
      4-D image, a broadcast partner) are then constants.
    - `dtypes`: the element types allowed (`("float32",)`; default all five).
    - `max_inputs`, `max_outputs`; `corner_values` (NaN, Inf, INT_MIN in the
      inputs) and `zero_dims` (empty tensors) for hostile graphs.
    """
    if isinstance(shapes, st.SearchStrategy):
        shapes = [tuple(draw(shapes)) for _ in range(max_inputs)]
    elif shapes is not None:
        shapes = [tuple(s) for s in shapes]
    case = build_graph(DrawChooser(draw), ops=ops, other_ops=other_ops, min_ops=min_ops, max_ops=max_ops,
                       shapes=shapes, dtypes=dtypes, max_inputs=max_inputs, max_outputs=max_outputs,
                       corner_values=corner_values, zero_dims=zero_dims)
    return case


def random_graph(rng: random.Random, max_ops: int = 6, zero_dims: bool = True, **options) -> GraphCase:
    """A random module over every op and dtype of the dialect, with inputs
    holding corner values (NaN, +-Inf, INT_MIN, and zero-size dims);
    deterministic in `rng` (a `random.Random`): the fuzzer's graphs."""
    return build_graph(RandomChooser(rng), max_ops=max_ops, zero_dims=zero_dims,
                       corner_values=options.pop("corner_values", True), **options)


def any_graphs(max_ops: int = 6):
    """A hypothesis strategy over `random_graph`: every op and dtype, inputs
    with corner values (NaN, Inf, INT_MIN, zero-size dims)."""
    return st.integers(0, 2**32 - 1).map(lambda seed: random_graph(random.Random(seed), max_ops))
