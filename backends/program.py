"""The one walker every backend shares: it lowers `@forward` into a list of
steps with stable, generated names and a storage decision for every value.

Names in generated code never come from the model (whose names may hold
anything): inputs are `x0, x1, ...`, outputs `y0, ...`, constants `c0, ...`,
intermediates `v<k>` numbered in program order. Storage of a value:

- `input` / `const`: caller's or model's memory, read-only;
- `output`: the fresh array returned to the caller (the producing op writes it
  directly);
- `arena`: bytes at `offset` of the planned arena (`plan` pass); offsets are
  (static, per batch element) pairs: the byte offset is S + B * batch;
- `temp`: no plan; the backend allocates (NumPy reference mode only);
- `view`: shares the storage of another value (`ViewLike` ops such as reshape).

Backends differ only in their per-op tables; see `backends/numpy.py` and
`backends/c/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Operation, SSAValue

from hybridize import errors
from hybridize.ir.attributes import ARENA, BUF, ArenaAttr, BufferAttr
from hybridize.ir.base import ViewLike
from hybridize.ir.checks import verify_module
from hybridize.ir.module import direct_outputs, forward_func
from hybridize.ir.parser import DEFAULT_LIMITS, Limits
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import DYNAMIC, format_shape, numpy_dtype, shape_of


class UnsupportedOpError(errors.BackendError, errors.UnsupportedOpError):
    """A backend has no rule for an op; the message names the op and backend
    (also a `NotImplementedError`, as before)."""


@dataclass
class Storage:
    kind: str  # input | output | const | arena | temp | view
    index: int = -1  # input / output / const number
    offset: tuple[int, int] = (0, 0)  # arena byte offset: static + per-batch * batch
    base: SSAValue | None = None  # for views: the value whose bytes these are


@dataclass
class Step:
    """One op of the function body to emit, with its operands' and result's names."""

    op: Operation
    args: list[str]
    out: str
    inplace: int = -1  # operand index whose bytes the result overwrites


@dataclass
class Copy:
    """Copy a value that is returned but not written directly into its output."""

    src: str
    out: str
    value: SSAValue


@dataclass
class Program:
    func: FuncOp
    inputs: list[SSAValue]
    outputs: list[SSAValue]
    output_names: list[str]
    constants: list[np.ndarray]
    steps: list[Step]
    copies: list[Copy]
    names: dict[SSAValue, str] = field(default_factory=dict)
    storage: dict[SSAValue, Storage] = field(default_factory=dict)
    arena: tuple[int, int] = (0, 0)  # bytes: static + per-batch * batch
    planned: bool = False
    batch_source: tuple[int, int] | None = None  # (input, axis) giving the batch size

    @property
    def dynamic(self) -> bool:
        return self.batch_source is not None

    def arena_bytes(self, batch: int = 1) -> int:
        return self.arena[0] + self.arena[1] * batch

    def name(self, value: SSAValue) -> str:
        return self.names[value]

    def root(self, value: SSAValue) -> SSAValue:
        """The value that owns `value`'s bytes (follows views)."""
        s = self.storage[value]
        while s.kind == "view":
            value = s.base
            s = self.storage[value]
        return value

    def signature(self) -> str:
        """`(x0: tensor<1x512xf32>) -> tensor<1x2xf32>` as the user sees it."""
        ins = ", ".join(f"{n}: {v.type}" for n, v in zip(self.input_names, self.inputs))
        outs = ", ".join(str(v.type) for v in self.outputs)
        return f"({ins}) -> ({outs})"

    @property
    def input_names(self) -> list[str]:
        return [self.names[v] for v in self.inputs]


