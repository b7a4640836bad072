"""`fuse`: group ops that the target backend runs as one kernel into `hy.fused`.

Which ops may share a kernel is decided by the fusion table (`hybridize.ir.fusion`:
each op's kind, the four group shapes, and the target backend's declaration).
A group grows upward from a root (visited in reverse program order) through
the producers of its members, one at a time, while the grown set is still a
group shape the target runs, has at most `max-ops` ops, and every user of the
producer is in the group. A cheap loop producer (one full-size operand) with
users elsewhere is duplicated into the group instead.

    %1 = hy.linear %x, %w, %b : ...        // linear + bias + relu
    %2 = hy.relu %1 : ...
  becomes
    %2 = hy.fused (%x, %w, %b) : ... {
    ^0(%a, %b, %c):
      %3 = hy.linear %a, %b, %c : ...
      %4 = hy.relu %3 : ...
      hy.yield %4 : ...
    }

Before grouping, sibling `hy.linear`s that read the same input with constant
weights (the Q/K/V projections) become one linear over the concatenated
weights and a slice per sibling (`horizontal`).

Options: `target` (c or numpy: the backend the groups are for), `max-ops`,
`anchors=false` (no anchor joins a group), `reductions`, `injective`,
`duplicate`, `horizontal` (each shape or rewrite on or off). Fusing
invalidates an existing memory plan (run `plan` after).
`fusion_remarks(module)` lists, for every edge left between two kernels, the
rule that keeps them apart (`opt-tool --fusion-remarks`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from hybridize.ir.attributes import ARENA, BUF
from hybridize.ir.base import ViewLike
from hybridize.ir.fusion import (
    FusionTarget,
    Kind,
    Rule,
    Shape,
    classify,
    fusion_target,
    is_loop_op,
    kind_of,
)
from hybridize.ir.linalg import LinearOp
from hybridize.ir.locations import fused_location
from hybridize.ir.module import forward_func
from hybridize.ir.shape import SliceOp
from hybridize.ir.structure import ConstantOp, FusedOp, YieldOp
from hybridize.ir.types import shape_of


@dataclass(frozen=True)
class Policy:
    """What `fuse` may do: the target and the switches of its options."""

    target: FusionTarget
    max_ops: int = 16
    anchors: bool = True
    reductions: bool = True
    injective: bool = True
    duplicate: bool = True

    def why_not(self, ops: list[Operation], root: SSAValue) -> Rule | None:
        if len(ops) > self.max_ops:
            return Rule("max-ops", f"the group would hold {len(ops)} ops (max-ops={self.max_ops})")
        empty = next((op for op in ops if any(0 in shape_of(r) for r in op.results)), None)
        if empty is not None:
            return Rule("empty", f"{empty.name} computes an empty tensor: nothing to fuse")
        g = classify(ops, root)
        why = self.target.why_not(g)
        if why is not None:
            return why
        if not self.anchors and g.shape == Shape.EPILOGUE:
            return Rule("option", "anchors=false: anchors run alone")
        if not self.reductions and g.shape == Shape.REDUCTION:
            return Rule("option", "reductions=false: reductions run alone")
        if not self.injective and g.shape == Shape.INJECTIVE:
            return Rule("option", "injective=false: shape ops run alone")
        return None


def cheap_to_duplicate(op: Operation) -> bool:
    """A loop op reading at most one operand of its own size: recomputing it
    in each user's kernel reads no more memory than reading its result."""
    if not is_loop_op(op) or len(op.results) != 1:
        return False
    size = shape_of(op.results[0])
    full = [v for v in op.operands if shape_of(v) == size]
    return len(full) <= 1


def _users(v: SSAValue) -> list[Operation]:
    return [u.operation for u in v.uses]


def _feeds_on_anchor(p: Operation, policy: Policy, depth: int = 8) -> bool:
    """Whether loop op `p` is the only reader of an anchor's result, directly or
    through a chain of loop ops each read only by the next (conv -> add -> relu)."""
    for v in p.operands:
        a = v.owner
        if not isinstance(a, Operation) or not all(u.operation is p for u in v.uses):
            continue
        if kind_of(a) == Kind.ANCHOR and policy.target.member(a) is None:
            return True
        if depth > 0 and is_loop_op(a) and _feeds_on_anchor(a, policy, depth - 1):
            return True
    return False


