"""Fusion by op class: each `hy` op's fusion kind, the group shapes built from
them, and the rules that say why two ops do not share a kernel.

This table is the one place that policy lives; `fuse` (passes/fuse.py), the
`hy.fused` verifier (ir/structure.py), the in-place rule of the memory plan
(passes/liveness.py, ir/checks.py) and each backend's declaration of the group
shapes it runs (a `FusionTarget`) read it. The kinds follow TVM's OpPattern:

    kind          example          fuses as
    elementwise   hy.relu          anything one-to-one at the same index
    broadcast     hy.add           elementwise with NumPy broadcasting
    injective     hy.transpose     each output element is one input element
    reduction     hy.softmax       reads a whole row; rows are independent
    anchor        hy.linear        heavy; an elementwise epilogue may follow
    opaque        hy.cumsum        always a kernel of its own

A group (one `hy.fused`, one kernel) has exactly one of these shapes:

    loop       elementwise/broadcast ops only: one loop nest, may run in place
    injective  loop ops and injective ops: one loop nest reading through
               transposes, slices, reshapes, concats (index maps)
    epilogue   one anchor and loop ops of its output's shape, run on each
               finished tile or row of the anchor's output
    reduction  reductions over the same trailing axes of one row shape, with
               the loop ops that produce their inputs and consume their results
               (softmax(x * s + m), layer_norm(x + r), mean/var chains)

Adding an op: give its class a row in `KINDS` below (a test fails for an op
without one).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from xdsl.ir import Operation, SSAValue

from hybridize.ir import elementwise as ew
from hybridize.ir import indexing, linalg, nn, recurrent, reduce, shape, sort
from hybridize.ir.types import DYNAMIC, is_float, shape_of


class Kind(enum.IntEnum):
    """TVM's OpPattern: a lower kind fuses into more group shapes."""

    ELEMENTWISE = 0
    BROADCAST = 1
    INJECTIVE = 2
    REDUCTION = 3
    ANCHOR = 4  # TVM's kOutEWiseFusable
    OPAQUE = 8


E, B, I, R, A, O = Kind.ELEMENTWISE, Kind.BROADCAST, Kind.INJECTIVE, Kind.REDUCTION, Kind.ANCHOR, Kind.OPAQUE

