"""The scalar table of the C backend: each elementwise op's C expression,
used alone (a loop nest per op) and inside fused loops and epilogues.

    >>> scalar_expr(relu_op, ["x[i]"], "float")
    '(x[i] < 0 ? 0 : x[i])'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from xdsl.ir import Operation, SSAValue

from hybridize.backends.program import UnsupportedOpError
from hybridize.ir.types import element_kind

# --- elementwise math, comparisons, logic, casts: helpers of their SCALAR rules ---
# Constants are written in the result's C type (`0.5f` for float) so float
# math never widens to double; bounds use ternaries so NaN passes through.


def c_number(value: float, ctype: str) -> str:
    """`value` as a C literal of `ctype` (INFINITY / NAN from <math.h>)."""
    if ctype not in ("float", "double"):
        return str(int(value))
    if math.isnan(value):
        return "NAN"
    if math.isinf(value):
        return "INFINITY" if value > 0 else "-INFINITY"
    return repr(float(value)) + ("f" if ctype == "float" else "")


def c_clamp(x: str, lo: str | None, hi: str | None) -> str:
    """min(max(x, lo), hi) for an operand expression; NaN stays NaN."""
    if lo is not None:
        x = f"({x} < {lo} ? {lo} : {x})"
    if hi is not None:
        x = f"({x} > {hi} ? {hi} : {x})"
    return x


def _c_gelu(op: Operation, a: list[str], t: str) -> str:
    x = a[0]
    if op.approximate.data == "tanh":
        inner = f"{c_number(0.7978845608028654, t)} * ({x} + {c_number(0.044715, t)} * ({x} * {x} * {x}))"
        return f"({c_number(0.5, t)} * {x} * (1 + tanh({inner})))"
    erf = "hy_erff" if t == "float" else "erf"  # hy_math.h: vectorizable
    return f"({x} * {c_number(0.5, t)} * (1 + {erf}({x} * {c_number(0.7071067811865476, t)})))"


def _c_abs(op: Operation, a: list[str], t: str) -> str:
    if t in FLOATS:
        return f"fabs({a[0]})"
    return a[0] if t == "_Bool" else f"({a[0]} < 0 ? {_wrapping('-', [a[0]], t)} : {a[0]})"  # |INT_MIN| = INT_MIN


# --- integers: the rules of backends.numpy (two's complement, int_div, float_to_int) ---
# Signed overflow is undefined in C, so add, sub, mul and neg of integers run
# in the unsigned type of the same width (defined to wrap) and convert back
# (GCC and Clang define that conversion as modulo 2^bits). Float rules keep
# their plain expressions: they are the hot path and must stay vectorizable.

FLOATS = ("float", "double")
_UNSIGNED = {"int32_t": "uint32_t", "int64_t": "uint64_t"}
_INT_LIMITS = {"int32_t": (32, "INT32_MIN", "INT32_MAX"), "int64_t": (64, "INT64_MIN", "INT64_MAX")}


def _wrapping(sym: str, a: list[str], t: str) -> str:
    """`a0 sym a1` (or `sym a0`) in two's complement for an integer type `t`."""
    u = _UNSIGNED[t]
    if len(a) == 1:
        return f"(({t})(({u})0 - ({u})({a[0]})))"
    return f"(({t})(({u})({a[0]}) {sym} ({u})({a[1]})))"


def _arith(sym: str) -> Callable[[Operation, list[str], str], str]:
    """add, sub, mul: plain for floats and i1 (a nonzero int read back as
    `_Bool`: + is or, - is xor, * is and), wrapping for integers."""

    def rule(op: Operation, a: list[str], t: str) -> str:
        return _wrapping(sym, a, t) if t in _UNSIGNED else f"({a[0]} {sym} {a[1]})"

    return rule


def _c_neg(op: Operation, a: list[str], t: str) -> str:
    return _wrapping("-", a, t) if t in _UNSIGNED else f"(-{a[0]})"


def _c_div(op: Operation, a: list[str], t: str) -> str:
    """numpy.int_div: truncated; x / 0 = 0; INT_MIN / -1 = INT_MIN (wraps).
    On i1, a and b."""
    x, y = a
    if t in FLOATS:
        return f"({x} / {y})"
    if t == "_Bool":
        return f"({x} & {y})"
    return f"({y} == 0 ? ({t})0 : {y} == -1 ? {_wrapping('-', [x], t)} : ({t})({x} / {y}))"


