"""The C backend's fused kernels: its declaration of the group shapes it runs
(`FUSION`, read by `fuse{target=c}`) and the emitter of each shape.

- loop: one vectorized loop nest (`loops.loop_nest`), adjacent dims merged;
- injective: one loop nest over the output whose loads follow the group's
  transposes, slices, reshapes, concats and pads back to the inputs (index
  maps: each value is computed at the coordinates its consumer asks for);
- epilogue: the anchor's kernel with a `FusedEpilogue` (`epilogue.py`);
- reduction: one loop over rows; per row, one pass over the row for each
  statistic (max, sum, mean, variance) with the elementwise producers
  recomputed in registers, then a pass writing the result.

    hy.fused(hy.mul, hy.add, hy.softmax)   // softmax(x * s + mask), one kernel
"""

from __future__ import annotations

from xdsl.ir import Operation, SSAValue

from hybridize.backends.c.epilogue import FusedEpilogue, flat_offset
from hybridize.backends.c.loops import Tensor, loop_nest
from hybridize.backends.c.scalar import SCALAR, c_number, scalar_body, scalar_expr
from hybridize.backends.dims import Dim, broadcast_strides, contiguous_strides, dims_of, product
from hybridize.backends.program import UnsupportedOpError, where
from hybridize.ir.fusion import FusionTarget, Group, Kind, Shape, classify, kind_of
from hybridize.ir.structure import FusedOp
from hybridize.ir.types import element_kind, shape_of

ANCHOR_OPS = frozenset({"hy.linear", "hy.matmul", "hy.conv2d", "hy.conv2d_nhwc"})
"""Anchors whose kernels take a `FusedEpilogue` (kernels.ANCHORS; a test keeps them equal)."""

INJECTIVE_OPS = frozenset({"hy.transpose", "hy.slice", "hy.reshape", "hy.concat", "hy.pad"})
REDUCTION_OPS = frozenset(
    {"hy.softmax", "hy.log_softmax", "hy.layer_norm", "hy.reduce_sum", "hy.reduce_mean", "hy.reduce_max", "hy.reduce_min"}
)


def _member(op: Operation) -> str | None:
    k = kind_of(op)
    if k in (Kind.ELEMENTWISE, Kind.BROADCAST):
        return None if op.name in SCALAR else f"no scalar rule for {op.name}"
    if k == Kind.INJECTIVE:
        return None if op.name in INJECTIVE_OPS else f"{op.name} reads data-dependent indices: it runs alone"
    if k == Kind.ANCHOR:
        return None if op.name in ANCHOR_OPS else f"the kernel of {op.name} takes no epilogue"
    if k == Kind.REDUCTION:
        return None if op.name in REDUCTION_OPS else f"no fused row rule for {op.name}"
    return f"{op.name} is opaque"


def _group(group: Group) -> str | None:
    if group.shape != Shape.REDUCTION:
        return None
    for op in group.ops:
        if op.name in ("hy.softmax", "hy.log_softmax", "hy.layer_norm"):
            again = [r for r in group.readers(op) if kind_of(r) == Kind.REDUCTION]
            if again:
                return f"{again[0].name} reduces the result of {op.name} (the row kernel would recompute it on every pass)"
    return None


FUSION = FusionTarget("c", frozenset(Shape), _member, _group)
"""The groups the C backend runs."""