def lower(module: ModuleOp, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Walk `@forward` once and decide names and storage for every value.

    Nothing in the IR is trusted: the module-level checks run first
    (`hybridize.ir.checks`: one block, every operand defined before its use,
    tensor sizes within `limits`, and a memory plan that keeps every buffer
    inside the arena and no two live buffers overlapping)."""
    verify_module(module, limits)
    func = forward_func(module)
    block = func.body.block
    ret = block.last_op
    if not isinstance(ret, ReturnOp):
        raise ValueError("@forward must end in func.return")
    for v in [*block.args, *ret.arguments]:
        if not isinstance(v.type, TensorType):
            raise ValueError(f"@forward: only tensor arguments and results are supported, got {v.type}")
        numpy_dtype(v.type)  # raises for unsupported element types
    arena = func.attributes.get(ARENA)
    prog = Program(
        func=func,
        inputs=list(block.args),
        outputs=list(ret.arguments),
        output_names=[f"y{i}" for i in range(len(ret.arguments))],
        constants=[],
        steps=[],
        copies=[],
        arena=(arena.bytes.data, arena.bytes_n.data) if isinstance(arena, ArenaAttr) else (0, 0),
        planned=isinstance(arena, ArenaAttr),
    )
    for i, arg in enumerate(block.args):
        prog.names[arg] = f"x{i}"
        prog.storage[arg] = Storage("input", index=i)
        if prog.batch_source is None and DYNAMIC in shape_of(arg):
            prog.batch_source = (i, shape_of(arg).index(DYNAMIC))

    direct = direct_outputs(func)

    counter = 0
    for op in block.ops:
        if op is ret:
            break
        if len(op.results) != 1:
            raise UnsupportedOpError(
                f"{op.name}: ops with {len(op.results)} results are not supported by backends{where(op)}"
            )
        (res,) = op.results
        if isinstance(op, ConstantOp):
            prog.names[res] = f"c{len(prog.constants)}"
            prog.storage[res] = Storage("const", index=len(prog.constants))
            prog.constants.append(op.numpy())
            continue
        if res in direct:
            prog.names[res] = prog.output_names[direct[res]]
            prog.storage[res] = Storage("output", index=direct[res])
        elif op.has_trait(ViewLike):
            prog.names[res] = f"v{counter}"
            prog.storage[res] = Storage("view", base=op.operands[0])
        else:
            prog.names[res] = f"v{counter}"
            buf = op.attributes.get(BUF)
            if isinstance(buf, BufferAttr):
                prog.storage[res] = Storage("arena", offset=buf.offsets)
            elif prog.planned:
                raise ValueError(
                    f"the memory plan of @forward is stale: {op.name} has no hy.buf "
                    "(a pass changed the graph after `plan`; run `plan` last)"
                )
            else:
                prog.storage[res] = Storage("temp")
        counter += 1
        buf = op.attributes.get(BUF)
        inplace = buf.inplace.data if isinstance(buf, BufferAttr) else -1
        prog.steps.append(Step(op, [prog.names[o] for o in op.operands], prog.names[res], inplace))

    for i, v in enumerate(ret.arguments):
        if direct.get(v) != i:
            prog.copies.append(Copy(prog.names[v], prog.output_names[i], v))
    check_batch(prog, block)
    return prog


def check_batch(prog: Program, block) -> None:
    """Every `?` must be the batch size: inputs give it, and a reshape may only
    keep it (its `?` must stand for the same number of elements)."""
    if prog.batch_source is None:
        for op in block.ops:
            for r in op.results:
                if DYNAMIC in shape_of(r):
                    raise UnsupportedOpError(
                        f"{op.name}: result {r.type} has a dynamic dimension but no input does{where(op)}"
                    )
        return
    from hybridize.backends.dims import dims_of, product

    for op in block.ops:
        if op.has_trait(ViewLike) and DYNAMIC in shape_of(op.results[0]):
            before = product(dims_of(shape_of(op.operands[0])))
            after = product(dims_of(shape_of(op.results[0])))
            if before != after:
                raise UnsupportedOpError(
                    f"{op.name}: {op.operands[0].type} -> {op.results[0].type}: the `?` of the result "
                    f"is not the batch size (backends read every `?` as the batch){where(op)}"
                )


def where(op) -> str:
    from hybridize.ir.locations import where as located

    return located(op)


def describe(value: SSAValue) -> str:
    return f"{format_shape(shape_of(value))} {numpy_dtype(value).name}"