def _keeps_epilogue(p: Operation, members: list[Operation], policy: Policy) -> bool:
    """Epilogues first: a group that cannot take an anchor (it reduces or
    reshapes) leaves alone a loop op that is the only reader of an anchor's
    result, or the end of a chain of such ops, so they run in the anchor's
    kernel (in registers) instead (the layout pass's last transpose after a
    conv + add + relu)."""
    if all(is_loop_op(m) for m in members) or not is_loop_op(p):
        return False
    return _feeds_on_anchor(p, policy)


def plan_groups(block: Block, policy: Policy) -> list[tuple[list[Operation], Operation]]:
    """Groups of `block` as (members in program order, root op)."""
    ops = [op for op in block.ops if op is not block.last_op]
    order = {op: k for k, op in enumerate(ops)}
    owner: dict[Operation, int] = {}  # op -> index of the group that owns it
    groups: list[tuple[list[Operation], Operation]] = []
    pinned: set[SSAValue] = set()  # read by a committed group through a duplicated member
    for root in reversed(ops):
        if root in owner or kind_of(root) == Kind.OPAQUE or len(root.results) != 1:
            continue
        if root.has_trait(ViewLike):  # a view costs no kernel: its producer's group ends before it
            continue
        if policy.target.why_not(classify([root], root.results[0])) is not None:
            continue
        members = [root]
        work = [root]
        copies: list[Operation] = []  # members duplicated so far (their producers stay outside)
        while work or copies:
            if not work:  # a duplicate all of whose users joined since: a plain member after all
                now = [c for c in copies if all(u in members for u in _users(c.results[0])) and c.results[0] not in pinned]
                if not now:
                    break
                copies = [c for c in copies if c not in now]
                work += now
                continue
            op = work.pop()
            for v in op.operands:
                p = v.owner
                if not isinstance(p, Operation) or p in members or p.parent_block() is not block:
                    continue
                if p in owner or kind_of(p) == Kind.OPAQUE or len(p.results) != 1:
                    continue
                users = _users(p.results[0])
                inside = all(u in members for u in users) and p.results[0] not in pinned
                if not inside and not (policy.duplicate and cheap_to_duplicate(p)):
                    continue
                if not inside and any(kind_of(u) == Kind.ANCHOR for u in users if u not in members):
                    # an anchor outside reads p's result from memory anyway: a copy here would
                    # only pin p's input too, and keep p out of its producer's epilogue
                    # (ResNet: relu(conv + residual) feeds the next conv and a later add)
                    continue
                if policy.anchors and _keeps_epilogue(p, members, policy):
                    continue
                if policy.why_not([*members, p], root.results[0]) is not None:
                    continue
                members.append(p)
                (work if inside else copies).append(p)
        if len(members) < 2:
            continue
        members.sort(key=order.__getitem__)
        for m in members:
            if m is root or (all(u in members for u in _users(m.results[0])) and m.results[0] not in pinned):
                owner[m] = len(groups)
            else:
                pinned.update(m.operands)
        groups.append((members, root))
    # a duplicated op none of whose users is left outside is owned by nobody and dies below
    return groups


def build_fused(inputs, ops: list[Operation], root: Operation) -> FusedOp:
    """A fused op computing `root` from `inputs` with clones of `ops` as its body."""
    block = Block(arg_types=[v.type for v in inputs])
    mapping = dict(zip(inputs, block.args))
    for op in ops:
        clone = op.clone(value_mapper=mapping)
        clone.attributes.pop(BUF, None)
        block.add_op(clone)
    block.add_op(YieldOp(mapping[root.results[0]]))
    fused = FusedOp(inputs, [root.results[0].type], Region(block))
    fused.location = fused_location(ops)  # the members keep their own
    return fused


