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
            np.copyto(v0, np.where(v0 < 0, 0.0, v0))  # hy.relu
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
from hybridize.backends.program import Program, UnsupportedOpError, where
from hybridize.ir.base import ViewLike
from hybridize.ir.fusion import FusionTarget, Kind, Shape, is_loop_op, kind_of
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
    return [f'{out.name} = np.asarray({expr}, order="C")']  # ascontiguousarray makes 0-d arrays 1-d


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


# --- elementwise math, comparisons, logic, casts ---
# Each rule computes its value and writes `out` in one final call, so it is
# right even when `plan` gives the result the bytes of an operand (in place).
# Constants are Python literals: they keep float32 math in float32 under both
# NumPy 1.23's value-based casting and NumPy 2's NEP 50.


def py_literal(value: float, of) -> str:
    """`value` as a Python literal for `of`'s element type (np.inf for inf)."""
    kind = numpy_dtype(of).kind
    if kind == "b":
        return str(bool(value))
    if kind in "iu":
        return str(int(value))
    if value != value:
        return "np.nan"
    if value in (float("inf"), float("-inf")):
        return "np.inf" if value > 0 else "-np.inf"
    return repr(float(value))


_ERF_IMPORT = "from hybridize.backends.special import erf"


def _gelu(op: Operation, a: list[str], out: Target) -> list[str]:
    x = a[0]
    if op.approximate.data == "tanh":
        inner = f"0.7978845608028654 * ({x} + 0.044715 * ({x} * {x} * {x}))"
        return call("np.multiply", [f"0.5 * {x}", f"1 + np.tanh({inner})"], out)
    return [_ERF_IMPORT, *call("np.multiply", [f"{x} * 0.5", f"1 + erf({x} * 0.7071067811865476)"], out)]


def _leaky_relu(op: Operation, a: list[str], out: Target) -> list[str]:
    slope = py_literal(op.slope.value.data, op.input)
    return copy_into(f"np.where({a[0]} > 0, {a[0]}, {a[0]} * {slope})", out)


def relu_expr(x: str) -> str:
    """max(x, 0) as PyTorch defines it: relu(-0.0) is -0.0 and NaN stays NaN.
    (`np.maximum(x, 0)` leaves the sign of a zero to the loop NumPy picks: its
    AVX-512 loop returns +0.0, so 1 / relu(-0.0) was +inf against C's -inf.)"""
    return f"np.where({x} < 0, 0.0, {x})"


def _elu(op: Operation, a: list[str], out: Target) -> list[str]:
    # alpha * expm1(x) for x <= 0, -0.0 included (elu(-0.0) = -0.0, as in PyTorch);
    # the where inside keeps expm1 from overflowing on the branch not taken
    alpha = py_literal(op.alpha.value.data, op.input)
    return copy_into(f"np.where({a[0]} > 0, {a[0]}, {alpha} * np.expm1(np.where({a[0]} > 0, 0.0, {a[0]})))", out)


def _clamp(op: Operation, a: list[str], out: Target) -> list[str]:
    lo, hi = (py_literal(b, op.input) if b is not None else "None" for b in op.bounds)
    return call("np.clip", [a[0], lo, hi], out)


def _np_type(value) -> str:
    """The NumPy scalar type of a value's elements (`np.bool_`: `np.bool` is
    missing from NumPy 1.24 to 1.26)."""
    dtype = numpy_dtype(value)
    return "np.bool_" if dtype.kind == "b" else f"np.{dtype.name}"


def int_div(a, b) -> np.ndarray:
    """Integer `hy.div`, the rule every backend follows (C copies it):

    - the quotient is truncated toward zero (C99 `/`, `torch.div(...,
      rounding_mode="trunc")`): -7 / 2 = -3;
    - division by zero gives 0 (PyTorch raises, C traps: a compiled model
      must do neither, and the divisor is only known at run time);
    - INT_MIN / -1 gives INT_MIN (the quotient wraps around, as integer
      add, sub, mul and neg do everywhere in hybridize: two's complement).

    On i1 the same rule reads `a and b` (x / 1 = x, x / 0 = 0).
    """
    a, b = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    if a.dtype == np.bool_:
        return np.logical_and(a, b)
    safe = np.where((b == 0) | (b == -1), 1, b).astype(a.dtype)
    q = a // safe  # floor; one below the truncated quotient when the signs differ and it is inexact
    q += (a % safe != 0) & ((a < 0) != (safe < 0))
    q = np.where(b == -1, np.negative(a), q)  # -INT_MIN wraps to INT_MIN
    return np.where(b == 0, 0, q).astype(a.dtype)


def float_to_int(x, dtype) -> np.ndarray:
    """Float to integer `hy.cast`, the rule every backend follows (C copies
    it): truncate toward zero; NaN gives 0; values at or beyond the type's
    range saturate to INT_MAX / INT_MIN (C's plain conversion is undefined
    there, NumPy's gives INT_MIN). For int64: x >= 2**63 -> INT64_MAX,
    x < -2**63 -> INT64_MIN."""
    x = np.asarray(x)
    info = np.iinfo(dtype)
    hi, lo = 2.0 ** (info.bits - 1), -(2.0 ** (info.bits - 1))
    over, under = x >= hi, x < lo
    out = np.where(np.isnan(x) | over | under, 0, x).astype(dtype)
    out[over] = info.max
    out[under] = info.min
    return out