def fused(op: FusedOp, args: list[Tensor], out: Tensor, unit) -> list[str]:
    """The C statements of one fused group, by its shape."""
    body = op.ops
    (result,) = op.yielded.values
    block_args = list(op.body.block.args)
    header = [f"/* {op.name}: {', '.join(b.name for b in body)} */"]
    group = classify(body, result)
    why = FUSION.why_not(group)
    if why is not None:
        raise UnsupportedOpError(
            f"{op.name}{where(op)}: the C backend cannot run this group ({why.message}); fuse it with fuse{{target=c}}"
        )
    by_arg = dict(zip(block_args, args))
    if group.shape == Shape.EPILOGUE:
        from hybridize.backends.c.kernels import ANCHORS

        anchor = group.anchor()
        epi = [b for b in body if b is not anchor]
        anchor_args = [by_arg[v] for v in anchor.operands]
        used = [a for a in block_args if any(a is o for b in epi for o in b.operands)]
        # epilogue ops that precede the anchor do not read it; all run per element
        epilogue = FusedEpilogue(out, epi, [by_arg[a] for a in used], used, anchor.results[0], result)
        return header + ANCHORS[anchor.name](anchor, anchor_args, out, epilogue, unit)
    if group.shape == Shape.REDUCTION:
        return header + RowKernel(body, result, by_arg, out, group.split).emit()
    # loop and injective groups: reshapes of inputs are views of the input's bytes
    views: dict[SSAValue, Tensor] = {}
    rest = []
    for b in body:
        if b.name == "hy.reshape" and b.operands[0] in by_arg:
            src = by_arg[b.operands[0]]
            views[b.results[0]] = Tensor(src.ptr, dims_of(shape_of(b.results[0])), src.ctype)
        else:
            rest.append(b)
    loads = {**by_arg, **views}
    if all(kind_of(b) in (Kind.ELEMENTWISE, Kind.BROADCAST) for b in rest):
        values = [v for v in loads if any(v is o for b in rest for o in b.operands)]
        return header + loop_nest(out, [loads[v] for v in values], scalar_body(rest, values, result, out.ctype))
    return header + IndexedLoop(loads, out).emit(result)


# --- injective groups: loads through index maps ---


def _coord(terms: list[tuple[str, int | Dim]], const: int = 0) -> str:
    parts = [v if s == 1 else f"{_paren(v)} * {s}" for v, s in terms if v != "0" and s != 0]
    if const:
        parts.append(str(const))
    return " + ".join(parts) or "0"


def _paren(e: str) -> str:
    return e if e.replace("_", "").isalnum() else f"({e})"


class IndexedLoop:
    """out[i] = root at i: every value is computed at coordinates (C
    expressions), an injective op maps its result's coordinates to its
    input's. Concat and pad branches read in-bounds (clamped) coordinates and
    select, so no branch reads outside its tensor."""

    def __init__(self, loads: dict[SSAValue, Tensor], out: Tensor):
        self.loads = loads
        self.out = out
        self.stmts: list[str] = []
        self.memo: dict = {}

    def temp(self, value: SSAValue, expr: str) -> str:
        name = f"t{len(self.stmts)}"
        self.stmts.append(f"const {element_kind(value).c} {name} = {expr};")
        return name

    def bind(self, coord: str) -> str:
        """A compound coordinate as a `const long` (generated expressions stay linear in size)."""
        if _paren(coord) == coord:
            return coord
        if coord not in self.memo:
            name = f"ix{len(self.stmts)}"  # not c<k>: constants are named so
            self.stmts.append(f"const long {name} = {coord};")
            self.memo[coord] = name
        return self.memo[coord]

    def at(self, v: SSAValue, coords: tuple[str, ...]) -> str:
        coords = tuple(self.bind(c) for c in coords)
        key = (v, coords)
        if key not in self.memo:
            self.memo[key] = self._at(v, coords)
        return self.memo[key]

    def _at(self, v: SSAValue, coords: tuple[str, ...]) -> str:
        if v in self.loads:
            t = self.loads[v]
            strides = contiguous_strides(t.shape)
            return f"{t.ptr}[{_coord(list(zip(coords, strides)))}]"
        op = v.owner
        shape = dims_of(shape_of(v))
        if kind_of(op) in (Kind.ELEMENTWISE, Kind.BROADCAST):
            args = []
            for o in op.operands:
                oshape = dims_of(shape_of(o))
                pad = len(shape) - len(oshape)
                sub = tuple("0" if oshape[d] == 1 else coords[d + pad] for d in range(len(oshape)))
                args.append(self.at(o, sub))
            return self.temp(v, scalar_expr(op, args, element_kind(v).c))
        x = op.operands[0]
        xshape = dims_of(shape_of(x))
        if op.name == "hy.transpose":
            src = [""] * len(coords)
            for k, p in enumerate(op.permutation):
                src[p] = coords[k]
            return self.at(x, tuple(src))
        if op.name == "hy.slice":
            src = tuple(
                c if c == "0" and start == 0 else _coord([(c, step)], start)
                for c, start, step in zip(coords, op.start_values, op.step_values)
            )
            return self.at(x, src)
        if op.name == "hy.reshape":
            return self.at(x, reshape_coords(coords, shape, xshape))
        if op.name == "hy.pad":
            inside, src = [], []
            for c, lo, n in zip(coords, op.low_values, xshape):
                if not lo and (n == shape[len(src)]):
                    src.append(c)
                    continue
                raw = f"{_paren(c)} - {lo}" if lo else c
                inside.append(f"{_paren(raw)} >= 0 && {_paren(raw)} < {n}")
                src.append(f"({_paren(raw)} < 0 ? 0 : {_paren(raw)} >= {n} ? {n} - 1 : {_paren(raw)})")
            value = self.at(x, tuple(src))
            fill = c_number(op.pad_value, element_kind(v).c)
            if not inside:
                return value
            return self.temp(v, f"({' && '.join(inside)} ? {value} : {fill})")
        if op.name == "hy.concat":
            axis = op.axis.value.data
            c = coords[axis]
            branches, offset = [], []
            inputs = [o for o in op.operands if shape_of(o)[axis] != 0]
            for o in inputs:
                n = dims_of(shape_of(o))[axis]
                start = " + ".join(offset) or "0"
                local = c if start == "0" else f"{_paren(c)} - ({start})"
                clamped = f"({_paren(local)} < 0 ? 0 : {_paren(local)} >= {n} ? {n} - 1 : {_paren(local)})"
                sub = list(coords)
                sub[axis] = clamped if len(inputs) > 1 else local
                branches.append((f"{_paren(c)} < {' + '.join([*offset, str(n)])}", self.at(o, tuple(sub))))
                offset.append(str(n))
            expr = branches[-1][1]
            for cond, val in reversed(branches[:-1]):
                expr = f"({cond} ? {val} : {expr})"
            return self.temp(v, expr) if len(branches) > 1 else expr
        raise UnsupportedOpError(f"the C backend cannot fold {op.name} into a loop")

    def emit(self, root: SSAValue) -> list[str]:
        shape = self.out.shape
        idx = tuple("0" if n == 1 else f"i{d}" for d, n in enumerate(shape))
        value = self.at(root, idx)
        loops = [(i, n) for i, n in zip(idx, shape) if i != "0"]
        lines = ["{"]
        for k, (i, n) in enumerate(loops):
            if k == len(loops) - 1:
                lines.append("#pragma omp simd")
            lines.append(f"for (long {i} = 0; {i} < {n}; ++{i}) {{")
        store = _coord(list(zip(idx, contiguous_strides(shape))))
        lines += [*self.stmts, f"{self.out.ptr}[{store}] = {value};"]
        return lines + ["}"] * len(loops) + ["}"]


