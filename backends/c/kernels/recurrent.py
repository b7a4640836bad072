"""Recurrent kernels: `hy.lstm`, `hy.gru`, `hy.rnn_tanh`, `hy.rnn_relu` (see `hybridize.ir.recurrent`).

One loop over the batch rows (independent sequences), inside it the time
loop: per step the two gate projections `gi = w_ih x_t + b_ih` and
`gh = w_hh h + b_hh` (dot products over contiguous weight rows, vectorized),
then the cell's gate math. The previous state is read from the previous
step's row of the output (or from h0/c0 at the first step), so the only
temporaries are the gate vectors, fixed-size stack arrays.
"""

from __future__ import annotations

from xdsl.ir import Operation

from hybridize.backends.c.loops import Tensor


def _sig(e: str) -> str:
    return f"(1 / (1 + exp(-({e}))))"


def recurrent(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    v = dict(zip(op.operands, args))
    x = v[op.input]
    t = out.ctype
    hid, gates, p = op.hidden_size, op.GATES, op.output_size
    gh_n = gates * hid
    width = int(x.shape[2])
    state = int(out.shape[2])
    steps, batch = x.shape[0], x.shape[1]
    h0 = v[op.h0].ptr
    prev = "t + 1" if op.reversed else "t - 1"

    def dot(dst: str, weights: Tensor, bias: Tensor | None, vec: str, n: int) -> list[str]:
        init = f"{bias.ptr}[k]" if bias is not None else "0"
        return [
            f"for (long k = 0; k < {gh_n}; ++k) {{",
            f"const {t} *w = {weights.ptr} + k * {n};",
            f"{t} a = {init};",
            "#pragma omp simd reduction(+:a)",
            f"for (long i = 0; i < {n}; ++i) a += w[i] * {vec}[i];",
            f"{dst}[k] = a;",
            "}",
        ]

    lines = [
        f"for (long b = 0; b < {batch}; ++b) {{",
        f"for (long s = 0; s < {steps}; ++s) {{",
        f"const long t = {f'{steps} - 1 - s' if op.reversed else 's'};",
        f"const {t} *xt = {x.ptr} + (t * {batch} + b) * {width};",
        f"{t} *yt = {out.ptr} + (t * {batch} + b) * {state};",
        f"const {t} *hp = s == 0 ? {h0} + b * {p} : {out.ptr} + (({prev}) * {batch} + b) * {state};",
        f"{t} gi[{gh_n}], gh[{gh_n}];",
        *dot("gi", v[op.w_ih], v.get(op.b_ih), "xt", width),
        *dot("gh", v[op.w_hh], v.get(op.b_hh), "hp", p),
    ]
    if op.name == "hy.lstm":
        c0 = v[op.c0].ptr
        lines += [
            f"const {t} *cp = s == 0 ? {c0} + b * {hid} : {out.ptr} + (({prev}) * {batch} + b) * {state} + {p};",
            f"{t} hu[{hid}];",
            f"for (long j = 0; j < {hid}; ++j) {{",
            f"const {t} ig = {_sig('gi[j] + gh[j]')};",
            f"const {t} fg = {_sig(f'gi[{hid} + j] + gh[{hid} + j]')};",
            f"const {t} gg = tanh(gi[{2 * hid} + j] + gh[{2 * hid} + j]);",
            f"const {t} og = {_sig(f'gi[{3 * hid} + j] + gh[{3 * hid} + j]')};",
            f"const {t} c = fg * cp[j] + ig * gg;",
            f"yt[{p} + j] = c;",
            "hu[j] = og * tanh(c);",
            "}",
        ]
        if op.w_hr is not None:
            lines += [
                f"for (long q = 0; q < {p}; ++q) {{",
                f"const {t} *w = {v[op.w_hr].ptr} + q * {hid};",
                f"{t} a = 0;",
                "#pragma omp simd reduction(+:a)",
                f"for (long j = 0; j < {hid}; ++j) a += w[j] * hu[j];",
                "yt[q] = a;",
                "}",
            ]
        else:
            lines.append(f"for (long j = 0; j < {hid}; ++j) yt[j] = hu[j];")
    elif op.name == "hy.gru":
        lines += [
            f"for (long j = 0; j < {hid}; ++j) {{",
            f"const {t} r = {_sig('gi[j] + gh[j]')};",
            f"const {t} z = {_sig(f'gi[{hid} + j] + gh[{hid} + j]')};",
            f"const {t} n = tanh(gi[{2 * hid} + j] + r * gh[{2 * hid} + j]);",
            "yt[j] = (1 - z) * n + z * hp[j];",
            "}",
        ]
    else:
        act = "tanh(a)" if op.name == "hy.rnn_tanh" else "(a < 0 ? 0 : a)"  # NaN stays NaN, as in NumPy
        lines += [
            f"for (long j = 0; j < {hid}; ++j) {{",
            f"const {t} a = gi[j] + gh[j];",
            f"yt[j] = {act};",
            "}",
        ]
    return ["{", *lines, "}", "}", "}"]