_SEMANTICS_IMPORT = "from hybridize.backends.numpy import float_to_int, int_div"


def _div(op: Operation, a: list[str], out: Target) -> list[str]:
    if numpy_dtype(op.result).kind == "f":
        return call("np.divide", a, out)
    return [_SEMANTICS_IMPORT, *copy_into(f"int_div({a[0]}, {a[1]})", out)]


def _sub(op: Operation, a: list[str], out: Target) -> list[str]:
    # i1 arithmetic is integer arithmetic on 0/1 read back as `!= 0`: a - b is a xor b
    if numpy_dtype(op.result).kind == "b":
        return call("np.logical_xor", a, out)
    return call("np.subtract", a, out)


def _relu(op: Operation, a: list[str], out: Target) -> list[str]:
    if numpy_dtype(op.result).kind == "b":
        return copy_into(a[0], out)  # max(x, 0) = x on i1
    if numpy_dtype(op.result).kind == "f":
        return copy_into(relu_expr(a[0]), out)
    return call("np.maximum", [a[0], "0"], out)


def _cast(op: Operation, a: list[str], out: Target) -> list[str]:
    if numpy_dtype(op.input).kind == "f" and numpy_dtype(op.result).kind in "iu":
        return [_SEMANTICS_IMPORT, *copy_into(f"float_to_int({a[0]}, {_np_type(op.result)})", out)]
    if out.into:
        return [f'np.copyto({out.name}, {a[0]}, casting="unsafe")']
    return [f"{out.name} = np.asarray({a[0]}).astype({_np_type(op.result)})"]


# --- shape and indexing ops ---


def _concat(op: Operation, a: list[str], out: Target) -> list[str]:
    return call("np.concatenate", [f"({', '.join(a)},)", f"axis={op.axis.value.data}"], out)


def _slice(op: Operation, a: list[str], out: Target) -> list[str]:
    index = []
    for n, count, start, step in zip(shape_of(op.input), shape_of(op.result), op.start_values, op.step_values):
        if (start, step) == (0, 1) and count == n:
            index.append(":")
        else:
            stop = start + (count - 1) * step + 1 if count else start
            index.append(f"{start}:{stop}" + (f":{step}" if step != 1 else ""))
    return copy_into(f"{a[0]}[{', '.join(index)}]", out)


def _pad(op: Operation, a: list[str], out: Target) -> list[str]:
    value = py_literal(op.pad_value, op.input)
    widths = list(zip(op.low_values, op.high_values))
    if not out.into:
        return [f"{out.name} = np.pad({a[0]}, {widths}, constant_values={value})"]
    inner = ", ".join(f"{lo}:{lo + n}" if lo or hi else ":" for (lo, hi), n in zip(widths, shape_of(op.input)))
    return [f"{out.name}.fill({value})", f"{out.name}[{inner}] = {a[0]}"]


def _broadcast(op: Operation, a: list[str], out: Target) -> list[str]:
    if out.into:
        return [f"np.copyto({out.name}, {a[0]})"]
    return [f"{out.name} = np.broadcast_to({a[0]}, {shape_literal(shape_of(op.result))}).copy()"]


def _index_check(op: Operation, indices: str, size: str) -> str:
    """A line raising IndexError (naming the op) unless 0 <= indices < size."""
    return (
        f"if {indices}.size and ({indices}.min() < 0 or {indices}.max() >= {size}): "
        f'raise IndexError(f"{op.name}: index out of range [0, {{{size}}})")'
    )


def _take(op: Operation, a: list[str], out: Target) -> list[str]:
    axis = op.axis.value.data
    check = _index_check(op, a[1], f"{a[0]}.shape[{axis}]")
    return [check, *call("np.take", [a[0], a[1], f"axis={axis}"], out)]


def _gather(op: Operation, a: list[str], out: Target) -> list[str]:
    # torch.gather allows an index smaller than the input outside `axis`:
    # cut the input to the index's extent, then NumPy's take_along_axis fits.
    axis = op.axis.value.data
    x_shape, ix_shape = shape_of(op.input), shape_of(op.index)
    cut = [":" if d == axis or m == n else f":{m}" for d, (n, m) in enumerate(zip(x_shape, ix_shape))]
    x = a[0] if all(c == ":" for c in cut) else f"{a[0]}[{', '.join(cut)}]"
    check = _index_check(op, a[1], f"{a[0]}.shape[{axis}]")
    return [check, *copy_into(f"np.take_along_axis({x}, {a[1]}, axis={axis})", out)]


def _iota(op: Operation, a: list[str], out: Target) -> list[str]:
    shape = shape_of(op.result)
    axis = op.axis.value.data
    size = BATCH if shape[axis] == DYNAMIC else str(shape[axis])
    line = tuple(-1 if d == axis else 1 for d in range(len(shape)))
    values = f"({op.start.value.data!r} + {op.step.value.data!r} * np.arange({size}, dtype=np.float64))"
    return copy_into(
        f"np.broadcast_to({values}.reshape({line!r}), {shape_literal(shape)}).astype({_np_type(op.result)})", out
    )


