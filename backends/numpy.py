"""NumPy backend: readable Python source, one statement per op, compiled with
`compile()`. It is also the executable definition of every op's semantics
(`backends/reference.py` evaluates single ops through the same table).

For the d2l MLP after `canonicalize,fuse,plan` it generates (abridged):

    def make(constants, arena):
        c0, c1, c2, c3, c4, c5 = constants
        v0 = arena[0:1024].view(np.float32).reshape((1, 256))
        def forward(x0):
            y0 = np.empty((1, 2), np.float32)
            # hy.fused
            np.matmul(x0, c0.T, out=v0)      # hy.linear
            np.add(v0, c1, out=v0)
            np.maximum(v0, 0, out=v0)        # hy.relu
            ...
            return (y0,)
        return forward

A rule maps (op, operand names, target) to lines of source; the target either
names a preallocated array (`into`: write with `out=`) or a new variable.
"""

from __future__ import annotations

import hashlib
import linecache
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from xdsl.ir import Operation

from hybridize.backends.dims import BATCH
from hybridize.backends.program import Program, UnsupportedOpError
from hybridize.ir.structure import FusedOp
from hybridize.ir.types import DYNAMIC, numpy_dtype, shape_of


@dataclass(frozen=True)
class Target:
    name: str
    into: bool  # True: `name` is an existing array to write into


Rule = Callable[[Operation, list[str], Target], list[str]]


def call(fn: str, args: list[str], out: Target) -> list[str]:
    """`fn(args, out=name)` into an existing array, else `name = fn(args)`."""
    if out.into:
        return [f"{fn}({', '.join(args)}, out={out.name})"]
    return [f"{out.name} = {fn}({', '.join(args)})"]


def copy_into(expr: str, out: Target) -> list[str]:
    if out.into:
        return [f"np.copyto({out.name}, {expr})"]
    return [f"{out.name} = np.ascontiguousarray({expr})"]


def shape_literal(shape: tuple[int, ...]) -> str:
    """A shape tuple in generated code; `?` is the batch size variable."""
    dims = [BATCH if d == DYNAMIC else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def ufunc(fn: str) -> Rule:
    return lambda op, a, out: call(fn, a, out)


def _linear(op: Operation, a: list[str], out: Target) -> list[str]:
    lines = call("np.matmul", [a[0], f"{a[1]}.T"], out)
    if len(a) == 3:
        lines.append(f"np.add({out.name}, {a[2]}, out={out.name})")
    return lines


def _reshape(op: Operation, a: list[str], out: Target) -> list[str]:
    expr = f"{a[0]}.reshape({shape_literal(shape_of(op.results[0]))})"
    return copy_into(expr, out) if out.into else [f"{out.name} = {expr}"]


def _transpose(op: Operation, a: list[str], out: Target) -> list[str]:
    return copy_into(f"{a[0]}.transpose({shape_literal(op.permutation)})", out)


RULES: dict[str, Rule] = {
    "hy.add": ufunc("np.add"),
    "hy.sub": ufunc("np.subtract"),
    "hy.mul": ufunc("np.multiply"),
    "hy.div": ufunc("np.divide"),
    "hy.relu": lambda op, a, out: call("np.maximum", [a[0], "0"], out),
    "hy.linear": _linear,
    "hy.matmul": ufunc("np.matmul"),
    "hy.reshape": _reshape,
    "hy.transpose": _transpose,
    # --- elementwise math, comparisons, logic, casts ---
    # --- shape and indexing ops ---
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
}


def rule_for(op: Operation) -> Rule:
    if isinstance(op, FusedOp):
        return lambda op, a, out: emit_fused(op, a, out, donor=-1)
    rule = RULES.get(op.name)
    if rule is None:
        raise UnsupportedOpError(
            f"the NumPy backend has no rule for {op.name} (supported: {', '.join(sorted(RULES))})"
        )
    return rule


def emit_fused(op: FusedOp, args: list[str], out: Target, donor: int) -> list[str]:
    """The body statement by statement. An intermediate of the output's type is
    computed in the output array itself when the value held there is dead by
    then (the donor input, when the plan reuses its bytes, counts as held)."""
    body = op.ops
    names = dict(zip(op.body.block.args, args))
    last_use: dict = {}
    for k, bop in enumerate([*body, op.yielded]):
        for v in bop.operands:
            last_use[v] = k
    (result,) = op.yielded.values
    held = op.body.block.args[donor] if donor >= 0 else None
    lines = [f"# {op.name}"]
    for k, bop in enumerate(body):
        res = bop.results[0]
        if res is result:
            target = out
        elif out.into and res.type == result.type and (held is None or last_use.get(held, -1) <= k):
            target, held = out, res
        else:
            target = Target(f"{out.name}_t{k}", False)
        names[res] = target.name
        lines += rule_for(bop)(bop, [names[v] for v in bop.operands], target)
    return lines


def generate(prog: Program) -> str:
    """The module source: `make(constants, arena)` returns `forward(*inputs)`."""
    setup: list[str] = []
    body: list[str] = []
    if prog.constants:
        setup.append(", ".join(f"c{i}" for i in range(len(prog.constants))) + ", = constants")
    # A static arena is allocated once with its views; with a dynamic batch both
    # are made per call (their sizes depend on the batch).
    views = body if prog.dynamic else setup
    if prog.dynamic:
        i, axis = prog.batch_source
        body.append(f"{BATCH} = {prog.input_names[i]}.shape[{axis}]")
        body.append(f"arena = np.empty({prog.arena[0]} + {prog.arena[1]} * {BATCH}, np.uint8)")
    for value, storage in prog.storage.items():
        if storage.kind == "arena":
            dtype = numpy_dtype(value)
            count = " * ".join(BATCH if d == DYNAMIC else str(d) for d in shape_of(value)) or "1"
            start = str(storage.offset[0]) + (f" + {storage.offset[1]} * {BATCH}" if storage.offset[1] else "")
            views.append(
                f"{prog.names[value]} = arena[{start}:][:{count} * {dtype.itemsize}]"
                f".view(np.{dtype.name}).reshape({shape_literal(shape_of(value))})"
            )
    for value, storage in prog.storage.items():
        if storage.kind == "output":
            body.append(
                f"{prog.names[value]} = np.empty({shape_literal(shape_of(value))}, np.{numpy_dtype(value).name})"
            )
    for step in prog.steps:
        into = prog.storage[step.op.results[0]].kind in ("arena", "output")
        target = Target(step.out, into)
        if isinstance(step.op, FusedOp):
            body += emit_fused(step.op, step.args, target, step.inplace)
        else:
            lines = rule_for(step.op)(step.op, step.args, target)
            lines[0] += f"  # {step.op.name}"
            body += lines
    for c in prog.copies:
        body.append(f"{c.out} = np.array({c.src}, copy=True)")
    outs = ", ".join(prog.output_names) + ("," if len(prog.output_names) == 1 else "")
    body.append(f"return ({outs})")

    ins = ", ".join(prog.input_names)
    lines = [
        "# generated by hybridize (NumPy backend)",
        f"# forward{prog.signature()}",
        "import numpy as np",
        "",
        "",
        "def make(constants, arena):",
        *("    " + s for s in setup),
        f"    def forward({ins}):",
        *("        " + s for s in body),
        "    return forward",
        "",
    ]
    return "\n".join(lines)


def load(source: str, constants: list[np.ndarray], arena: np.ndarray):
    """Compile generated source and return its `forward` function."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    filename = f"<hybridize-numpy-{digest}>"
    # Tracebacks into generated code show its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {"__name__": f"hybridize_generated_{digest}"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["make"](constants, arena)
