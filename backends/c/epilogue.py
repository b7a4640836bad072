"""The fusion contract of the C backend: an anchor kernel (linear, matmul,
conv2d) calls `epilogue(row)` on each finished output row, and the
elementwise ops fused after it run on that row while it is in L1."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.ir import SSAValue

from hybridize.backends.c.loops import Tensor
from hybridize.backends.c.scalar import scalar_body
from hybridize.backends.dims import Dim, broadcast_strides, contiguous_strides

# --- anchors: a loop over output rows; `epilogue(row)` runs on each finished row ---
Epilogue = Callable[[str], list[str]]


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