def _cumsum(op: Operation, a: list[str], out: Target) -> list[str]:
    # Accumulate in float64 / int64 like PyTorch's CPU kernel, then round once.
    acc = "np.float64" if numpy_dtype(op.result).kind == "f" else "np.int64"
    fn = "np.cumprod" if op.name == "hy.cumprod" else "np.cumsum"
    total = f"{fn}({a[0]}, axis={op.axis.value.data}, dtype={acc})"
    if fn == "np.cumsum" and acc == "np.float64":
        total = f"({total} + 0.0)"  # the sum starts from +0.0 (PyTorch, C): cumsum([-0.0]) is 0.0
    if out.into:
        return [f'np.copyto({out.name}, {total}, casting="unsafe")']
    return [f"{out.name} = {total}.astype({_np_type(op.result)})"]


# --- nn ops: convolution, pooling, normalization, reductions, attention ---
# Windows are strided views (sliding_window_view, no copy) reduced by one
# matmul or reduction; every rule keeps its operands' element type. Only NumPy
# APIs present in both 1.23 and 2.x are used (MXNet's venv runs 1.23).

_WINDOWS = "np.lib.stride_tricks.sliding_window_view"


def _dtype(value) -> str:
    return f"np.{numpy_dtype(value).name}"


def _pad_spatial(x: str, name: str, pads: list[tuple[int, int]], fill: str = "0") -> list[str]:
    """`name = np.pad(x, ...)` over the two spatial dims of NCHW (crops negative pads)."""
    crop = ", ".join(f"{-lo if lo < 0 else ''}:{hi if hi < 0 else ''}" for lo, hi in pads)
    widths = ", ".join(f"({max(lo, 0)}, {max(hi, 0)})" for lo, hi in pads)
    src = x if all(lo >= 0 and hi >= 0 for lo, hi in pads) else f"{x}[:, :, {crop}]"
    fill_arg = "" if fill == "0" else f", constant_values={fill}"
    return [f"{name} = np.pad({src}, ((0, 0), (0, 0), {widths}){fill_arg})"]


def _nchw(value, op: Operation) -> tuple[int, ...]:
    """The [N, C, H, W] shape of an operand or result of a window op in either layout."""
    from hybridize.ir.nn import to_nchw

    return to_nchw(shape_of(value), op.NHWC)


def _channels_last(rule: Rule) -> Rule:
    """A window op's rule for both layouts: a channels-last op ([N, H, W, C],
    the `layout` pass) runs the NCHW rule on transposed views of its input and result."""

    def both(op: Operation, a: list[str], out: Target) -> list[str]:
        if not op.NHWC:
            return rule(op, a, out)
        t = Target(f"{out.name}_nchw", False)
        lines = rule(op, [f"{a[0]}.transpose(0, 3, 1, 2)", *a[1:]], t)
        return lines + copy_into(f"{t.name}.transpose(0, 2, 3, 1)", out)

    return both


def _conv2d(op: Operation, a: list[str], out: Target) -> list[str]:
    """im2col over a strided window view, then one (grouped) matmul."""
    o, cg, kh, kw = shape_of(op.weight)
    oh, ow = _nchw(op.result, op)[2:]
    (sh, sw), (ph, pw), (dh, dw) = op.strides, op.paddings, op.dilations
    g = op.group_count
    if cg == 0:  # a sum over no input channels: 0, plus the bias
        lines = copy_into(f"np.zeros({shape_literal(_nchw(op.result, op))}, {_dtype(op.result)})", out)
        if len(a) == 3:
            lines.append(f"np.add({out.name}, {a[2]}.reshape({o}, 1, 1), out={out.name})")
        return lines
    x, lines = a[0], []
    pb, pr = op.padding_ends
    if ph or pw or pb or pr:
        lines += _pad_spatial(x, f"{out.name}_p", [(ph, pb), (pw, pr)])
        x = f"{out.name}_p"
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    lines.append(
        f"{out.name}_cols = {_WINDOWS}({x}, {span}, axis=(2, 3))[:, :, ::{sh}, ::{sw}, ::{dh}, ::{dw}]"
        f".reshape(-1, {g}, {cg}, {oh}, {ow}, {kh}, {kw}).transpose(0, 1, 2, 5, 6, 3, 4)"
        f".reshape(-1, {g}, {cg * kh * kw}, {oh * ow})"
    )
    product = [f"{a[1]}.reshape({g}, {o // g}, {cg * kh * kw})", f"{out.name}_cols"]
    if out.into:
        lines.append(f"np.matmul({', '.join(product)}, out={out.name}.reshape(-1, {g}, {o // g}, {oh * ow}))")
    else:
        lines.append(f"{out.name} = np.matmul({', '.join(product)}).reshape(-1, {o}, {oh}, {ow})")
    if len(a) == 3:
        lines.append(f"np.add({out.name}, {a[2]}.reshape({o}, 1, 1), out={out.name})")
    return lines


