"""`plan`: place every intermediate of `@forward` in one arena.

Algorithm:
1. Liveness (`liveness.analyze`): one interval per value that needs bytes;
   elementwise ops take over the bytes of an operand that dies at them (in place).
2. Chains of in-place values form groups that share one offset.
3. Groups are placed largest first, each at the lowest offset that overlaps no
   placed group live at the same time (greedy by size).
   Batch-proportional buffers (a `?` batch dimension) are planned the same way
   for one batch element in a second region after the static one.
4. Each op gets `hy.buf = #hy.buf<offset, bytes, live s to e[, inplace i]>`;
   `@forward` gets `hy.arena = #hy.arena<bytes, lower_bound, no_reuse>`, where
   lower_bound is the peak of bytes live at once and no_reuse the sum of all.
5. The peak depends on op order: `@forward` also gets
   `hy.peak_bytes = {given_order = P, scheduled = Q}`, the peak (static plus
   batch-proportional bytes at batch 1) of the order as given and of the order
   the `schedule` pass would choose; Q < P says `-p ...,schedule,plan` helps.

    %1 = hy.relu %0 : tensor<1x256xf32> {hy.buf = #hy.buf<offset 0, bytes 1024, live 5 to 7, inplace 0>}
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, IntegerType, ModuleOp
from xdsl.dialects.func import FuncOp
from xdsl.passes import ModulePass

from hybridize.ir.attributes import ARENA, BUF, ArenaAttr, BufferAttr
from hybridize.passes.liveness import Interval, analyze, lower_bound


@dataclass(frozen=True)
class Plan(ModulePass):
    name = "plan"

    alignment: int = 64
    """Every buffer starts at a multiple of this many bytes (SIMD loads)."""
    inplace: bool = True
    """Let elementwise ops overwrite an operand that dies at them."""
    reuse: bool = True
    """Share bytes between buffers whose lifetimes do not overlap."""
    report_schedule: bool = True
    """Record the peak of the order `schedule` would choose (`hy.peak_bytes`)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.alignment < 1 or self.alignment & (self.alignment - 1):
            raise ValueError(f"plan: alignment must be a power of two, got {self.alignment}")
        for func in op.walk():
            if isinstance(func, FuncOp) and func.body.blocks:
                self.plan_function(func)

    def plan_function(self, func: FuncOp) -> None:
        for o in func.walk():
            o.attributes.pop(BUF, None)
        intervals = analyze(func, self.alignment, self.inplace and self.reuse)
        # Static buffers first, then batch-proportional ones planned for one
        # batch element: a plan valid for N = 1 scaled by N is valid for all N.
        classes = [[iv for iv in intervals if iv.batched == b] for b in (False, True)]
        sizes, bounds = [], []
        offsets: dict = {}
        for members in classes:
            offsets.update(place(members) if self.reuse else sequential(members))
            sizes.append(max((offsets[iv.value] + iv.bytes for iv in members), default=0))
            bounds.append(lower_bound(members))
        for iv in intervals:
            off = (sizes[0], offsets[iv.value]) if iv.batched else (offsets[iv.value], 0)
            size = (0, iv.bytes) if iv.batched else (iv.bytes, 0)
            iv.op.attributes[BUF] = BufferAttr(off, size, iv.start, iv.end, iv.donor)
        no_reuse = tuple(sum(iv.bytes for iv in members) for members in classes)
        func.attributes[ARENA] = ArenaAttr(tuple(sizes), tuple(bounds), no_reuse)
        func.attributes.pop(PEAK, None)
        if self.report_schedule:
            from hybridize.passes.schedule import scheduled_peak

            given, scheduled = scheduled_peak(func, self.alignment)
            i64 = IntegerType(64)
            func.attributes[PEAK] = DictionaryAttr(
                {"given_order": IntegerAttr(given, i64), "scheduled": IntegerAttr(scheduled, i64)}
            )


PEAK = "hy.peak_bytes"
"""Function attribute: peaks of live bytes of the given order and of `schedule`'s."""


def sequential(intervals: list[Interval]) -> dict:
    offsets, off = {}, 0
    for iv in intervals:
        offsets[iv.value] = off
        off += iv.bytes
    return offsets


def place(intervals: list[Interval]) -> dict:
    """Greedy by size over in-place groups; returns value -> offset."""
    group_of: dict = {}
    groups: list[list[Interval]] = []
    for iv in intervals:  # program order: a donor is grouped before its heir
        if iv.donor_root is not None:
            g = group_of[iv.donor_root]
        else:
            g = len(groups)
            groups.append([])
        groups[g].append(iv)
        group_of[iv.value] = g

    spans = [(min(i.start for i in g), max(i.end for i in g), g[0].bytes) for g in groups]
    order = sorted(range(len(groups)), key=lambda g: (-spans[g][2], spans[g][0]))
    placed: list[tuple[int, int, int, int]] = []  # start, end, offset, bytes
    offsets: dict = {}
    for g in order:
        start, end, size = spans[g]
        busy = sorted((o, o + b) for s, e, o, b in placed if s <= end and start <= e)
        off = 0
        for lo, hi in busy:
            if off + size <= lo:
                break
            off = max(off, hi)
        placed.append((start, end, off, size))
        for iv in groups[g]:
            offsets[iv.value] = off
    return offsets