KINDS: dict[type[Operation], Kind] = {
    # --- elementwise math, comparisons, logic, casts ---
    **{cls: B for cls in (ew.AddOp, ew.SubOp, ew.MulOp, ew.DivOp, ew.PowOp, ew.MaximumOp, ew.MinimumOp)},
    **{cls: B for cls in (ew.EqOp, ew.NeOp, ew.LtOp, ew.LeOp, ew.GtOp, ew.GeOp, ew.AndOp, ew.OrOp, ew.XorOp)},
    ew.WhereOp: B,
    **{
        cls: E
        for cls in (
            ew.ReluOp, ew.NegOp, ew.AbsOp, ew.ExpOp, ew.Expm1Op, ew.LogOp, ew.Log1pOp, ew.SqrtOp, ew.RsqrtOp,
            ew.ReciprocalOp, ew.ErfOp, ew.SigmoidOp, ew.TanhOp, ew.SinOp, ew.CosOp, ew.FloorOp, ew.SiluOp,
            ew.HardswishOp, ew.HardsigmoidOp, ew.SoftplusOp, ew.GeluOp, ew.LeakyReluOp, ew.EluOp, ew.ClampOp,
            ew.NotOp, ew.CastOp,
        )
    },  # fmt: skip
    # --- linear algebra ---
    linalg.LinearOp: A,
    linalg.MatmulOp: A,
    # --- shape ops ---
    shape.ReshapeOp: I,
    shape.TransposeOp: I,
    shape.ConcatOp: I,
    shape.SliceOp: I,
    shape.PadOp: I,
    shape.BroadcastOp: B,
    # --- indexing: data-dependent reads are injective; scans and generators run alone ---
    indexing.TakeOp: I,
    indexing.GatherOp: I,
    indexing.CumsumOp: O,
    indexing.CumprodOp: O,
    indexing.IotaOp: O,
    # --- reductions ---
    **{cls: R for cls in (reduce.ReduceSumOp, reduce.ReduceMeanOp, reduce.ReduceMaxOp, reduce.ReduceMinOp)},
    reduce.ReduceAnyOp: R,
    # --- nn ---
    nn.Conv2dOp: A,
    nn.Conv2dNhwcOp: A,
    nn.MaxPool2dOp: A,
    nn.AvgPool2dOp: A,
    nn.MaxPool2dNhwcOp: A,
    nn.AvgPool2dNhwcOp: A,
    nn.AdaptiveAvgPool2dOp: A,
    nn.BatchNormOp: O,  # per-channel parameters on axis 1 (not NumPy broadcasting); canonicalize folds it into a conv
    nn.LayerNormOp: R,
    nn.SoftmaxOp: R,
    nn.LogSoftmaxOp: R,
    nn.AttentionOp: A,
    nn.ConvTranspose2dOp: A,
    nn.GroupNormOp: O,  # statistics per group of channels, affine per channel on axis 1: not a trailing row
    nn.ResizeOp: I,  # each output element reads fixed input elements (TVM: injective)
    # --- sorting ---
    sort.SortOp: O,
    sort.ArgsortOp: O,
    sort.ArgMaxOp: R,
    sort.ArgMinOp: R,
    # --- recurrent layers: a time loop whose steps read the previous step's output ---
    **{cls: O for cls in recurrent.RECURRENT_OPS},
}
"""The fusion kind of every computing op class of the dialect."""


def kind_of(op: Operation) -> Kind:
    """The op's fusion kind; structural ops and ops without a row are opaque."""
    return KINDS.get(type(op), Kind.OPAQUE)


def missing_rows(ops: Iterable[type[Operation]]) -> list[str]:
    """Messages for dialect op classes without a row in `KINDS` (structural ops need none)."""
    from hybridize.ir.structure import ConstantOp, FusedOp, YieldOp

    out = []
    for cls in ops:
        if cls in KINDS or cls in (ConstantOp, FusedOp, YieldOp):
            continue
        out.append(
            f"{cls.name} ({cls.__module__}.{cls.__name__}) has no fusion kind: add the row "
            f"`{cls.__name__}: Kind.<KIND>,` to KINDS in hybridize/ir/fusion.py (import its module there), "
            "where KIND is ELEMENTWISE (one-to-one), BROADCAST (elementwise with broadcasting), "
            "INJECTIVE (each output element is one input element: shape ops), REDUCTION (over trailing axes), "
            "ANCHOR (heavy op an elementwise epilogue may follow) or OPAQUE (never fused)"
        )
    return out


LOOP_KINDS = (Kind.ELEMENTWISE, Kind.BROADCAST)


def is_loop_op(op: Operation) -> bool:
    return kind_of(op) in LOOP_KINDS


# --- group shapes ---


class Shape(str, enum.Enum):
    LOOP = "loop"
    INJECTIVE = "injective"
    EPILOGUE = "epilogue"
    REDUCTION = "reduction"


@dataclass(frozen=True)
class Rule:
    """Why a set of ops is not one group: a rule id (stable, for tests and
    remarks) and a sentence."""

    rule: str
    message: str