def _conv_transpose2d(op: Operation, a: list[str], out: Target) -> list[str]:
    """One matmul gives every input pixel's kernel contribution
    [N, G, O/G * KH * KW, H * W]; each tap (u, v) is then added into the
    strided rows and columns it lands on of an uncropped output, which is
    cropped by the padding."""
    n_in, og, kh, kw = shape_of(op.weight)
    h, w = shape_of(op.input)[2:]
    oh, ow = shape_of(op.result)[2:]
    (sh, sw), (ph, pw), (dh, dw) = op.strides, op.paddings, op.dilations
    g = op.group_count
    cg, o = n_in // g, og * g
    full = ((h - 1) * sh + dh * (kh - 1) + 1 + op.output_paddings[0], (w - 1) * sw + dw * (kw - 1) + 1 + op.output_paddings[1])
    t, f = f"{out.name}_t", f"{out.name}_f"
    lines = [
        f"{t} = np.matmul({a[1]}.reshape({g}, {cg}, {og * kh * kw}).transpose(0, 2, 1), "
        f"{a[0]}.reshape(-1, {g}, {cg}, {h * w})).reshape(-1, {o}, {kh}, {kw}, {h}, {w})",
        f"{f} = np.zeros(({t}.shape[0], {o}, {max(full[0], ph + oh)}, {max(full[1], pw + ow)}), {_dtype(op.result)})",
        f"for u in range({kh}):",
        f"    for v in range({kw}):",
        f"        {f}[:, :, u * {dh}:u * {dh} + {(h - 1) * sh + 1}:{sh}, v * {dw}:v * {dw} + {(w - 1) * sw + 1}:{sw}] += {t}[:, :, u, v]",
    ]
    lines += copy_into(f"{f}[:, :, {ph}:{ph + oh}, {pw}:{pw + ow}]", out)
    if len(a) == 3:
        lines.append(f"np.add({out.name}, {a[2]}.reshape({o}, 1, 1), out={out.name})")
    return lines


def _group_norm(op: Operation, a: list[str], out: Target) -> list[str]:
    shape = shape_of(op.input)
    c, g = shape[1], op.group_count
    xg, cen = f"{out.name}_g", f"{out.name}_c"
    lines = [
        f"{xg} = {a[0]}.reshape(-1, {g}, {c // g * int(np.prod(shape[2:], dtype=np.int64))})",
        f"{cen} = {xg} - np.mean({xg}, axis=2, keepdims=True)",
        *copy_into(
            f"({cen} / np.sqrt(np.mean({cen} * {cen}, axis=2, keepdims=True) + {op.epsilon!r})).reshape({a[0]}.shape)", out
        ),
    ]
    for param, ufn in zip(a[1:], ("np.multiply", "np.add")):
        lines.append(f"{ufn}({out.name}, {param}.reshape({_channel_shape(op.weight, len(shape))}), out={out.name})")
    return lines


def _resize(op: Operation, a: list[str], out: Target) -> list[str]:
    """Separable: the last dim's taps first, then the row taps; each a sum of
    (tap values x weights) in tap order, as PyTorch's kernel adds them."""
    spatial = len(shape_of(op.input)) - 2
    x, lines = a[0], []
    for d in reversed(range(spatial)):
        idx, wts = op.taps(d)
        axis = 2 + d
        lead = ", ".join([":"] * axis)
        bcast = ", None" * (spatial - 1 - d)
        if op.mode_name.startswith("nearest"):
            terms = [f"{x}[{lead}, {idx[:, 0].tolist()}]"]
        else:
            terms = [
                f"{x}[{lead}, {idx[:, k].tolist()}] * np.array({wts[:, k].tolist()}, {_dtype(op.result)})[:{bcast}]"
                for k in range(idx.shape[1])
            ]
        lines.append(f"{out.name}_r{d} = {' + '.join(terms)}")
        x = f"{out.name}_r{d}"
    return lines + copy_into(x, out)


def _sort_order(op: Operation, x: str) -> str:
    """Stable positions in PyTorch's order (NaN largest; -0.0 equals 0.0)."""
    axis = op.dim
    if not op.is_descending:
        return f'np.argsort({x}, axis={axis}, kind="stable")'
    if numpy_dtype(op.input).kind == "f":  # NaN first, then by -x (lexsort: last key is primary, stable)
        return f"np.lexsort((-{x}, ~np.isnan({x})), axis={axis})"
    return f'np.argsort(~{x}, axis={axis}, kind="stable")'  # ~x = -x - 1: descending, no overflow


def _sort(op: Operation, a: list[str], out: Target) -> list[str]:
    return copy_into(f"np.take_along_axis({a[0]}, {_sort_order(op, a[0])}, axis={op.dim})", out)


def _argsort(op: Operation, a: list[str], out: Target) -> list[str]:
    return copy_into(f"{_sort_order(op, a[0])}.astype(np.int64)", out)


def _arg_reduce(fn: str) -> Rule:
    # NumPy's argmax/argmin give the first extreme, and the first NaN when there is one, as PyTorch does
    def rule(op: Operation, a: list[str], out: Target) -> list[str]:
        keep = ", keepdims=True" if op.keeps_dims else ""
        return copy_into(f"{fn}({a[0]}, axis={op.dim}{keep}).astype(np.int64)", out)

    return rule