def reshape_coords(coords: tuple[str, ...], shape, xshape) -> tuple[str, ...]:
    """The input coordinates of a reshape from the result's: dims matched in
    blocks of equal element counts; a block splitting one input dim is affine,
    one merging input dims divides its flat index."""
    out: list[str] = []
    i = j = 0
    while i < len(xshape) or j < len(shape):
        bi, bj = [i], [j]
        pi = Dim.of(xshape[i]) if i < len(xshape) else Dim(1)
        pj = Dim.of(shape[j]) if j < len(shape) else Dim(1)
        i, j = i + 1, j + 1
        while pi != pj:
            if _less(pi, pj) and i < len(xshape):
                bi.append(i)
                pi = pi * xshape[i]
                i += 1
            elif j < len(shape):
                bj.append(j)
                pj = pj * shape[j]
                j += 1
            else:
                bi.append(i)
                pi = pi * xshape[i]
                i += 1
        rs = [d for d in bj if d < len(shape)]
        flat = _coord([(coords[d], s) for d, s in zip(rs, contiguous_strides([shape[d] for d in rs]))])
        xs = [d for d in bi if d < len(xshape)]
        strides = contiguous_strides([xshape[d] for d in xs])
        for k, (d, s) in enumerate(zip(xs, strides)):
            n = xshape[d]
            if n == 1:
                out.append("0")
            elif len(xs) == 1:
                out.append(flat)
            else:
                e = _paren(flat) if s == 1 else f"{_paren(flat)} / ({s})"
                out.append(e if k == 0 else f"({e}) % ({n})")
    return tuple(out[: len(xshape)])


def _less(a: Dim, b: Dim) -> bool:
    return (a.power, a.coef) < (b.power, b.coef)


# --- reduction groups: row kernels ---