def apply_groups(block: Block, groups: list[tuple[list[Operation], Operation]]) -> None:
    members_all: list[Operation] = []
    for members, root in groups:
        inside = set(members)
        inputs: list[SSAValue] = []
        for op in members:
            for v in op.operands:
                if v.owner not in inside and v not in inputs:
                    inputs.append(v)
        fused = build_fused(inputs, members, root)
        block.insert_op_before(fused, root)
        root.results[0].replace_all_uses_with(fused.results[0])
        members_all += members
    order = {op: k for k, op in enumerate(block.ops)}
    for op in sorted(set(members_all), key=order.__getitem__, reverse=True):
        if not any(r.uses for r in op.results):
            op.detach()
            op.erase()


# --- horizontal fusion: sibling linears over one input ---


def _constant(v: SSAValue | None) -> np.ndarray | None:
    return v.owner.numpy() if v is not None and isinstance(v.owner, ConstantOp) else None


def horizontal_linears(block: Block) -> int:
    """linear(x, W1, b1), ..., linear(x, Wk, bk) with constant weights and no
    loop op reading their results (so no epilogue is lost) =
    slice_i(linear(x, concat(W), concat(b))). Returns the number of merges."""
    merges = 0
    seen: set[SSAValue] = set()
    for op in list(block.ops):
        if not isinstance(op, LinearOp) or op.input in seen:
            continue
        x = op.input
        seen.add(x)
        sib = [
            u.operation
            for u in x.uses
            if isinstance(u.operation, LinearOp)
            and u.operation.parent_block() is block
            and u.operation.input is x
            and _constant(u.operation.weight) is not None
            and not any(is_loop_op(w.operation) for w in u.operation.result.uses)
        ]
        sib = list(dict.fromkeys(sib))
        if len(sib) < 2:
            continue
        if len({s.result.type.element_type for s in sib}) > 1 or len({s.bias is None for s in sib}) > 1:
            continue
        if any(s.bias is not None and _constant(s.bias) is None for s in sib):
            continue
        order = {o: k for k, o in enumerate(block.ops)}
        sib.sort(key=order.__getitem__)
        first = sib[0]
        weights = [_constant(s.weight) for s in sib]
        w = ConstantOp.from_numpy(np.concatenate(weights, axis=0), None)
        new_ops: list[Operation] = [w]
        b = None
        if first.bias is not None:
            b = ConstantOp.from_numpy(np.concatenate([_constant(s.bias) for s in sib], axis=0))
            new_ops.append(b)
        merged = LinearOp(x, w.result, b.result if b is not None else None)
        merged.location = fused_location(sib)
        new_ops.append(merged)
        rank = len(shape_of(merged.result))
        col = 0
        slices = []
        for s, wt in zip(sib, weights):
            out = shape_of(s.result)
            starts = [0] * rank
            starts[-1] = col
            sl = SliceOp(merged.result, starts, [1] * rank, out)
            sl.location = s.location
            col += wt.shape[0]
            slices.append((s, sl))
            new_ops.append(sl)
        for o in new_ops:
            block.insert_op_before(o, first)
        for s, sl in slices:
            s.result.replace_all_uses_with(sl.result)
            s.detach()
            s.erase()
        for v in {*(s.weight for s, _ in slices), *(s.bias for s, _ in slices if s.bias is not None)}:
            if isinstance(v.owner, ConstantOp) and not v.uses:
                v.owner.detach()
                v.owner.erase()
        merges += 1
    return merges


# --- remarks: why two kernels stay apart ---


@dataclass(frozen=True)
class Remark:
    """An edge between two kernels and the rule that keeps them apart."""

    producer: Operation
    consumer: Operation
    producer_index: int  # position among @forward's ops
    consumer_index: int
    rule: str
    message: str

    def __str__(self) -> str:
        return (
            f"remark: {describe(self.producer)} (op {self.producer_index}) -> {describe(self.consumer)} "
            f"(op {self.consumer_index}) not fused [{self.rule}]: {self.message}"
        )


def describe(op: Operation) -> str:
    if isinstance(op, FusedOp):
        return "hy.fused(" + ", ".join(b.name for b in op.ops) + ")"
    return op.name


def _body(op: Operation) -> tuple[list[Operation], SSAValue]:
    if isinstance(op, FusedOp):
        return op.ops, op.yielded.values[0]
    return [op], op.results[0]