def _pool_windows(op: Operation, x: str, out: Target, fill: str) -> list[str]:
    """`out_w`: the [N, C, OH, OW, KH, KW] windows of the padded input (the
    result type sets OH, OW; extra ceil-mode rows pad on the far side)."""
    h, w = _nchw(op.input, op)[2:]
    oh, ow = _nchw(op.result, op)[2:]
    (kh, kw), (sh, sw), (ph, pw) = op.kernels, op.strides, op.paddings
    far = ((oh - 1) * sh + kh - h - ph, (ow - 1) * sw + kw - w - pw)
    lines = []
    if ph or pw or far[0] or far[1]:
        lines += _pad_spatial(x, f"{out.name}_p", [(ph, far[0]), (pw, far[1])], fill)
        x = f"{out.name}_p"
    lines.append(f"{out.name}_w = {_WINDOWS}({x}, ({kh}, {kw}), axis=(2, 3))[:, :, ::{sh}, ::{sw}]")
    return lines


def _max_pool2d(op: Operation, a: list[str], out: Target) -> list[str]:
    # a zero max is +0.0 (see `_reduce`): window order decides nothing
    lines = _pool_windows(op, a[0], out, "-np.inf")
    if out.into:
        return [*lines, *call("np.max", [f"{out.name}_w", "axis=(4, 5)"], out), f"np.add({out.name}, 0, out={out.name})"]
    return [*lines, f"{out.name} = np.max({out.name}_w, axis=(4, 5)) + {_np_type(op.result)}(0)"]


def _avg_divisors(size: int, out_size: int, k: int, s: int, p: int, include_pad: bool) -> list[int]:
    """The divisor of each window along one dim (at least 1: empty windows average to 0)."""
    starts = [o * s - p for o in range(out_size)]
    if include_pad:
        return [max(min(b + k, size + p) - b, 1) for b in starts]
    return [max(min(b + k, size) - max(b, 0), 1) for b in starts]


def _avg_pool2d(op: Operation, a: list[str], out: Target) -> list[str]:
    h, w = _nchw(op.input, op)[2:]
    oh, ow = _nchw(op.result, op)[2:]
    (kh, kw), (sh, sw), (ph, pw) = op.kernels, op.strides, op.paddings
    dh = _avg_divisors(h, oh, kh, sh, ph, op.include_pad)
    dw = _avg_divisors(w, ow, kw, sw, pw, op.include_pad)
    lines = _pool_windows(op, a[0], out, "0") + call("np.sum", [f"{out.name}_w", "axis=(4, 5)"], out)
    if len(set(dh)) == 1 and len(set(dw)) == 1:
        divisor = str(dh[0] * dw[0])
    else:  # windows clipped at the edges: one divisor per output row and column
        divisor = f"np.multiply.outer({dh}, {dw}).astype({_dtype(op.result)})"
    return lines + [f"np.divide({out.name}, {divisor}, out={out.name})"]


def _adaptive_avg_pool2d(op: Operation, a: list[str], out: Target) -> list[str]:
    from hybridize.ir.nn import adaptive_window

    _, c, h, w = shape_of(op.input)
    oh, ow = shape_of(op.result)[2:]
    if h == 0 or w == 0:  # every window is empty: the mean of nothing
        return copy_into(f"np.full({shape_literal(shape_of(op.result))}, np.nan, {_dtype(op.result)})", out)
    if h % oh == 0 and w % ow == 0:  # equal, disjoint windows
        return call("np.mean", [f"{a[0]}.reshape(-1, {c}, {oh}, {h // oh}, {ow}, {w // ow})", "axis=(3, 5)"], out)
    # one mean per window (a matmul with 0/1 window weights would spread one Inf as 0 * Inf = NaN)
    rows = [adaptive_window(i, h, oh) for i in range(oh)]
    cols = [adaptive_window(j, w, ow) for j in range(ow)]
    means = ", ".join(f"np.mean({a[0]}[:, :, {r0}:{r1}, {c0}:{c1}], axis=(2, 3))" for r0, r1 in rows for c0, c1 in cols)
    return copy_into(f"np.stack([{means}], axis=-1).reshape({shape_literal(shape_of(op.result))})", out)


def _channel_shape(value, rank: int) -> str:
    """A per-channel [C] parameter broadcast over axis 1 of a rank-`rank` tensor."""
    return shape_literal((shape_of(value)[0],) + (1,) * (rank - 2))


def _batch_norm(op: Operation, a: list[str], out: Target) -> list[str]:
    x, mean, var = a[:3]
    rest = iter(a[3:])
    weight = next(rest) if op.weight is not None else "1"
    bias = next(rest) if op.bias is not None else None
    shape = _channel_shape(op.mean, len(shape_of(op.input)))
    scale = f"({weight} / np.sqrt({var} + {op.epsilon!r})).reshape({shape})"
    lines = call("np.multiply", [f"{x} - {mean}.reshape({shape})", scale], out)
    if bias is not None:
        lines.append(f"np.add({out.name}, {bias}.reshape({shape}), out={out.name})")
    return lines


