"""`schedule`: reorder the independent ops of `@forward` to lower the peak of
live arena bytes (the lower bound `plan` reports depends on op order).

    %a = hy.linear %x, %w1     // 4 KiB          %a = hy.linear %x, %w1
    %b = hy.linear %x, %w2     // 4 KiB          %ra = hy.relu %a   // in place
    %ra = hy.relu %a                  ->        %b = hy.linear %x, %w2
    %rb = hy.relu %b                            %rb = hy.relu %b   // in place

Algorithm (a greedy list scheduler with a memory-pressure priority):
1. Build the dataflow graph of the block with networkx: an edge from each op
   to every op reading one of its results (directly or through a view), and
   a chain through the ops that have side effects, in their given order.
2. Model memory as `liveness` does: a value takes bytes from its op until
   its last reader ran; views and constants take none, a direct output
   none, a returned copy stays to the end, and an elementwise op may take
   over the bytes of a same-typed operand that dies at it (in place).
3. Repeatedly run, among the ops whose predecessors all ran, the one that
   adds the fewest net bytes (bytes allocated minus bytes it frees), ties
   broken by the given order: ops that free memory first, then the cheapest.
4. Constants move to just before their first reader.
5. Keep the new order only if `liveness`'s peak (the plan's lower bound,
   static plus batch-proportional bytes at batch 1) is lower than the given
   order's; otherwise the block is left as it was. Order is the only change:
   results are the same, and the pass is idempotent.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.traits import is_side_effect_free

from hybridize.ir.base import ViewLike
from hybridize.ir.module import direct_outputs
from hybridize.ir.structure import ConstantOp
from hybridize.passes.liveness import analyze, lower_bound, nbytes


@dataclass(frozen=True)
class Schedule(ModulePass):
    """Reorder independent ops to lower the peak of live arena bytes."""

    name = "schedule"

    alignment: int = 64
    """Buffer sizes are rounded up to this many bytes (as `plan` does)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for func in op.walk():
            if isinstance(func, FuncOp) and func.body.blocks:
                schedule_function(func, self.alignment)


def peak_bytes(func: FuncOp, alignment: int = 64) -> int:
    """The plan's lower bound for the block's current order: the peak of
    static bytes plus the peak of batch-proportional bytes (batch 1)."""
    intervals = analyze(func, alignment)
    return sum(lower_bound([iv for iv in intervals if iv.batched == b]) for b in (False, True))


def schedule_function(func: FuncOp, alignment: int = 64) -> tuple[int, int]:
    """Reorder `func`'s block in place if that lowers its peak; returns the
    (given, scheduled) peaks (equal when the order was kept)."""
    block = func.body.block
    given = [op for op in block.ops if op is not block.last_op]
    before = peak_bytes(func, alignment)
    order = memory_order(func, alignment)
    if order == given:
        return before, before
    _reorder(func, order)
    after = peak_bytes(func, alignment)
    if after >= before:
        _reorder(func, given)
        return before, before
    return before, after


def scheduled_peak(func: FuncOp, alignment: int = 64) -> tuple[int, int]:
    """(peak of the given order, peak after `schedule`), leaving `func` as it is."""
    block = func.body.block
    given = [op for op in block.ops if op is not block.last_op]
    before = peak_bytes(func, alignment)
    order = memory_order(func, alignment, networkx=False)
    if order == given:
        return before, before
    _reorder(func, order)
    try:
        after = peak_bytes(func, alignment)
    finally:
        _reorder(func, given)
    return before, min(before, after)


def _reorder(func: FuncOp, order: list[Operation]) -> None:
    block = func.body.block
    end = block.last_op
    for op in order:
        block.detach_op(op)
        block.insert_op_before(op, end)


def dataflow_graph(func: FuncOp, networkx: bool = True):
    """The DiGraph of the block's ops (nodes: op positions in the given
    order; edges: data dependencies and the side-effect chain), and the ops.
    `networkx=False` gives a light stand-in with the same methods, for
    `plan`'s report (importing networkx takes about a second)."""
    block = func.body.block
    ops = [op for op in block.ops if op is not block.last_op]
    index = {op: k for k, op in enumerate(ops)}
    if networkx:
        import networkx as nx

        graph = nx.DiGraph()
    else:
        graph = _Graph()
    graph.add_nodes_from(range(len(ops)))
    last_effect = None
    for k, op in enumerate(ops):
        for operand in _operands_within(op):
            owner = operand.owner
            if isinstance(owner, Operation) and owner in index and index[owner] != k:
                graph.add_edge(index[owner], k)
        if not is_side_effect_free(op):
            if last_effect is not None:
                graph.add_edge(last_effect, k)
            last_effect = k
    return graph, ops


