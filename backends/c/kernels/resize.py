"""Resize kernel (hy.resize): separable interpolation with the tap tables of
`ResizeOp.taps` (PyTorch's index and weight rule) as static arrays, so the
kernel holds no coordinate arithmetic of its own."""

from __future__ import annotations

from xdsl.ir import Operation

from hybridize.backends.c.loops import Tensor
from hybridize.backends.dims import product


def _table(name: str, ctype: str, values) -> str:
    return f"static const {ctype} {name}[] = {{{', '.join(repr(v) for v in values)}}};"


def resize(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    """Per plane and output row: each row tap's input row interpolated along
    the width into a stack row, added with the row weight (tap order, as
    PyTorch adds them). 1-D inputs are one row per plane."""
    (x,) = args
    t = out.ctype
    spatial = len(x.shape) - 2
    planes = product(x.shape[:2])
    w_in, w_out = int(x.shape[-1]), int(out.shape[-1])
    h_in, h_out = (int(x.shape[2]), int(out.shape[2])) if spatial == 2 else (1, 1)
    cx, wx = op.taps(spatial - 1)
    if spatial == 2:
        cy, wy = op.taps(0)
    else:
        cy, wy = [[0]], [[1.0]]
    ty, tx = len(cy[0]), len(cx[0])
    lines = [
        "{",
        _table("rx", "int", [int(v) for v in cx.reshape(-1)]),
        _table("ry", "int", [int(v) for v in (cy.reshape(-1) if spatial == 2 else [0])]),
        _table("fx", t, [float(v) for v in wx.reshape(-1)]),
        _table("fy", t, [float(v) for v in (wy.reshape(-1) if spatial == 2 else [1.0])]),
        f"for (long pl = 0; pl < {planes}; ++pl) {{",
        f"const {t} *xp = {x.ptr} + pl * {h_in * w_in};",
        f"for (long i = 0; i < {h_out}; ++i) {{",
        f"{t} *yr = {out.ptr} + (pl * {h_out} + i) * {w_out};",
    ]
    if ty == 1 and tx == 1:  # nearest: a gather
        lines += [
            f"const {t} *xr = xp + ry[i] * {w_in};",
            f"for (long j = 0; j < {w_out}; ++j) yr[j] = xr[rx[j]];",
        ]
    else:
        row = " + ".join(f"xr[rx[j * {tx} + {b}]] * fx[j * {tx} + {b}]" for b in range(tx))
        lines += [
            f"for (long a = 0; a < {ty}; ++a) {{",
            f"const {t} *xr = xp + ry[i * {ty} + a] * {w_in};",
            f"const {t} wa = fy[i * {ty} + a];",
            f"for (long j = 0; j < {w_out}; ++j) {{",
            f"const {t} h = {row};",
            "yr[j] = a == 0 ? h * wa : yr[j] + h * wa;",
            "}",
            "}",
        ]
    return lines + ["}", "}", "}"]