def _layer_norm(op: Operation, a: list[str], out: Target) -> list[str]:
    axes = tuple(range(op.first_axis, len(shape_of(op.input))))
    c = f"{out.name}_c"
    lines = [
        f"{c} = {a[0]} - np.mean({a[0]}, axis={axes}, keepdims=True)",
        *call(
            "np.multiply",
            [c, f"1 / np.sqrt(np.mean({c} * {c}, axis={axes}, keepdims=True) + {op.epsilon!r})"],
            out,
        ),
    ]
    for param, ufn in zip(a[1:], ("np.multiply", "np.add")):
        lines.append(f"{ufn}({out.name}, {param}, out={out.name})")
    return lines


def _softmax(op: Operation, a: list[str], out: Target) -> list[str]:
    ax = op.dim
    # initial=-inf: an empty axis has no maximum (a 0-size softmax is empty, not an error)
    return call("np.exp", [f"{a[0]} - np.max({a[0]}, axis={ax}, keepdims=True, initial=-np.inf)"], out) + [
        f"np.divide({out.name}, np.sum({out.name}, axis={ax}, keepdims=True), out={out.name})"
    ]


def _log_softmax(op: Operation, a: list[str], out: Target) -> list[str]:
    ax, s = op.dim, f"{out.name}_s"
    return [f"{s} = {a[0]} - np.max({a[0]}, axis={ax}, keepdims=True, initial=-np.inf)"] + call(
        "np.subtract", [s, f"np.log(np.sum(np.exp({s}), axis={ax}, keepdims=True))"], out
    )


def _reduce(fn: str) -> Rule:
    def rule(op: Operation, a: list[str], out: Target) -> list[str]:
        x = shape_of(op.input)
        if fn == "np.mean" and any(x[d] == 0 for d in op.dims):
            keep = ", keepdims=True" if op.keeps_dims else ""
            return copy_into(f"np.sum({a[0]}, axis={op.dims}{keep}) / 0", out)  # mean of nothing: NaN, as in PyTorch
        args = [a[0], f"axis={op.dims}"]
        if fn == "np.sum" and numpy_dtype(op.input).kind in "iu":
            args.append(f"dtype={_dtype(op.input)}")  # NumPy would widen int32 sums to int64
        if op.keeps_dims:
            args.append("keepdims=True")
        if fn in ("np.max", "np.min") and numpy_dtype(op.input).kind == "f":
            # a zero max/min is +0.0: which of -0.0 and 0.0 a loop keeps on a tie
            # depends on its order (NumPy's SIMD loops, C's vector lanes)
            if out.into:
                return [*call(fn, args, out), f"np.add({out.name}, 0, out={out.name})"]
            return [f"{out.name} = {fn}({', '.join(args)}) + {_np_type(op.result)}(0)"]
        return call(fn, args, out)

    return rule


def _attention(op: Operation, a: list[str], out: Target) -> list[str]:
    q, k, v = a[:3]
    if shape_of(op.key)[-2] == 0:  # no keys: the weighted sum over nothing is 0 (as PyTorch)
        return copy_into(f"np.zeros({shape_literal(shape_of(op.result))}, {_dtype(op.result)})", out)
    s = f"{out.name}_s"
    lines = [f"{s} = np.matmul({q}, np.swapaxes({k}, -1, -2)) * {op.scale_value!r}"]
    if op.mask is not None:
        if numpy_dtype(op.mask) == np.bool_:
            lines.append(f"np.copyto({s}, -np.inf, where=np.logical_not({a[3]}))")
        else:
            lines.append(f"{s} += {a[3]}")
    if op.is_causal:
        length, keys = shape_of(op.query)[-2], shape_of(op.key)[-2]
        lines.append(f"np.copyto({s}, -np.inf, where=np.triu(np.ones(({length}, {keys}), bool), 1))")
    finfo = f"np.finfo({_dtype(op.result)})"
    lines += [
        # a fully masked row has max -inf: subtracting finfo.min keeps its exps 0
        f"np.exp({s} - np.maximum(np.max({s}, axis=-1, keepdims=True), {finfo}.min), out={s})",
        f"{s} /= np.maximum(np.sum({s}, axis=-1, keepdims=True), {finfo}.tiny)",
        *call("np.matmul", [s, v], out),
    ]
    return lines


