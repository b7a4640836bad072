"""C backend: one C function per module, written so that GCC vectorizes its
inner loops at `-O3 -march=native` (contiguous innermost loops, `omp simd`
reductions, sizes known at compile time).

    int hy_forward(const void *in0, void *out0, const void *const *consts, void *arena)
    {
        char *A = (char *)arena;
        const float *x0 = (const float *)in0;
        float *y0 = (float *)out0;
        const float *c0 = (const float *)consts[0];
        float *v0 = (float *)(A + 0);
        /* hy.fused: hy.linear, hy.relu */
        for (long r = 0; r < 1; ++r) { ...dot products...; ...epilogue on the row... }
        ...
    }

The function returns 0, or a nonzero `ERRORS` code when a kernel finds bad
data at run time (an index out of range): kernels emit `return <code>;`.

Rules come from two tables: `SCALAR` gives each elementwise op's C expression
(used alone and inside fused loops), `KERNELS` emits the loop nest of every
other op. Nothing from the model's names reaches the source: the walker names
values `x0`, `c3`, `v7`, ....
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.ir import Operation, SSAValue

from hybridize.backends.dims import (
    BATCH,
    Dim,
    broadcast_strides,
    contiguous_strides,
    dims_of,
    index_expr,
    product,
)
from hybridize.backends.program import Program, UnsupportedOpError
from hybridize.ir.base import Elementwise, FusionAnchor
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.structure import FusedOp
from hybridize.ir.types import element_kind, shape_of

FUNCTION = "hy_forward"

ERRORS: dict[int, str] = {
    1: "index out of range",
}
"""Codes a generated function may return, and what the caller raises for them."""


# --- scalar expressions of elementwise ops ---
# An entry is a format string over the operand expressions ({0}, {1}, ...) or a
# function (op, operand expressions, C type of the result) -> expression.
# Math functions come from <tgmath.h>, so `exp(x)` is expf for float operands.
ScalarRule = str | Callable[[Operation, list[str], str], str]

SCALAR: dict[str, ScalarRule] = {
    # arithmetic
    "hy.add": "({0} + {1})",
    "hy.sub": "({0} - {1})",
    "hy.mul": "({0} * {1})",
    "hy.div": "({0} / {1})",
    "hy.relu": "({0} < 0 ? 0 : {0})",  # NaN stays NaN, like np.maximum
    # --- elementwise math, comparisons, logic, casts ---
}


def scalar_expr(op: Operation, args: list[str], ctype: str) -> str:
    rule = SCALAR.get(op.name)
    if rule is None:
        raise UnsupportedOpError(
            f"the C backend has no scalar rule for {op.name} (elementwise ops: {', '.join(sorted(SCALAR))})"
        )
    return rule.format(*args) if isinstance(rule, str) else rule(op, args, ctype)


@dataclass
class Tensor:
    """A value as the C code sees it: a pointer variable, its shape as `Dim`s
    (static numbers, or multiples of the batch `n`) and its C element type."""

    ptr: str
    shape: tuple[Dim, ...]
    ctype: str

    @property
    def count(self) -> Dim:
        return product(self.shape)


def collapse(shape: Sequence[Dim], all_strides: list[list[Dim]]) -> tuple[list[Dim], list[list[Dim]]]:
    """Merge adjacent dims that every operand walks contiguously; drop 1s."""
    dims = [d for d in range(len(shape)) if shape[d] != 1]
    new_shape: list[Dim] = []
    new_strides: list[list[Dim]] = [[] for _ in all_strides]
    for d in dims:
        if new_shape and all(s[-1] == st[d] * shape[d] for s, st in zip(new_strides, all_strides)):
            new_shape[-1] = new_shape[-1] * shape[d]
            for s, st in zip(new_strides, all_strides):
                s[-1] = st[d]
            continue
        new_shape.append(shape[d])
        for s, st in zip(new_strides, all_strides):
            s.append(st[d])
    return new_shape, new_strides


def loop_nest(out: Tensor, ins: Sequence[Tensor], body: Callable[[list[str]], tuple[list[str], str]]) -> list[str]:
    """out[i] = body(ins at the broadcast index i), innermost loop vectorized."""
    strides = [contiguous_strides(out.shape)] + [broadcast_strides(t.shape, out.shape) for t in ins]
    shape, strides = collapse(out.shape, strides)
    idx = [f"i{d}" for d in range(len(shape))]
    loads = [f"{t.ptr}[{index_expr(idx, s)}]" for t, s in zip(ins, strides[1:])]
    stmts, result = body(loads)
    lines: list[str] = ["{"]
    for d, n in enumerate(shape):
        if d == len(shape) - 1:
            lines.append("#pragma omp simd")
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    lines += stmts + [f"{out.ptr}[{index_expr(idx, strides[0])}] = {result};"]
    lines += ["}"] * len(shape) + ["}"]
    return lines


def scalar_body(ops: Sequence[Operation], args: Sequence[SSAValue], result: SSAValue, ctype: str):
    """Scalar code of an elementwise op sequence: one `const T t<k>` per op."""

    def body(loads: list[str]) -> tuple[list[str], str]:
        names = {a: l for a, l in zip(args, loads)}
        stmts = []
        for k, op in enumerate(ops):
            t = element_kind(op.results[0]).c
            expr = scalar_expr(op, [names[o] for o in op.operands], t)
            stmts.append(f"const {t} t{k} = {expr};")
            names[op.results[0]] = f"t{k}"
        return stmts, names[result]

    return body


def elementwise(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    return loop_nest(out, args, scalar_body([op], op.operands, op.results[0], out.ctype))


# --- anchors: a loop over output rows; `epilogue(row)` runs on each finished row ---
Epilogue = Callable[[str], list[str]]


def linear_rows(op: LinearOp, args: list[Tensor], out: Tensor, epilogue: Epilogue) -> list[str]:
    x, w = args[0], args[1]
    bias = args[2].ptr if len(args) == 3 else None
    n_out, k_in = w.shape
    rows = product(x.shape[:-1])
    t = out.ctype
    u = 4  # output columns per pass over the input row

    def finish(j: str, acc: str) -> str:
        return f"yr[{j}] = {acc} + {bias}[{j}];" if bias else f"yr[{j}] = {acc};"

    accs = ", ".join(f"s{j} = 0" for j in range(u))
    wrows = " ".join(f"const {t} *w{j} = {w.ptr} + (n + {j}) * {k_in};" for j in range(u))
    fma = " ".join(f"s{j} += xv * w{j}[k];" for j in range(u))
    return [
        f"for (long r = 0; r < {rows}; ++r) {{",
        f"const {t} *xr = {x.ptr} + r * {k_in};",
        f"{t} *yr = {out.ptr} + r * {n_out};",
        "long n = 0;",
        f"for (; n + {u} <= {n_out}; n += {u}) {{",
        wrows,
        f"{t} {accs};",
        f"#pragma omp simd reduction(+:{', '.join(f's{j}' for j in range(u))})",
        f"for (long k = 0; k < {k_in}; ++k) {{ const {t} xv = xr[k]; {fma} }}",
        *(finish(f"n + {j}", f"s{j}") for j in range(u)),
        "}",
        f"for (; n < {n_out}; ++n) {{",
        f"const {t} *w0 = {w.ptr} + n * {k_in};",
        f"{t} s0 = 0;",
        "#pragma omp simd reduction(+:s0)",
        f"for (long k = 0; k < {k_in}; ++k) s0 += xr[k] * w0[k];",
        finish("n", "s0"),
        "}",
        *epilogue("r"),
        "}",
    ]


def matmul_rows(op: MatmulOp, args: list[Tensor], out: Tensor, epilogue: Epilogue) -> list[str]:
    a, b = args
    a2 = (Dim(1), *a.shape) if len(a.shape) == 1 else a.shape
    b2 = (*b.shape, Dim(1)) if len(b.shape) == 1 else b.shape
    m, k, n = a2[-2], a2[-1], b2[-1]
    batch = [Dim(1)] * max(len(a2) - 2, len(b2) - 2)
    for s in (a2[:-2], b2[:-2]):
        for i, d in enumerate(s):
            j = len(batch) - len(s) + i
            if d != 1:
                batch[j] = d
    sa = broadcast_strides(a2[:-2], batch)
    sb = broadcast_strides(b2[:-2], batch)
    so = contiguous_strides(batch)
    idx = [f"b{d}" for d in range(len(batch))]
    t = out.ctype
    lines = ["{"]
    for d, size in enumerate(batch):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {size}; ++{idx[d]}) {{")
    lines += [
        f"const {t} *ab = {a.ptr} + ({index_expr(idx, sa)}) * ({m * k});",
        f"const {t} *bb = {b.ptr} + ({index_expr(idx, sb)}) * ({k * n});",
        f"const long rb = ({index_expr(idx, so)}) * ({m});",
        f"for (long i = 0; i < {m}; ++i) {{",
        "const long r = rb + i;",
        f"{t} *yr = {out.ptr} + r * {n};",
        f"for (long j = 0; j < {n}; ++j) yr[j] = 0;",
        f"for (long q = 0; q < {k}; ++q) {{",
        f"const {t} av = ab[i * {k} + q];",
        f"const {t} *br = bb + q * {n};",
        "#pragma omp simd",
        f"for (long j = 0; j < {n}; ++j) yr[j] += av * br[j];",
        "}",
        *epilogue("r"),
        "}",
    ]
    lines += ["}"] * len(batch) + ["}"]
    return lines


ANCHORS: dict[str, Callable[[Operation, list[Tensor], Tensor, Epilogue], list[str]]] = {
    "hy.linear": linear_rows,
    "hy.matmul": matmul_rows,
}


def row_epilogue(ops, args: list[Tensor], arg_values, anchor: SSAValue, result: SSAValue, out: Tensor) -> Epilogue:
    """Elementwise ops applied to one finished output row `yr` (still in L1)."""
    if not ops:
        return lambda row: []
    n = out.shape[-1] if out.shape else Dim(1)
    lead = list(out.shape[:-1])
    lead_strides = contiguous_strides(lead)

    def epilogue(row: str) -> list[str]:
        lines = ["{"]
        loads = []
        for i, t in enumerate(args):
            s = broadcast_strides(t.shape, out.shape)
            off_terms = []
            for d, size in enumerate(lead):
                if s[d]:
                    coord = f"(({row} / ({lead_strides[d]})) % ({size}))" if len(lead) > 1 else row
                    off_terms.append(f"{coord} * {s[d]}")
            lines.append(f"const {t.ctype} *e{i} = {t.ptr} + {' + '.join(off_terms) or '0'};")
            last = s[-1] if s else Dim(0)
            loads.append(f"e{i}[{'j' if last == 1 else ('0' if last == 0 else f'j * {last}')}]")
        stmts, res = scalar_body(ops, [*arg_values, anchor], result, out.ctype)([*loads, "yr[j]"])
        lines += ["#pragma omp simd", f"for (long j = 0; j < {n}; ++j) {{", *stmts, f"yr[j] = {res};", "}", "}"]
        return lines

    return epilogue


def fused(op: FusedOp, args: list[Tensor], out: Tensor) -> list[str]:
    body = op.ops
    (result,) = op.yielded.values
    anchors = [b for b in body if b.has_trait(FusionAnchor)]
    block_args = list(op.body.block.args)
    if not anchors:
        return [f"/* {op.name}: {', '.join(b.name for b in body)} */"] + loop_nest(
            out, args, scalar_body(body, block_args, result, out.ctype)
        )
    (anchor,) = anchors
    epi = [b for b in body if b is not anchor]
    if any(not b.has_trait(Elementwise) for b in epi) or anchor.results[0].type != result.type:
        raise UnsupportedOpError(f"{op.name}: the C backend fuses one anchor with an elementwise epilogue")
    by_arg = dict(zip(block_args, args))
    anchor_args = [by_arg[v] for v in anchor.operands]
    used = [a for a in block_args if any(a is o for b in epi for o in b.operands)]
    # epilogue ops that precede the anchor do not read it; all run per element
    lines = [f"/* {op.name}: {', '.join(b.name for b in body)} */"]
    lines += ANCHORS[anchor.name](
        anchor, anchor_args, out, row_epilogue(epi, [by_arg[a] for a in used], used, anchor.results[0], result, out)
    )
    return lines


def kernel_for(op: Operation) -> Callable[[Operation, list[Tensor], Tensor], list[str]]:
    if isinstance(op, FusedOp):
        return fused
    if op.name in ANCHORS:
        return lambda op, args, out: ANCHORS[op.name](op, args, out, lambda row: [])
    if op.name in SCALAR:
        return elementwise
    if op.name in KERNELS:
        return KERNELS[op.name]
    supported = sorted([*SCALAR, *ANCHORS, *KERNELS, "hy.fused"])
    raise UnsupportedOpError(f"the C backend has no rule for {op.name} (supported: {', '.join(supported)})")


def transpose(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    (x,) = args
    perm = op.permutation
    in_strides = contiguous_strides(x.shape)
    idx = [f"i{d}" for d in range(len(out.shape))]
    src = index_expr(idx, [in_strides[p] for p in perm])
    lines = ["{"]
    for d, n in enumerate(out.shape):
        lines.append(f"for (long {idx[d]} = 0; {idx[d]} < {n}; ++{idx[d]}) {{")
    lines.append(f"{out.ptr}[{index_expr(idx, contiguous_strides(out.shape))}] = {x.ptr}[{src}];")
    return lines + ["}"] * len(out.shape) + ["}"]


def reshape(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    # Planned reshapes are views and emit nothing; this runs only when the
    # walker gave the result bytes of its own.
    return [f"memcpy({out.ptr}, {args[0].ptr}, sizeof({out.ctype}) * ({out.count}));"]


KERNELS: dict[str, Callable[[Operation, list[Tensor], Tensor], list[str]]] = {
    "hy.transpose": transpose,
    "hy.reshape": reshape,
    # --- shape and indexing ops ---
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
}


def generate(prog: Program) -> str:
    """The C source of `hy_forward` for a lowered, planned program."""
    tensors: dict[SSAValue, Tensor] = {}
    decls: list[str] = ["char *A = (char *)arena;"]
    params = parameters(prog)
    for value, storage in prog.storage.items():
        t = element_kind(value).c
        name = prog.names[value]
        tensors[value] = Tensor(name, dims_of(shape_of(value)), t)
        root = prog.storage[prog.root(value)]
        const = "const " if root.kind in ("input", "const") else ""
        if storage.kind == "input":
            decls.append(f"const {t} *{name} = (const {t} *)in{storage.index};")
        elif storage.kind == "output":
            decls.append(f"{t} *{name} = ({t} *)out{storage.index};")
        elif storage.kind == "const":
            decls.append(f"const {t} *{name} = (const {t} *)consts[{storage.index}];")
        elif storage.kind == "arena":
            static, per_batch = storage.offset
            decls.append(f"{t} *{name} = ({t} *)(A + {static}{f' + {per_batch} * {BATCH}' if per_batch else ''});")
        elif storage.kind == "view":
            decls.append(f"{const}{t} *{name} = ({const}{t} *){prog.names[storage.base]};")
        else:
            raise ValueError(f"the C backend needs a planned module ({name} has no buffer)")
    body: list[str] = []
    for step in prog.steps:
        if prog.storage[step.op.results[0]].kind == "view":
            continue
        args = [tensors[o] for o in step.op.operands]
        body += kernel_for(step.op)(step.op, args, tensors[step.op.results[0]])
    for c in prog.copies:
        out_t = Tensor(c.out, dims_of(shape_of(c.value)), element_kind(c.value).c)
        body.append(
            f"memcpy(({out_t.ctype} *)out{prog.output_names.index(c.out)}, {c.src}, "
            f"sizeof({out_t.ctype}) * ({out_t.count}));"
        )
    lines = [
        "/* generated by hybridize (C backend) */",
        f"/* forward{prog.signature()} */",
        "#include <stdint.h>",
        "#include <string.h>",
        "#include <tgmath.h>",
        "",
        f"int {FUNCTION}({', '.join(params)})",
        "{",
        *indent([*decls, "(void)A;", *body, "return 0;"]),
        "}",
        "",
    ]
    return "\n".join(lines)


def parameters(prog: Program) -> list[str]:
    """`[long hy_batch,] inputs, outputs, constants table, arena`."""
    params = [f"long {BATCH}"] if prog.dynamic else []
    params += [f"const void *in{i}" for i in range(len(prog.inputs))]
    params += [f"void *out{i}" for i in range(len(prog.outputs))]
    return params + ["const void *const *consts", "void *arena"]


def declaration(prog: Program) -> str:
    """The cdef line cffi needs for the generated function."""
    return f"int {FUNCTION}({', '.join(parameters(prog))});"


def indent(lines: list[str]) -> list[str]:
    """Indent generated C by brace depth so the source reads like hand-written code."""
    out, depth = [], 1
    for line in lines:
        depth -= line.startswith("}")
        out.append("    " * max(depth, 0) + line if not line.startswith("#pragma") else line)
        depth += line.endswith("{")
    return out
