"""The fusion contract of the C backend: how an anchor kernel (linear,
matmul, conv2d) runs the elementwise ops fused after it.

A `FusedEpilogue` holds those ops, the tensors they read and the anchor's
output. Kernels use it in one of two ways, with explicit parameters only:

- library GEMM kernels: `activation()` gives a relu/clamp the micro-kernel
  applies in registers, `residual()` a residual add (then a relu/clamp) for
  kernels that read an `addend` (hy_sgemm, hy_conv2d_nhwc); otherwise
  `tile_function(unit, split)` emits a static C function the library calls
  on every finished tile (still in L1):

      static void hy_epi0(const void *const *ctx, long bt, long row0, long col0,
                          long rows, long cols, float *c, long ldc)

  `split = (b, r)` says how the stored result maps onto the output's dims:
  dims [0, b) are the GEMM batch `bt`, dims [b, r) the stored rows, dims
  [r, rank) the stored columns (linear: (0, rank-1); conv2d NCHW: (1, 2));
- generic row kernels: `rows(row)` gives the statements that finish
  output row number `row`, whose elements are `yr[0 .. last dim)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xdsl.ir import Operation, SSAValue

from hybridize.backends.c.loops import Tensor
from hybridize.backends.c.scalar import c_number, scalar_body
from hybridize.backends.dims import BATCH, Dim, broadcast_strides, contiguous_strides

if TYPE_CHECKING:
    from hybridize.backends.c.generate import Unit

ACT_NONE, ACT_RELU, ACT_CLAMP = "HY_ACT_NONE", "HY_ACT_RELU", "HY_ACT_CLAMP"


def _runs(dims: Sequence[Dim], strides: Sequence[Dim]) -> list[list[Dim]]:
    """Adjacent dims merged where `strides` walks them as one run: [size, stride] each."""
    merged: list[list[Dim]] = []
    for d, s in zip(dims, strides):
        if d == 1:
            continue
        if merged and merged[-1][1] == s * d:
            merged[-1] = [merged[-1][0] * d, s]
        else:
            merged.append([d, s])
    return merged


def run_stride(dims: Sequence[Dim], strides: Sequence[Dim]) -> Dim | None:
    """The one stride of a flat index over `dims` when `strides` walks them as a
    single contiguous or broadcast run (0 for a broadcast), else None."""
    merged = _runs(dims, strides)
    if len(merged) > 1:
        return None
    return merged[0][1] if merged else Dim(0)


def flat_offset(var: str, dims: Sequence[Dim], strides: Sequence[Dim]) -> tuple[str, bool]:
    """The element offset, over `strides`, of the flat index `var` into `dims`;
    and whether it is a single multiple of `var` (a contiguous or broadcast run)."""
    merged = _runs(dims, strides)
    if len(merged) <= 1:
        s = merged[0][1] if merged else Dim(0)
        return ("0" if s == 0 else var if s == 1 else f"{var} * ({s})"), True
    inner = contiguous_strides([m[0] for m in merged])
    terms = []
    for k, ((size, s), step) in enumerate(zip(merged, inner)):
        if s == 0:
            continue
        coord = var if step == 1 else f"({var} / ({step}))"
        if k:
            coord = f"({coord} % ({size}))"
        terms.append(f"{coord} * ({s})")
    return " + ".join(terms) or "0", False


@dataclass
class FusedEpilogue:
    """Elementwise `ops` run on each element of the anchor's output `out`.

    `inputs` are the tensors they read besides the anchor's result (one per
    value of `input_values`); `anchor` is the anchor's result and `result`
    the value the fused op yields (None when nothing is fused)."""

    out: Tensor
    ops: list[Operation] = field(default_factory=list)
    inputs: list[Tensor] = field(default_factory=list)
    input_values: list[SSAValue] = field(default_factory=list)
    anchor: SSAValue | None = None
    result: SSAValue | None = None

    @property
    def empty(self) -> bool:
        return not self.ops

    def names(self) -> str:
        return ", ".join(op.name for op in self.ops)

    def activation(self) -> tuple[str, str, str] | None:
        """(kind, lo, hi) when the epilogue is nothing, or one relu or clamp of the anchor's result."""
        if not self.ops:
            return ACT_NONE, "0", "0"
        if len(self.ops) != 1 or self.ops[0].results[0] is not self.result:
            return None
        return self._act(self.ops[0], self.anchor)

    def _act(self, op: Operation, of: SSAValue | None) -> tuple[str, str, str] | None:
        """(kind, lo, hi) of `op` when it is a relu or clamp of `of`."""
        t = self.out.ctype
        if op.operands[0] is not of:
            return None
        if op.name == "hy.relu":
            return ACT_RELU, "0", "0"
        if op.name == "hy.clamp":
            lo, hi = op.bounds
            return (
                ACT_CLAMP,
                c_number(float("-inf") if lo is None else lo, t),
                c_number(float("inf") if hi is None else hi, t),
            )
        return None

    def residual(self) -> tuple[Tensor, tuple[str, str, str]] | None:
        """(the tensor, the activation) when the epilogue adds a float tensor of the
        anchor's own shape to its result (a residual connection), alone or then one
        relu or clamp: what a library kernel with an `addend` runs in registers."""
        if not self.ops or len(self.ops) > 2 or self.ops[0].name != "hy.add" or self.out.ctype != "float":
            return None
        add = self.ops[0]
        lhs, rhs = add.operands
        other = rhs if lhs is self.anchor else lhs if rhs is self.anchor else None
        if other is None or other is self.anchor or other not in self.input_values:
            return None
        t = self.inputs[self.input_values.index(other)]
        if t.ctype != "float" or tuple(t.shape) != tuple(self.out.shape):
            return None
        if len(self.ops) == 1:
            return (t, (ACT_NONE, "0", "0")) if add.results[0] is self.result else None
        last = self.ops[1]
        act = self._act(last, add.results[0]) if last.results[0] is self.result else None
        return (t, act) if act else None

    # --- library kernels: a C function run on each finished tile ---

    def declare(
        self,
        unit: Unit,
        split: tuple[int, int],
        *,
        bias: str = "0",
        bias_rows: bool = False,
        row_base: str = "0",
        addend_offset: str | None = None,
    ) -> list[str]:
        """C lines declaring `const hy_epilogue ge` for a library call: the
        activation in registers when the epilogue is one; a residual add (and
        an activation after it) in registers too when the kernel reads an
        `addend` (`addend_offset`: where the kernel's C starts in the output,
        in elements; None for kernels that do not); else a tile function (with
        its context table `ectx`)."""
        act = self.activation()
        tile, ctx, addend = "0", None, "0"
        residual = self.residual() if act is None and addend_offset is not None else None
        if residual:
            t, act = residual
            addend = t.ptr if addend_offset == "0" else f"{t.ptr} + {addend_offset}"
        elif act is None:
            act = (ACT_NONE, "0", "0")
            tile, ctx = self.tile_function(unit, split)
        kind, lo, hi = act
        return [
            *([f"const void *const ectx[] = {ctx};"] if ctx else []),
            f"const hy_epilogue ge = {{ {bias}, {int(bias_rows)}, {kind}, {lo}, {hi}, {tile}, "
            f"{'ectx' if ctx else '0'}, {row_base}, {addend} }};",
        ]

    def tile_function(self, unit: Unit, split: tuple[int, int]) -> tuple[str, str]:
        """Emit the tile function; returns (its name, the C initializer of its context table)."""
        b, r = split
        shape = self.out.shape
        t = self.out.ctype
        name = unit.new_name("hy_epi")
        lines = [
            f"/* epilogue: {self.names()} */",
            f"static void {name}(const void *const *ctx, long bt, long row0, long col0, long rows, long cols, "
            f"{t} *c, long ldc)",
            "{",
        ]
        ctx = [f.ptr for f in self.inputs]
        if unit.dynamic:
            lines.append(f"const long {BATCH} = *(const long *)ctx[{len(ctx)}];")
            ctx.append(f"&{BATCH}")
        row_offsets, loads, per_element = [], [], []
        for i, f in enumerate(self.inputs):
            lines.append(f"const {f.ctype} *e{i} = (const {f.ctype} *)ctx[{i}];")
            s = broadcast_strides(f.shape, shape)
            ob, _ = flat_offset("bt", shape[:b], s[:b])
            orow, _ = flat_offset("r", shape[b:r], s[b:r])
            ocol, simple = flat_offset("q", shape[r:], s[r:])
            row_offsets.append(f"const {f.ctype} *e{i}r = e{i} + {ob} + {orow};")
            loads.append(f"e{i}r[{ocol}]")
            per_element.append(not simple)
        stmts, res = scalar_body(self.ops, [*self.input_values, self.anchor], self.result, t)([*loads, "ci[j]"])
        lines += [
            "(void)bt;",
            "for (long i = 0; i < rows; ++i) {",
            "const long r = row0 + i;",
            "(void)r;",
            f"{t} *ci = c + i * ldc;",
            *row_offsets,
            *([] if any(per_element) else ["#pragma omp simd"]),
            "for (long j = 0; j < cols; ++j) {",
            "const long q = col0 + j;",
            "(void)q;",
            *stmts,
            f"ci[j] = {res};",
            "}",
            "}",
            "}",
        ]
        unit.add_function(lines)
        return name, "{ " + ", ".join(ctx or ["0"]) + " }"

    # --- generic kernels: statements finishing one output row ---

    def rows(self, row: str) -> list[str]:
        """Finish output row number `row` (flat over the leading dims), whose
        elements `yr[j]` for j < last dim the anchor has just written."""
        if not self.ops:
            return []
        out = self.out
        n = out.shape[-1] if out.shape else Dim(1)
        lead = list(out.shape[:-1])
        lead_strides = contiguous_strides(lead)
        lines = ["{"]
        loads = []
        for i, t in enumerate(self.inputs):
            s = broadcast_strides(t.shape, out.shape)
            off_terms = []
            for d, size in enumerate(lead):
                if s[d]:
                    coord = f"(({row} / ({lead_strides[d]})) % ({size}))" if len(lead) > 1 else row
                    off_terms.append(f"{coord} * {s[d]}")
            lines.append(f"const {t.ctype} *e{i} = {t.ptr} + {' + '.join(off_terms) or '0'};")
            last = s[-1] if s else Dim(0)
            loads.append(f"e{i}[{'j' if last == 1 else ('0' if last == 0 else f'j * {last}')}]")
        stmts, res = scalar_body(self.ops, [*self.input_values, self.anchor], self.result, out.ctype)([*loads, "yr[j]"])
        lines += ["#pragma omp simd", f"for (long j = 0; j < {n}; ++j) {{", *stmts, f"yr[j] = {res};", "}", "}"]
        return lines