def _recurrent(op: Operation, a: list[str], out: Target) -> list[str]:
    """The time loop of `hy.lstm`, `hy.gru`, `hy.rnn_tanh`/`relu` in Python: the
    input projection of all steps in one matmul, then one matmul per step."""
    v = dict(zip(op.operands, a))
    o, hid, gates = out.name, op.hidden_size, op.GATES
    x, shape = v[op.input], shape_literal(shape_of(op.result))
    steps = f"range({x}.shape[0] - 1, -1, -1)" if op.reversed else f"range({x}.shape[0])"
    lines = [f"{o}_gi = np.matmul({x}, {v[op.w_ih]}.T)"]
    if op.b_ih is not None:
        lines.append(f"{o}_gi += {v[op.b_ih]}")
    if not out.into:
        lines.append(f"{o} = np.empty({shape}, {_dtype(op.result)})")
    lines.append(f"{o}_h = {v[op.h0]}")
    if op.c0 is not None:
        lines.append(f"{o}_c = {v[op.c0]}")
    gh = f"np.matmul({o}_h, {v[op.w_hh]}.T)" + (f" + {v[op.b_hh]}" if op.b_hh is not None else "")
    gi = f"{o}_gi[{o}_t]"

    def sig(e: str) -> str:
        return f"1 / (1 + np.exp(-({e})))"

    body = [f"{o}_g = {gi} + {gh}"] if op.name != "hy.gru" else [f"{o}_g = {gh}"]
    if op.name == "hy.lstm":
        i, f, g, og = (f"{o}_g[:, {k * hid}:{(k + 1) * hid}]" for k in range(4))
        body += [f"{o}_c = {sig(f)} * {o}_c + {sig(i)} * np.tanh({g})", f"{o}_h = {sig(og)} * np.tanh({o}_c)"]
        if op.w_hr is not None:
            body.append(f"{o}_h = np.matmul({o}_h, {v[op.w_hr]}.T)")
        p = op.output_size
        body += [f"{o}[{o}_t, :, :{p}] = {o}_h", f"{o}[{o}_t, :, {p}:] = {o}_c"]
    elif op.name == "hy.gru":
        r, z, n = (f"[:, {k * hid}:{(k + 1) * hid}]" for k in range(3))
        body += [
            f"{o}_z = {sig(f'{gi}{z} + {o}_g{z}')}",
            f"{o}_n = np.tanh({gi}{n} + {sig(f'{gi}{r} + {o}_g{r}')} * {o}_g{n})",
            f"{o}_h = (1 - {o}_z) * {o}_n + {o}_z * {o}_h",
            f"{o}[{o}_t] = {o}_h",
        ]
    else:
        act = f"np.tanh({o}_g)" if op.name == "hy.rnn_tanh" else relu_expr(f"{o}_g")
        body += [f"{o}_h = {act}", f"{o}[{o}_t] = {o}_h"]
    return [*lines, f"for {o}_t in {steps}:", *("    " + b for b in body)]


RULES: dict[str, Rule] = {
    "hy.add": ufunc("np.add"),
    "hy.sub": _sub,
    "hy.mul": ufunc("np.multiply"),
    "hy.div": _div,
    "hy.relu": _relu,
    "hy.linear": _linear,
    "hy.matmul": ufunc("np.matmul"),
    "hy.reshape": _reshape,
    "hy.transpose": _transpose,
    # --- elementwise math, comparisons, logic, casts ---
    "hy.pow": ufunc("np.power"),
    "hy.maximum": ufunc("np.maximum"),
    "hy.minimum": ufunc("np.minimum"),
    "hy.neg": ufunc("np.negative"),
    "hy.abs": ufunc("np.abs"),
    "hy.exp": ufunc("np.exp"),
    "hy.expm1": ufunc("np.expm1"),
    "hy.log": ufunc("np.log"),
    "hy.log1p": ufunc("np.log1p"),
    "hy.sqrt": ufunc("np.sqrt"),
    "hy.rsqrt": lambda op, a, out: call("np.divide", ["1", f"np.sqrt({a[0]})"], out),
    "hy.reciprocal": lambda op, a, out: call("np.divide", ["1", a[0]], out),
    "hy.erf": lambda op, a, out: [_ERF_IMPORT, *copy_into(f"erf({a[0]})", out)],
    "hy.sigmoid": lambda op, a, out: call("np.divide", ["1", f"1 + np.exp(-{a[0]})"], out),
    "hy.tanh": ufunc("np.tanh"),
    "hy.sin": ufunc("np.sin"),
    "hy.cos": ufunc("np.cos"),
    "hy.floor": ufunc("np.floor"),
    "hy.silu": lambda op, a, out: call("np.divide", [a[0], f"1 + np.exp(-{a[0]})"], out),
    "hy.hardswish": lambda op, a, out: call("np.divide", [f"{a[0]} * np.clip({a[0]} + 3, 0, 6)", "6"], out),
    "hy.hardsigmoid": lambda op, a, out: call("np.divide", [f"np.clip({a[0]} + 3, 0, 6)", "6"], out),
    # PyTorch's threshold: x itself above 20 (np.minimum keeps exp from overflowing)
    "hy.softplus": lambda op, a, out: copy_into(
        f"np.where({a[0]} > 20, {a[0]}, np.log1p(np.exp(np.minimum({a[0]}, 20))))", out
    ),
    "hy.gelu": _gelu,
    "hy.leaky_relu": _leaky_relu,
    "hy.elu": _elu,
    "hy.clamp": _clamp,
    "hy.eq": ufunc("np.equal"),
    "hy.ne": ufunc("np.not_equal"),
    "hy.lt": ufunc("np.less"),
    "hy.le": ufunc("np.less_equal"),
    "hy.gt": ufunc("np.greater"),
    "hy.ge": ufunc("np.greater_equal"),
    "hy.and": ufunc("np.logical_and"),
    "hy.or": ufunc("np.logical_or"),
    "hy.xor": ufunc("np.logical_xor"),
    "hy.not": ufunc("np.logical_not"),
    "hy.where": lambda op, a, out: copy_into(f"np.where({a[0]}, {a[1]}, {a[2]})", out),
    "hy.cast": _cast,
    # --- shape and indexing ops ---
    "hy.concat": _concat,
    "hy.slice": _slice,
    "hy.pad": _pad,
    "hy.broadcast": _broadcast,
    "hy.take": _take,
    "hy.gather": _gather,
    "hy.cumsum": _cumsum,
    "hy.cumprod": _cumsum,
    "hy.iota": _iota,
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
    "hy.conv2d": _conv2d,
    "hy.conv2d_nhwc": _channels_last(_conv2d),
    "hy.conv_transpose2d": _conv_transpose2d,
    "hy.group_norm": _group_norm,
    "hy.resize": _resize,
    "hy.sort": _sort,
    "hy.argsort": _argsort,
    "hy.argmax": _arg_reduce("np.argmax"),
    "hy.argmin": _arg_reduce("np.argmin"),
    "hy.max_pool2d": _max_pool2d,
    "hy.avg_pool2d": _avg_pool2d,
    "hy.max_pool2d_nhwc": _channels_last(_max_pool2d),
    "hy.avg_pool2d_nhwc": _channels_last(_avg_pool2d),
    "hy.adaptive_avg_pool2d": _adaptive_avg_pool2d,
    "hy.batch_norm": _batch_norm,
    "hy.layer_norm": _layer_norm,
    "hy.softmax": _softmax,
    "hy.log_softmax": _log_softmax,
    "hy.reduce_sum": _reduce("np.sum"),
    "hy.reduce_mean": _reduce("np.mean"),
    "hy.reduce_max": _reduce("np.max"),
    "hy.reduce_min": _reduce("np.min"),
    "hy.reduce_any": _reduce("np.any"),
    "hy.attention": _attention,
    # --- recurrent ops ---
    "hy.lstm": _recurrent,
    "hy.gru": _recurrent,
    "hy.rnn_tanh": _recurrent,
    "hy.rnn_relu": _recurrent,
}


