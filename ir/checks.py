"""Module-level checks that op verifiers cannot make, run on every parsed file
and by the backends before they trust a module:

- `verify_structure`: every function body is one block ending in `func.return`;
- `verify_dominance`: every operand is defined before its use (xDSL 0.74 has no
  dominance check and accepts `%1 = hy.relu %0` above `%0 = ...`);
- `verify_types`: every tensor has a supported element type, sizes >= 0, and a
  byte count within `Limits.max_tensor_bytes` (and always within 63 bits, so
  no C loop bound or byte offset can overflow);
- `verify_plan`: a memory plan written in the IR (`hy.arena`, `hy.buf`) is only
  believed after checking that every buffer lies inside the arena, is sized and
  aligned for its tensor, starts where its op writes and stays live until its
  last use, that `inplace` is only claimed by elementwise ops on an operand
  with the same bytes, and that no two buffers live at the same time overlap.

Each raises `CheckError`, which carries the offending op so callers that know
source positions (`ir.module.verify_located`) can name `file:line:col`.

    >>> verify_module(module)          # all four, default limits
"""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.traits import IsolatedFromAbove
from xdsl.utils.exceptions import VerifyException

from hybridize.errors import IRError
from hybridize.ir.attributes import ARENA, BUF, ArenaAttr, BufferAttr, affine_text
from hybridize.ir.parser import DEFAULT_LIMITS, INT63, Limits
from hybridize.ir.types import DYNAMIC, format_shape, is_supported_element, numpy_dtype


class CheckError(VerifyException, IRError):
    """A module-level check failed at `op` (None: the module as a whole)."""

    def __init__(self, op: Operation | None, message: str):
        super().__init__(message)
        self.op = op


def _funcs(module: Operation):
    return [op for op in module.walk() if isinstance(op, FuncOp)]


def verify_structure(module: Operation) -> None:
    for func in _funcs(module):
        blocks = func.body.blocks
        if len(blocks) == 0:
            continue  # a declaration
        if len(blocks) != 1:
            raise CheckError(func, f"func.func @{func.sym_name.data}: a body of {len(blocks)} blocks; "
                             "hybridize functions have exactly one block (no control flow)")
        if not isinstance(blocks[0].last_op, ReturnOp):
            raise CheckError(func, f"func.func @{func.sym_name.data}: the body must end in func.return")


def verify_dominance(module: Operation) -> None:
    """Every operand is a block argument or the result of an earlier op of the
    same block or of an enclosing block (up to an `IsolatedFromAbove` op)."""

    def visit(block: Block, outer: list[set]) -> None:
        defined: set[SSAValue] = set(block.args)
        scopes = [*outer, defined]
        for op in block.ops:
            for i, v in enumerate(op.operands):
                if not any(v in s for s in scopes):
                    what = f"%{v.name_hint}" if v.name_hint else f"operand {i}"
                    raise CheckError(op, f"{op.name}: {what} is used before it is defined "
                                     "(or is defined in a block that does not enclose this op)")
            for region in op.regions:
                inner = [] if op.has_trait(IsolatedFromAbove) else scopes
                for b in region.blocks:
                    visit(b, inner)
            defined.update(op.results)

    for region in module.regions:
        for b in region.blocks:
            visit(b, [])


def tensor_bytes(t: TensorType) -> int:
    """Bytes of the static part of a tensor type (a `?` counts as 1)."""
    n = numpy_dtype(t).itemsize
    for d in t.get_shape():
        if d != DYNAMIC:
            n *= d
    return n


def check_tensor_type(t, limits: Limits = DEFAULT_LIMITS) -> str | None:
    """Why a tensor type cannot be run, or None."""
    if not isinstance(t, TensorType):
        return None
    if not is_supported_element(t.element_type):
        return f"{t}: unsupported element type {t.element_type} (supported: f32, f64, i64, i32, i1)"
    shape = list(t.get_shape())
    if any(d < 0 and d != DYNAMIC for d in shape):
        return f"{t}: negative dimension"
    nbytes = tensor_bytes(t)
    if nbytes > INT63:
        return f"{t}: {nbytes} bytes does not fit in 63 bits"
    if nbytes > limits.max_tensor_bytes:
        return f"{t}: {nbytes} bytes is above the limit of {limits.max_tensor_bytes} bytes (Limits.max_tensor_bytes)"
    return None