class _Graph:
    """The few `networkx.DiGraph` methods `memory_order` uses."""

    def __init__(self):
        self._pred: dict[int, dict] = {}
        self._succ: dict[int, dict] = {}

    def add_nodes_from(self, nodes):
        for n in nodes:
            self._pred.setdefault(n, {})
            self._succ.setdefault(n, {})

    def add_edge(self, u, v):
        self.add_nodes_from((u, v))
        self._succ[u][v] = None
        self._pred[v][u] = None

    def predecessors(self, n):
        return iter(self._pred[n])

    def successors(self, n):
        return iter(self._succ[n])

    @property
    def edges(self):
        return [(u, v) for u, vs in self._succ.items() for v in vs]


def _operands_within(op: Operation):
    """Operands of `op` and of the ops nested in its regions (a region that
    is not isolated may read values of the enclosing block)."""
    yield from op.operands
    for region in op.regions:
        for inner in region.walk():
            yield from inner.operands


def memory_order(func: FuncOp, alignment: int = 64, networkx: bool = True) -> list[Operation]:
    """A topological order of the block's ops chosen greedily to keep few
    bytes live (steps 1-4 of the module docstring)."""
    graph, ops = dataflow_graph(func, networkx)
    block = func.body.block
    n = len(ops)
    direct = direct_outputs(func)
    returned = set(block.last_op.operands) if block.last_op is not None else set()

    # Values with bytes ("roots"), what each op reads, and how many ops read each root.
    root: dict = {}
    size: dict = {}
    alloc = [0] * n
    reads: list[list] = [[] for _ in range(n)]
    for k, op in enumerate(ops):
        if isinstance(op, ConstantOp):
            continue
        for res in op.results:
            if op.has_trait(ViewLike) and op.operands:
                src = root.get(op.operands[0])
                if src is not None:
                    root[res] = src
                continue
            if res in direct:
                continue
            b, batched = nbytes(res, alignment)
            root[res] = res
            size[res] = b
            alloc[k] += b
    pending: dict = {}  # root -> readers not yet scheduled
    readers: dict = {}
    for k, op in enumerate(ops):
        seen = []
        for v in _operands_within(op):
            r = root.get(v)
            if r is not None and r not in seen:
                seen.append(r)
        reads[k] = seen
        for r in seen:
            pending[r] = pending.get(r, 0) + 1
            readers.setdefault(r, []).append(k)
    pinned = {root[v] for v in returned if v in root}  # copied out at the end: live to the end

    def net(k: int) -> int:
        freed = sum(size[r] for r in reads[k] if pending[r] == 1 and r not in pinned)
        return alloc[k] - freed

    # A heap of (net bytes, given position) over the ready ops. An op's net
    # only falls (when it becomes the last reader of a value), so a stale
    # entry is pushed again with its new key and skipped when popped.
    is_const = [isinstance(op, ConstantOp) for op in ops]
    remaining = [sum(not is_const[p] for p in graph.predecessors(k)) for k in range(n)]
    is_ready = [remaining[k] == 0 and not is_const[k] for k in range(n)]
    heap = [(net(k), k) for k in range(n) if is_ready[k]]
    heapq.heapify(heap)
    order: list[int] = []
    placed = [False] * n
    while heap:
        key, best = heapq.heappop(heap)
        if placed[best] or key != net(best):
            continue
        for r in reads[best]:
            pending[r] -= 1
            if pending[r] == 1 and r not in pinned:
                last = next(k for k in readers[r] if not placed[k] and k != best)
                if is_ready[last]:
                    heapq.heappush(heap, (net(last), last))
        for c in [p for p in sorted(graph.predecessors(best)) if is_const[p] and not placed[p]]:
            placed[c] = True
            order.append(c)
        placed[best] = True
        order.append(best)
        for s in graph.successors(best):
            remaining[s] -= 1
            if remaining[s] == 0 and not is_const[s]:
                is_ready[s] = True
                heapq.heappush(heap, (net(s), s))
    # Constants read by nothing keep their place, at the top.
    leftover = [k for k in range(n) if is_const[k] and not placed[k]]
    full = leftover + order
    if len(full) != n:
        raise ValueError("schedule: the dataflow graph has a cycle")  # cannot happen in SSA
    position = {k: i for i, k in enumerate(full)}
    if any(position[u] >= position[v] for u, v in graph.edges):
        raise AssertionError("schedule: the order breaks a dependency (a hybridize bug: please report)")
    return [ops[k] for k in full]


__all__ = ["Schedule", "dataflow_graph", "memory_order", "peak_bytes", "schedule_function", "scheduled_peak"]