def _c_cast(op: Operation, a: list[str], t: str) -> str:
    """numpy.float_to_int from float: NaN -> 0, x >= 2^(bits-1) -> INT_MAX,
    x < -2^(bits-1) -> INT_MIN, else truncated (C's conversion is undefined
    outside the range). Other casts are C's: to _Bool nonzero (NaN too), like
    NumPy; integer narrowing wraps."""
    src = element_kind(op.operands[0]).c
    if src not in FLOATS or t not in _INT_LIMITS:
        return f"(({t}){a[0]})"
    x = a[0]
    bits, lo, hi = _INT_LIMITS[t]
    bound = f"0x1p{bits - 1}{'f' if src == 'float' else ''}"  # 2^(bits-1), exact in either float type
    return f"({x} != {x} ? ({t})0 : {x} >= {bound} ? {hi} : {x} < -{bound} ? {lo} : ({t}){x})"


def _c_clamp(op: Operation, a: list[str], t: str) -> str:
    lo, hi = (None if b is None else c_number(b, t) for b in op.bounds)
    return c_clamp(a[0], lo, hi)


# --- scalar expressions of elementwise ops ---
# An entry is a format string over the operand expressions ({0}, {1}, ...) or a
# function (op, operand expressions, C type of the result) -> expression.
# Math functions come from <tgmath.h>, so `exp(x)` is expf for float operands.
ScalarRule = str | Callable[[Operation, list[str], str], str]

SCALAR: dict[str, ScalarRule] = {
    # arithmetic
    "hy.add": _arith("+"),
    "hy.sub": _arith("-"),
    "hy.mul": _arith("*"),
    "hy.div": _c_div,
    "hy.relu": "({0} < 0 ? 0 : {0})",  # NaN stays NaN, like np.maximum
    # --- elementwise math, comparisons, logic, casts ---
    "hy.pow": "pow({0}, {1})",
    "hy.maximum": "({0} > {1} || {0} != {0} ? {0} : {1})",  # NaN if either is NaN
    "hy.minimum": "({0} < {1} || {0} != {0} ? {0} : {1})",
    "hy.neg": _c_neg,
    "hy.abs": _c_abs,
    "hy.exp": "exp({0})",
    "hy.expm1": "expm1({0})",
    "hy.log": "log({0})",
    "hy.log1p": "log1p({0})",
    "hy.sqrt": "sqrt({0})",
    "hy.rsqrt": "(1 / sqrt({0}))",
    "hy.reciprocal": "(1 / {0})",
    "hy.erf": lambda op, a, t: f"{'hy_erff' if t == 'float' else 'erf'}({a[0]})",
    "hy.sigmoid": "(1 / (1 + exp(-{0})))",
    "hy.tanh": "tanh({0})",
    "hy.sin": "sin({0})",
    "hy.cos": "cos({0})",
    "hy.floor": "floor({0})",
    "hy.silu": "({0} / (1 + exp(-{0})))",
    "hy.hardswish": lambda op, a, t: f"({a[0]} * {c_clamp(f'({a[0]} + 3)', '0', '6')} / 6)",
    "hy.hardsigmoid": lambda op, a, t: f"({c_clamp(f'({a[0]} + 3)', '0', '6')} / 6)",
    "hy.softplus": "({0} > 20 ? {0} : log1p(exp({0})))",  # PyTorch's threshold
    "hy.gelu": _c_gelu,
    "hy.leaky_relu": lambda op, a, t: f"({a[0]} > 0 ? {a[0]} : {a[0]} * {c_number(op.slope.value.data, t)})",
    "hy.elu": lambda op, a, t: f"({a[0]} > 0 ? {a[0]} : {c_number(op.alpha.value.data, t)} * expm1({a[0]}))",
    "hy.clamp": _c_clamp,
    "hy.eq": "({0} == {1})",
    "hy.ne": "({0} != {1})",
    "hy.lt": "({0} < {1})",
    "hy.le": "({0} <= {1})",
    "hy.gt": "({0} > {1})",
    "hy.ge": "({0} >= {1})",
    "hy.and": "({0} & {1})",
    "hy.or": "({0} | {1})",
    "hy.xor": "({0} ^ {1})",
    "hy.not": "(!{0})",
    "hy.where": "({0} ? {1} : {2})",
    "hy.cast": _c_cast,
    "hy.broadcast": "{0}",  # the loop nest reads the input at broadcast strides
}


def scalar_expr(op: Operation, args: list[str], ctype: str) -> str:
    rule = SCALAR.get(op.name)
    if rule is None:
        raise UnsupportedOpError(
            f"the C backend has no scalar rule for {op.name} (elementwise ops: {', '.join(sorted(SCALAR))})"
        )
    return rule.format(*args) if isinstance(rule, str) else rule(op, args, ctype)


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
