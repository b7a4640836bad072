"""Liveness of the arena values of `@forward`, shared by `plan` and tests.

Time runs in half steps: op k reads its operands at 2k and writes its result
at 2k+1. A value is live from 2k+1 (its definition) to 2u+1 for its last use u,
so an op's operands and result overlap and never share bytes, except for the
one operand a loop op or loop group (`runs_in_place` of the fusion table)
overwrites in place (its *donor*): the donor ends
at 2u, the result starts at 2u+1 and takes the same offset. A view (reshape)
has no bytes of its own: its uses count as uses of the value it views.
Values returned but copied at the end stay live past the last op.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue

from hybridize.errors import PassError
from hybridize.ir.base import ViewLike
from hybridize.ir.fusion import runs_in_place
from hybridize.ir.module import direct_outputs
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import DYNAMIC, numpy_dtype, shape_of


@dataclass
class Interval:
    value: SSAValue
    op: Operation
    bytes: int  # per batch element when `batched`
    start: int
    end: int
    batched: bool = False
    donor: int = -1  # operand index of `op` whose bytes this value takes over
    donor_root: SSAValue | None = None  # the value owning the donor's bytes


class PlanError(PassError):
    """A value the arena cannot hold (its size grows faster than the batch)."""


def nbytes(value: SSAValue, alignment: int) -> tuple[int, bool]:
    """Aligned bytes of a value and whether they are per batch element (a `?`
    dimension is the batch; the plan of a batch-proportional buffer is made
    for one element and scaled)."""
    shape = shape_of(value)
    dynamic = shape.count(DYNAMIC)
    if dynamic > 1:
        raise PlanError(
            f"{value.owner.name}: result {value.type} grows with the batch squared; "
            "the arena holds static and batch-proportional buffers only"
        )
    n = int(np.prod([d for d in shape if d != DYNAMIC], dtype=np.int64)) * numpy_dtype(value).itemsize
    return max(alignment, -(-n // alignment) * alignment), bool(dynamic)


can_run_in_place = runs_in_place  # the fusion table's rule (loop ops and loop groups)


def analyze(func: FuncOp, alignment: int = 64, inplace: bool = True) -> list[Interval]:
    """One interval per arena value, in program order, donors chosen."""
    block = func.body.block
    ops = [op for op in block.ops if op is not block.last_op]
    index = {op: k for k, op in enumerate(ops)}
    direct = direct_outputs(func)
    root: dict[SSAValue, SSAValue] = {}
    intervals: dict[SSAValue, Interval] = {}
    for op in ops:
        if len(op.results) != 1 or isinstance(op, ConstantOp):
            continue
        (res,) = op.results
        if op.has_trait(ViewLike):
            src = op.operands[0]
            if root.get(src) is not None:
                root[res] = root[src]
            continue
        if res in direct:
            continue
        k = index[op]
        root[res] = res
        size, batched = nbytes(res, alignment)
        intervals[res] = Interval(res, op, size, 2 * k + 1, 2 * k + 1, batched)

    end_of_program = 2 * len(ops) + 1
    for op in [*ops, block.last_op]:
        u = index.get(op, len(ops))
        for v in op.operands:
            r = root.get(v)
            if r is not None:
                intervals[r].end = max(intervals[r].end, end_of_program if u == len(ops) else 2 * u + 1)

    if inplace:
        donated: set[SSAValue] = set()
        for res, iv in intervals.items():
            op = iv.op
            if not runs_in_place(op):
                continue
            u = index[op]
            for i, v in enumerate(op.operands):
                r = root.get(v)
                if (
                    r is not None
                    and r not in donated
                    and v.type == res.type
                    and (intervals[r].bytes, intervals[r].batched) == (iv.bytes, iv.batched)
                    and intervals[r].end == 2 * u + 1
                ):
                    intervals[r].end = 2 * u
                    iv.donor = i
                    iv.donor_root = r
                    donated.add(r)
                    break
    return list(intervals.values())


def lower_bound(intervals: list[Interval]) -> int:
    """Peak of bytes live at once: no placement can use fewer. (Give it one
    size class: static or batch-proportional intervals.)"""
    events: dict[int, int] = {}
    for iv in intervals:
        events[iv.start] = events.get(iv.start, 0) + iv.bytes
        events[iv.end + 1] = events.get(iv.end + 1, 0) - iv.bytes
    peak = live = 0
    for t in sorted(events):
        live += events[t]
        peak = max(peak, live)
    return peak