def _row_split(op: Operation) -> tuple[int, tuple[int, ...]] | Rule:
    """(first reduced axis, input shape) of a reduction over trailing axes."""
    x = shape_of(op.operands[0])
    if not is_float(op.operands[0]):
        return Rule("reduction-dtype", f"{op.name} on {op.operands[0].type}: reductions fuse on floats only")
    if isinstance(op, nn.LayerNormOp):
        first = op.first_axis
    elif isinstance(op, nn.SoftmaxOp | nn.LogSoftmaxOp):
        first = op.dim
        if any(d != 1 for d in x[first + 1 :]):
            return Rule("reduction-axes", f"{op.name} along axis {first} of {x}: only the last axis fuses")
    elif isinstance(op, reduce.ReduceOp):
        dims = op.dims
        first = dims[0]
        if list(dims) != list(range(first, len(x))):
            return Rule("reduction-axes", f"{op.name} over axes {list(dims)} of rank {len(x)}: only trailing axes fuse")
    else:
        return Rule("reduction-rows", f"{op.name} has no row form: it runs as a kernel of its own")
    if DYNAMIC in x[first:]:
        return Rule("reduction-axes", f"{op.name}: the reduced axes must be static")
    return first, tuple(x)


@dataclass
class Group:
    """A candidate group: its ops (any order) and its root (the one value used
    outside). `shape` and `rule` are filled by `classify`."""

    ops: list[Operation]
    root: SSAValue
    shape: Shape | None = None
    rule: Rule | None = None
    split: tuple[int, tuple[int, ...]] | None = None  # reduction: first reduced axis, row input shape

    def anchor(self) -> Operation | None:
        return next((op for op in self.ops if kind_of(op) == Kind.ANCHOR), None)

    def readers(self, op: Operation) -> set[Operation]:
        """The members that read `op`'s result, directly or through other members."""
        members = set(self.ops)
        out: set[Operation] = set()
        work = [op]
        while work:
            for r in work.pop().results:
                for u in r.uses:
                    if u.operation in members and u.operation not in out:
                        out.add(u.operation)
                        work.append(u.operation)
        return out


def classify(ops: Sequence[Operation], root: SSAValue, inside: Callable[[SSAValue], bool] | None = None) -> Group:
    """The shape of the group `ops` yielding `root`, or the rule it breaks.
    `inside(v)` says whether the group computes `v` (default: `v`'s owner is
    one of `ops`)."""
    g = Group(list(ops), root)
    if inside is None:
        members = set(g.ops)

        def inside(v: SSAValue) -> bool:
            return v.owner in members

    g.rule = _check(g, inside)
    return g


def _check(g: Group, inside: Callable[[SSAValue], bool]) -> Rule | None:
    for op in g.ops:
        if kind_of(op) == Kind.OPAQUE:
            return Rule("opaque", f"{op.name} is opaque: it runs as a kernel of its own")
        if len(op.results) != 1:
            return Rule("results", f"{op.name} has {len(op.results)} results")
    kinds = [kind_of(op) for op in g.ops]
    anchors = [op for op, k in zip(g.ops, kinds) if k == Kind.ANCHOR]
    reductions = [op for op, k in zip(g.ops, kinds) if k == Kind.REDUCTION]
    injective = [op for op, k in zip(g.ops, kinds) if k == Kind.INJECTIVE]
    if len(anchors) > 1:
        return Rule("one-anchor", f"{anchors[0].name} and {anchors[1].name}: a group holds at most one anchor")
    if anchors and reductions:
        return Rule("anchor-reduction", f"{anchors[0].name} and {reductions[0].name}: an anchor and a reduction "
                    "do not share a kernel")  # fmt: skip
    if anchors:
        (a,) = anchors
        if any(inside(v) for v in a.operands):
            return Rule("anchor-operands", f"{a.name} reads its operands from memory: their producers run before it")
        if injective:
            return Rule("epilogue-injective", f"{injective[0].name} does not fold into the epilogue of {a.name}")
        if a.results[0].type != g.root.type:
            return Rule("epilogue-shape", f"the epilogue of {a.name} ({a.results[0].type}) must keep its type, "
                        f"not {g.root.type}")  # fmt: skip
        g.shape = Shape.EPILOGUE
        return None
    if reductions:
        if injective:
            return Rule("reduction-injective", f"{injective[0].name} does not fold into the row loops of "
                        f"{reductions[0].name}")  # fmt: skip
        splits = set()
        for op in reductions:
            s = _row_split(op)
            if isinstance(s, Rule):
                return s
            splits.add(s)
            if isinstance(op, nn.LayerNormOp) and any(inside(v) for v in op.operands[1:]):
                return Rule("reduction-operands", f"{op.name} reads its weight and bias from memory")
        if len(splits) > 1:
            return Rule("reduction-rows", f"{reductions[0].name} and {reductions[1].name} reduce different rows")
        ((first, full),) = splits
        row = full[:first] + (1,) * (len(full) - first)
        for op in g.ops:
            s = shape_of(op.results[0])
            ok = s in (full, row) or (op.results[0] is g.root and s == full[:first])
            if not ok:
                return Rule("reduction-rows", f"{op.name} -> {s}: every value of a reduction group has the row "
                            f"shape {full} or one value per row {row}")  # fmt: skip
            if kind_of(op) == Kind.REDUCTION and shape_of(op.results[0]) == full[:first] != row and op.results[0] is not g.root:
                return Rule("reduction-rows", f"{op.name} drops the reduced axes: only the group's result may (keepdim)")
        g.split = (first, full)
        g.shape = Shape.REDUCTION
        return None
    g.shape = Shape.INJECTIVE if injective else Shape.LOOP
    return None