def verify_types(module: Operation, limits: Limits = DEFAULT_LIMITS) -> None:
    for op in module.walk():
        values = [*op.results, *(a for r in op.regions for b in r.blocks for a in b.args)]
        for v in values:
            why = check_tensor_type(v.type, limits)
            if why is not None:
                raise CheckError(op, f"{op.name}: {why}")


def _can_run_in_place(op: Operation) -> bool:
    from hybridize.ir.fusion import runs_in_place

    return runs_in_place(op)


def verify_plan(func: FuncOp, limits: Limits = DEFAULT_LIMITS) -> None:
    """Check the memory plan of `func` (see the module docstring); a function
    without `hy.arena` and without any `hy.buf` passes."""
    from hybridize.ir.base import ViewLike
    from hybridize.ir.module import direct_outputs
    from hybridize.ir.structure import ConstantOp

    if not func.body.blocks:
        return
    block = func.body.block
    ret = block.last_op
    ops = [op for op in block.ops if op is not ret]
    arena = func.attributes.get(ARENA)
    buffered = [op for op in ops if BUF in op.attributes]
    name = f"func.func @{func.sym_name.data}"
    if arena is None:
        if buffered:
            raise CheckError(buffered[0], f"{buffered[0].name}: has a hy.buf but {name} has no hy.arena")
        return
    if not isinstance(arena, ArenaAttr):
        raise CheckError(func, f"{name}: hy.arena must be a #hy.arena, got {arena}")
    size_s, size_b = arena.bytes.data, arena.bytes_n.data
    if size_s + size_b > limits.max_tensor_bytes:
        raise CheckError(func, f"{name}: an arena of {affine_text(size_s, size_b)} bytes is above the limit of "
                         f"{limits.max_tensor_bytes} bytes (Limits.max_tensor_bytes)")

    direct = direct_outputs(func)
    index = {op: k for k, op in enumerate(ops)}
    root: dict[SSAValue, SSAValue] = {}  # value -> arena value owning its bytes
    bufs: dict[SSAValue, BufferAttr] = {}
    for op in ops:
        attr = op.attributes.get(BUF)
        if attr is None:
            if len(op.results) == 1 and op.has_trait(ViewLike):
                if op.operands[0] in root:
                    root[op.results[0]] = root[op.operands[0]]
            elif len(op.results) == 1 and not isinstance(op, ConstantOp) and op.results[0] not in direct:
                raise CheckError(op, f"the memory plan of {name} is stale: {op.name} has no hy.buf "
                                 "(a pass changed the graph after `plan`; run `plan` last)")
            continue
        where = f"{op.name}: hy.buf"
        if not isinstance(attr, BufferAttr):
            raise CheckError(op, f"{where} must be a #hy.buf, got {attr}")
        if len(op.results) != 1 or isinstance(op, ConstantOp) or op.has_trait(ViewLike):
            raise CheckError(op, f"{where} on an op that owns no buffer (constants and views have none)")
        (res,) = op.results
        if res in direct:
            continue  # written straight into the caller's output: the buffer is unused
        (off_s, off_b), (n_s, n_b) = attr.offsets, attr.sizes
        shape = res.type.get_shape()
        itemsize = numpy_dtype(res).itemsize
        need = tensor_bytes(res.type)
        dynamic = list(shape).count(DYNAMIC)
        if dynamic > 1:
            raise CheckError(op, f"{where}: {res.type} grows faster than the batch; no arena can hold it")
        if dynamic == 0:
            if off_b or n_b:
                raise CheckError(op, f"{where}: a static {res.type} cannot have a batch-proportional buffer")
            if n_s < need:
                raise CheckError(op, f"{where}: {n_s} bytes cannot hold {res.type} ({need} bytes)")
            if off_s + n_s > size_s:
                raise CheckError(op, f"{where}: bytes {off_s} to {off_s + n_s} lie outside the arena's "
                                 f"static region of {size_s} bytes")
        else:
            if n_s or off_s != size_s:
                raise CheckError(op, f"{where}: a batched {res.type} must lie in the batch region "
                                 f"(offset {size_s} + k * N, bytes b * N)")
            if n_b < need:
                raise CheckError(op, f"{where}: {n_b} bytes per batch element cannot hold {res.type} "
                                 f"({need} bytes per batch element)")
            if off_b + n_b > size_b:
                raise CheckError(op, f"{where}: bytes {off_b} * N to {off_b + n_b} * N lie outside the arena's "
                                 f"batch region of {size_b} * N bytes")
        if off_s % itemsize or off_b % itemsize:
            raise CheckError(op, f"{where}: offset {affine_text(off_s, off_b)} is not aligned to "
                             f"{itemsize} bytes ({res.type.element_type})")
        k = index[op]
        if attr.start.data != 2 * k + 1:
            raise CheckError(op, f"{where}: live from {attr.start.data}, but the op writes at step {2 * k + 1}")
        root[res] = res
        bufs[res] = attr

    # Stated intervals must cover every read: op u reads at 2u + 1, or at 2u
    # from the operand it overwrites in place.
    end_of_program = 2 * len(ops) + 1
    for op in [*ops, ret]:
        u = index.get(op)
        attr = op.attributes.get(BUF) if u is not None else None
        donor = attr.inplace.data if isinstance(attr, BufferAttr) and op.results[0] in bufs else -1
        if donor >= 0:
            (res,) = op.results
            if donor >= len(op.operands) or op.operands[donor] not in root:
                raise CheckError(op, f"{op.name}: hy.buf claims inplace {donor}, which is not an operand in the arena")
            d = root[op.operands[donor]]
            if not _can_run_in_place(op):
                raise CheckError(op, f"{op.name}: hy.buf claims inplace {donor}, but the op is not elementwise")
            if op.operands[donor].type != res.type or bufs[d].offsets != bufs[res].offsets or bufs[d].sizes != bufs[res].sizes:
                raise CheckError(op, f"{op.name}: hy.buf claims inplace {donor}, but the operand's bytes and type "
                                 "differ from the result's")
            for j, v in enumerate(op.operands):
                if j != donor and root.get(v) is d and v.type != op.operands[donor].type:
                    raise CheckError(op, f"{op.name}: hy.buf claims inplace {donor}, but operand {j} reads the "
                                     "same bytes under another shape")
        for j, v in enumerate(op.operands):
            r = root.get(v)
            if r is None:
                continue
            if u is None:
                need_end = end_of_program
            else:
                need_end = 2 * u if (donor >= 0 and r is root[op.operands[donor]]) else 2 * u + 1
            if bufs[r].end.data < need_end:
                raise CheckError(r.owner, f"{r.owner.name}: hy.buf is live until {bufs[r].end.data}, but its value "
                                 f"is read at step {need_end} (by {op.name})")

    for batched in (False, True):
        spans = []
        for res, attr in bufs.items():
            lo = attr.offsets[1] if batched else attr.offsets[0]
            n = attr.sizes[1] if batched else attr.sizes[0]
            if bool(attr.sizes[1]) == batched:
                spans.append((attr.start.data, attr.end.data, lo, lo + n, res))
        spans.sort(key=lambda s: s[0])
        active: list = []
        for s in spans:
            active = [a for a in active if a[1] >= s[0]]
            for a in active:
                if a[2] < s[3] and s[2] < a[3]:
                    raise CheckError(s[4].owner, f"{s[4].owner.name}: hy.buf overlaps the buffer of "
                                     f"{a[4].owner.name} while both are live")
            active.append(s)


def verify_module(module: ModuleOp, limits: Limits = DEFAULT_LIMITS) -> None:
    """Structure, dominance, types and memory plans (raises CheckError)."""
    verify_structure(module)
    verify_dominance(module)
    verify_types(module, limits)
    for func in _funcs(module):
        verify_plan(func, limits)


__all__ = [
    "CheckError",
    "check_tensor_type",
    "tensor_bytes",
    "verify_dominance",
    "verify_module",
    "verify_plan",
    "verify_structure",
    "verify_types",
]