def _merged(producer: Operation, consumer: Operation) -> tuple[list[Operation], SSAValue]:
    """Detached clones of both kernels' ops as one group (the consumer reading
    the producer's clone) and its root; the caller erases them."""
    mapping: dict[SSAValue, SSAValue] = {}
    ops: list[Operation] = []
    for kernel in (producer, consumer):
        body, _ = _body(kernel)
        if isinstance(kernel, FusedOp):
            for arg, v in zip(kernel.body.block.args, kernel.inputs):
                mapping[arg] = mapping.get(v, v)
        for op in body:
            clone = op.clone(value_mapper=mapping)
            mapping.update(zip(op.results, clone.results))
            ops.append(clone)
        root = mapping[_body(kernel)[1]]
        mapping[kernel.results[0]] = root
    return ops, root


def edge_rule(producer: Operation, consumer: Operation, policy: Policy) -> Rule:
    """Why the kernel `producer` and the kernel `consumer` reading it are not
    one group (the same rules `fuse` applies, to whole kernels)."""
    for op in (producer, consumer):
        if kind_of(op) == Kind.OPAQUE and not isinstance(op, FusedOp):
            return Rule("opaque", f"{op.name} is opaque: it runs as a kernel of its own")
    if len(producer.results) != 1:
        return Rule("results", f"{producer.name} has {len(producer.results)} results")
    if consumer.has_trait(ViewLike):
        return Rule("view", f"{consumer.name} is a view of its operand's bytes: it costs no kernel")
    value = producer.results[0]
    others = [u for u in _users(value) if u is not consumer]
    p_ops, _ = _body(producer)
    if others and not (len(p_ops) == 1 and cheap_to_duplicate(producer)):
        names = ", ".join(sorted({describe(u) for u in others}))
        return Rule("users", f"its result is also read by {names} (and is not cheap to recompute)")
    ops, root = _merged(producer, consumer)
    try:
        why = policy.why_not(ops, root)
    finally:
        for op in reversed(ops):
            op.erase()
    if why is not None:
        return why
    return Rule("order", "the merged group would be legal: fuse grows groups from their results upward and "
                "stopped earlier on this path")  # fmt: skip


def fusion_remarks(module: ModuleOp, target: str = "c", max_ops: int = 16) -> list[Remark]:
    """For every edge between two kernels of `@forward` (after `fuse`, or
    before it), the rule that keeps them apart."""
    policy = Policy(fusion_target(target), max_ops=max_ops)
    block = forward_func(module).body.block
    ops = [op for op in block.ops if op is not block.last_op]
    index = {op: k for k, op in enumerate(ops)}
    remarks = []
    for consumer in ops:
        for v in dict.fromkeys(consumer.operands):
            p = v.owner
            if not isinstance(p, Operation) or p not in index or isinstance(p, ConstantOp):
                continue
            r = edge_rule(p, consumer, policy)
            remarks.append(Remark(p, consumer, index[p], index[consumer], r.rule, r.message))
    return remarks


@dataclass(frozen=True)
class Fuse(ModulePass):
    name = "fuse"

    target: str = "c"
    """The backend the groups are for (c, numpy): it declares the group shapes it runs."""
    max_ops: int = 16
    """The largest number of ops in one fused region."""
    anchors: bool = True
    """Fuse elementwise epilogues into linear/matmul/conv kernels."""
    reductions: bool = True
    """Fuse reductions (softmax, layer_norm, reduce_*) with their elementwise producers and consumers."""
    injective: bool = True
    """Fold shape ops (transpose, slice, reshape, concat) into the loops that read them."""
    duplicate: bool = True
    """Recompute a cheap elementwise producer in each user's kernel."""
    horizontal: bool = True
    """Merge sibling linears over one input with constant weights (Q/K/V) into one."""

    def policy(self) -> Policy:
        return Policy(
            fusion_target(self.target), self.max_ops, self.anchors, self.reductions, self.injective, self.duplicate
        )

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.max_ops < 2:
            raise ValueError(f"fuse: max-ops must be at least 2, got {self.max_ops}")
        policy = self.policy()
        for func in op.walk():
            if isinstance(func, FuncOp):
                func.attributes.pop(ARENA, None)
                for b in func.body.blocks:
                    if self.horizontal:
                        horizontal_linears(b)
                    apply_groups(b, plan_groups(b, policy))