class RowKernel:
    """Rows of `full = L + W` (W the reduced trailing dims): per row, each
    statistic in program order is one pass over W computing the group's
    elementwise producers at each element; the result row is written last."""

    def __init__(self, body: list[Operation], root: SSAValue, by_arg: dict[SSAValue, Tensor], out: Tensor, split):
        first, full = split
        self.body, self.root, self.out = body, root, out
        self.full = dims_of(full)
        self.lead, self.cols = self.full[:first], self.full[first:]
        self.width = product(self.cols)
        self.args = list(by_arg.items())
        self.ptr = {v: f"e{i}" for i, (v, _) in enumerate(self.args)}
        self.rowvars: dict[SSAValue, str] = {}
        self.stats: dict[Operation, dict[str, str]] = {}
        self.stored = False  # a softmax keeps its exps in the output row
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        """A local name; never x<k>, y<k>, v<k> or c<k> (the program's values)."""
        self.counter += 1
        return f"{prefix}{self.counter}"

    def is_row(self, v: SSAValue) -> bool:
        return tuple(dims_of(shape_of(v))) != self.full

    # elementwise code at one element k of the row (inside a pass)
    def elem(self, v: SSAValue, stmts: list[str], memo: dict) -> str:
        if v in self.rowvars:
            return self.rowvars[v]
        if v in memo:
            return memo[v]
        t = element_kind(v).c
        if v in self.ptr:
            tensor = dict(self.args)[v]
            s = broadcast_strides(tensor.shape, self.full)
            off, _ = flat_offset("k", self.cols, s[len(self.lead) :])
            memo[v] = f"{self.ptr[v]}[{off}]"
            return memo[v]
        op = v.owner
        name = self.fresh("t")
        if kind_of(op) in (Kind.ELEMENTWISE, Kind.BROADCAST):
            expr = scalar_expr(op, [self.elem(o, stmts, memo) for o in op.operands], t)
            stmts.append(f"const {t} {name} = {expr};")
        elif op.name in ("hy.softmax", "hy.log_softmax"):
            st = self.stats[op]
            x = "" if "stored" in st else self.elem(op.operands[0], stmts, memo)
            if op.name == "hy.log_softmax":
                stmts.append(f"const {t} {name} = ({x} - {st['m']}) - {st['ls']};")
            elif "stored" in st:  # the sum pass left exp(x - max) in the output row
                stmts.append(f"const {t} {name} = {self.out.ptr}[r * {self.width} + k] * {st['inv']};")
            else:
                stmts += self.exp(f"{x} - {st['m']}", name, t)
                stmts.append(f"{name} *= {st['inv']};")
        elif op.name == "hy.layer_norm":
            x = self.elem(op.operands[0], stmts, memo)
            st = self.stats[op]
            expr = f"({x} - {st['mu']}) * {st['rs']}"
            if op.weight is not None:
                expr = f"{expr} * {self.elem(op.weight, stmts, memo)}"
            if op.bias is not None:
                expr = f"{expr} + {self.elem(op.bias, stmts, memo)}"
            stmts.append(f"const {t} {name} = {expr};")
        else:
            raise UnsupportedOpError(f"the C backend has no fused row rule for {op.name}")
        memo[v] = name
        return name

    def exp(self, src: str, dst: str, t: str) -> list[str]:
        """`t dst = exp(src)` for src <= 0, with the softmax kernel's vectorizable exp."""
        from hybridize.backends.c.kernels.nn import exp_shifted

        clamp, body = exp_shifted(src, dst, t)
        return [f"{t} {dst};", *clamp, "{", *body, "}"]

    def row_value(self, v: SSAValue, lines: list[str]) -> str:
        if v in self.rowvars:
            return self.rowvars[v]
        if v in self.ptr:
            return f"{self.ptr[v]}[0]"
        op = v.owner
        t = element_kind(v).c
        name = self.fresh("r")
        expr = scalar_expr(op, [self.row_value(o, lines) for o in op.operands], t)
        lines.append(f"const {t} {name} = {expr};")
        self.rowvars[v] = name
        return name

    def row_pass(self, value: SSAValue, acc: str, update: str, reduction: str | None) -> list[str]:
        """One loop over the row: `acc` updated by `update` (with `{x}` the
        value of `value` at k)."""
        stmts: list[str] = []
        x = self.elem(value, stmts, {})
        return [
            *([f"#pragma omp simd reduction({reduction}:{acc})"] if reduction else []),
            f"for (long k = 0; k < {self.width}; ++k) {{",
            *stmts,
            update.format(x=x, acc=acc) + ";",
            "}",
        ]

    def statistic(self, op: Operation, lines: list[str]) -> None:
        t = element_kind(op.results[0]).c
        w = f"({t})({self.width})"
        x = op.operands[0]
        if op.name in ("hy.softmax", "hy.log_softmax"):
            m, s = self.fresh("m"), self.fresh("s")
            lines += [f"{t} {m} = -INFINITY, {s} = 0;"]
            lines += self.row_pass(x, m, "{acc} = {x} > {acc} ? {x} : {acc}", "max")
            stmts: list[str] = []
            xe = self.elem(x, stmts, {})
            e = self.fresh("ex")
            # the output row holds one softmax's exps until the last pass scales them (no second exp)
            store = (
                op.name == "hy.softmax"
                and not self.stored
                and op.results[0].type == self.root.type
                and not self.is_row(self.root)
            )
            lines += [
                f"#pragma omp simd reduction(+:{s})",
                f"for (long k = 0; k < {self.width}; ++k) {{",
                *stmts,
                *self.exp(f"{xe} - {m}", e, t),
                f"{s} += {e};",
                *([f"{self.out.ptr}[r * {self.width} + k] = {e};"] if store else []),
                "}",
            ]
            self.stored = self.stored or store
            if op.name == "hy.log_softmax":
                ls = self.fresh("l")
                lines.append(f"const {t} {ls} = log({s});")
                self.stats[op] = {"m": m, "ls": ls}
            else:
                inv = self.fresh("inv")
                lines.append(f"const {t} {inv} = 1 / {s};")
                self.stats[op] = {"m": m, "inv": inv, **({"stored": "1"} if store else {})}
            return
        if op.name == "hy.layer_norm":
            s, v = self.fresh("s"), self.fresh("q")
            mu, rs = self.fresh("mu"), self.fresh("rs")
            lines.append(f"{t} {s} = 0, {v} = 0;")
            lines += self.row_pass(x, s, "{acc} += {x}", "+")
            lines.append(f"const {t} {mu} = {s} / {w};")
            lines += self.row_pass(x, v, f"{{acc}} += ({{x}} - {mu}) * ({{x}} - {mu})", "+")
            eps = c_number(op.epsilon, t)
            lines.append(f"const {t} {rs} = 1 / sqrt({v} / {w} + {eps});")
            self.stats[op] = {"mu": mu, "rs": rs}
            return
        kind = op.name.removeprefix("hy.reduce_")
        acc = self.fresh("a")
        if kind in ("sum", "mean"):
            lines.append(f"{t} {acc} = 0;")
            lines += self.row_pass(x, acc, "{acc} += {x}", "+")
            if kind == "mean":
                lines.append(f"{acc} /= {w};")
        else:
            cmp = ">" if kind == "max" else "<"
            lines.append(f"{t} {acc} = {'-INFINITY' if kind == 'max' else 'INFINITY'};")
            lines += self.row_pass(x, acc, f"{{acc}} = ({{x}} {cmp} {{acc}} || {{x}} != {{x}}) ? {{x}} : {{acc}}", None)
            if t in ("float", "double"):
                lines.append(f"{acc} += 0;")  # a zero max/min is +0.0, as on the NumPy backend
        self.rowvars[op.results[0]] = acc

    def emit(self) -> list[str]:
        rows = product(self.lead)
        lines = ["{", f"for (long r = 0; r < {rows}; ++r) {{"]
        for v, tensor in self.args:
            s = broadcast_strides(tensor.shape, self.full)
            off, _ = flat_offset("r", self.lead, s[: len(self.lead)])
            lines.append(f"const {tensor.ctype} *{self.ptr[v]} = {tensor.ptr} + {off};")
            lines.append(f"(void){self.ptr[v]};")
        for op in self.body:
            if kind_of(op) == Kind.REDUCTION:
                self.statistic(op, lines)
            elif self.is_row(op.results[0]):
                self.row_value(op.results[0], lines)
        if self.is_row(self.root):
            lines.append(f"{self.out.ptr}[r] = {self.row_value(self.root, lines)};")
        else:
            stmts: list[str] = []
            y = self.elem(self.root, stmts, {})
            lines += [
                "#pragma omp simd",
                f"for (long k = 0; k < {self.width}; ++k) {{",
                *stmts,
                f"{self.out.ptr}[r * {self.width} + k] = {y};",
                "}",
            ]
        return lines + ["}", "}"]