def rule_for(op: Operation) -> Rule:
    if isinstance(op, FusedOp):
        return lambda op, a, out: emit_fused(op, a, out, donor=-1)
    rule = RULES.get(op.name)
    if rule is None:
        raise UnsupportedOpError(
            f"the NumPy backend has no rule for {op.name}{where(op)} (supported: {', '.join(sorted(RULES))})"
        )
    return rule


def _member(op: Operation) -> str | None:
    return None if op.name in RULES else f"no NumPy rule for {op.name}"


FUSION = FusionTarget("numpy", frozenset(Shape), _member)
"""The groups the NumPy backend runs: every shape (a body runs statement by statement)."""


def emit_fused(op: FusedOp, args: list[str], out: Target, donor: int) -> list[str]:
    """The body statement by statement. An intermediate of the output's type is
    computed in the output array itself when the value held there is dead by
    then (the donor input, when the plan reuses its bytes, counts as held), and
    a statement writing it there reads it at the same index only (loop ops;
    others get a temporary when they read it)."""
    body = op.ops
    names = dict(zip(op.body.block.args, args))
    last_use: dict = {}
    for k, bop in enumerate([*body, op.yielded]):
        for v in bop.operands:
            last_use[v] = k
    direct = dict(last_use)
    # A shape op's temporary may be a NumPy view of its operand (a basic slice,
    # a reshape): the operand's bytes live as long as the view does.
    for bop in reversed(body):
        if kind_of(bop) in (Kind.INJECTIVE, Kind.BROADCAST):
            for v in bop.operands:
                last_use[v] = max(last_use.get(v, -1), last_use.get(bop.results[0], -1))
    (result,) = op.yielded.values
    final = next((k for k, bop in enumerate(body) if bop.results[0] is result), len(body))

    def free_by_final(v) -> bool:
        """`v` may sit in the output array: nothing reads it (or a view of it)
        when the final statement writes there, but that statement itself, at the
        same index."""
        end = last_use.get(v, -1)
        return end < final or (end == final < len(body) and direct.get(v) == final and is_loop_op(body[final]))

    held = op.body.block.args[donor] if donor >= 0 else None
    lines = [f"# {op.name}"]
    for k, bop in enumerate(body):
        res = bop.results[0]
        if res is result:
            target = out
        elif (
            out.into
            and res.type == result.type
            and free_by_final(res)
            and (held is None or last_use.get(held, -1) < k or (last_use[held] == k and is_loop_op(bop)))
        ):
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
                f".view({_np_type(value)}).reshape({shape_literal(shape_of(value))})"
            )
    for value, storage in prog.storage.items():
        if storage.kind == "output":
            body.append(
                f"{prog.names[value]} = np.empty({shape_literal(shape_of(value))}, {_np_type(value)})"
            )
    for step in prog.steps:
        into = prog.storage[step.op.results[0]].kind in ("arena", "output")
        target = Target(step.out, into)
        result_shape = shape_of(step.op.results[0])
        if 0 in result_shape and not step.op.has_trait(ViewLike):
            # nothing to compute (and NumPy's reductions refuse empty inputs)
            if not into:
                body.append(f"{step.out} = np.empty({shape_literal(result_shape)}, {_np_type(step.op.results[0])})")
            continue
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
        # NaN and Inf propagate silently, as in PyTorch (no RuntimeWarning per op)
        '        with np.errstate(all="ignore"):',
        *("            " + s for s in body),
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