def runs_in_place(op: Operation) -> bool:
    """Each result element depends only on operand elements at its own index,
    so the result may take the bytes of an operand that dies at the op: loop
    ops and loop-shaped groups. (The in-place rule of the memory plan.)"""
    from hybridize.ir.structure import FusedOp

    if isinstance(op, FusedOp):
        return all(is_loop_op(b) for b in op.ops)
    return is_loop_op(op)


# --- targets: the group shapes a backend runs ---


@dataclass(frozen=True)
class FusionTarget:
    """A backend's declaration of the groups it runs: the shapes, and for each
    op whether it may be a group member (`member(op)` returns None when it may,
    else the reason it may not)."""

    name: str
    shapes: frozenset[Shape]
    member: Callable[[Operation], str | None] = field(default=lambda op: None)
    group: Callable[[Group], str | None] = field(default=lambda group: None)
    """A last check of a whole group of a valid shape (None: the target runs it)."""

    def why_not(self, group: Group) -> Rule | None:
        if group.rule is not None:
            return group.rule
        if group.shape not in self.shapes:
            return Rule("target-shape", f"target {self.name} runs no {group.shape.value} groups")
        for op in group.ops:
            why = self.member(op)
            if why is not None:
                return Rule("target-op", f"target {self.name}: {why}")
        why = self.group(group)
        if why is not None:
            return Rule("target-group", f"target {self.name}: {why}")
        return None


TARGETS: dict[str, str] = {
    "c": "hybridize.backends.c.fused:FUSION",
    "numpy": "hybridize.backends.numpy:FUSION",
}
"""Backend name -> where its `FusionTarget` is declared (imported on first use)."""


def fusion_target(name: str) -> FusionTarget:
    import importlib

    if name not in TARGETS:
        raise ValueError(f"fuse: unknown target {name!r} (targets: {', '.join(sorted(TARGETS))})")
    module, attr = TARGETS[name].split(":")
    return getattr(importlib.import_module(module), attr)


# --- kernels ---


def kernels(module: Operation) -> int:
    """Kernels `@forward` runs: fused groups and standalone computing ops
    (constants and views, which own no loop, do not count)."""
    from hybridize.ir.base import ViewLike
    from hybridize.ir.module import forward_func
    from hybridize.ir.structure import ConstantOp

    block = forward_func(module).body.block
    return sum(
        1
        for op in block.ops
        if op is not block.last_op and not isinstance(op, ConstantOp) and not op.has_trait(ViewLike)
    )
