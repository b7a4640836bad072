"""MXNet frontend: exported symbol graphs (`-symbol.json` + `.params`, read
without MXNet) and live Gluon `HybridBlock`s, lowered to the `hy` dialect.

    >>> module = hybridize.trace("resnet18_v1-symbol.json", np.zeros((1, 3, 64, 64), np.float32))
    >>> module = load_symbol_file("my_mlp-symbol.json", input_shapes=[(1, 512)])
    >>> module = hybridize.trace(gluon_block, mx.nd.ones((1, 512)))   # MXNet installed

A symbol file is a JSON list of nodes in topological order: variables
(`"op": "null"`) and operator nodes whose `inputs` are `[node, output, version]`
triples. Variables found in the parameters (`arg:` / `aux:` names, or plain
names) become `hy.constant`s; the others are the function's inputs, ordered
`data`, `data0`, `data1`, ... then by appearance. Shapes come from the
parameters and the example inputs (never from `__shape__`, except for inputs
when nothing else is given), and every op's result shape follows from its
operands as the `hy` op is built.

Each MXNet op (legacy and numpy-mode names) maps through `MXNET_CONVERTERS` to
a converter building `hy` ops; MXNet semantics that differ from PyTorch are
spelled out there (pooling conventions, `fix_gamma`, Reshape's special codes,
FullyConnected's `flatten`). Files are untrusted: the JSON structure is checked
and every node input must name an earlier node (which rules out cycles), and
errors name the node index, its name and op. Names from the file only become
sanitized SSA name hints (`hybridize.ir.module.name_hint`), never code.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint
from xdsl.utils.exceptions import VerifyException

from hybridize import errors
from hybridize.frontends import FrontendError
from hybridize.ir.locations import name_location
from hybridize.ir.module import name_hint, verify_with_locations
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import DYNAMIC, format_shape, numpy_dtype, shape_of, tensor_type
from hybridize.passes import first_line

# ---------------------------------------------------------------------------
# errors and the graph as read from JSON


class SymbolFormatError(FrontendError):
    """A symbol file is not a valid MXNet graph; the message says where."""


class UnsupportedOpError(FrontendError, errors.UnsupportedOpError):
    """An MXNet op (or an attribute value of one) that hybridize cannot map."""


def _show(text: str, limit: int = 60) -> str:
    """A name or value from the file, quoted and shortened for messages."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


@dataclass
class Node:
    """One node of the symbol graph."""

    index: int
    op: str
    name: str
    attrs: dict[str, str]
    inputs: list[tuple[int, int]]

    def label(self) -> str:
        """`node 7 'dense0_fwd' (FullyConnected)` for messages."""
        kind = "variable" if self.op == "null" else self.op
        return f"node {self.index} {_show(self.name)} ({_show(kind, 40)[1:-1]})"


@dataclass
class Graph:
    nodes: list[Node]
    heads: list[tuple[int, int]]
    numpy_mode: bool


def _entry(value: Any, where: str, n_nodes: int, before: int | None) -> tuple[int, int]:
    """A `[node, output(, version)]` reference, checked."""
    if (
        not isinstance(value, list)
        or len(value) not in (2, 3)
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise SymbolFormatError(f"{where} must be [node, output, version] integers, got {str(value)[:80]}")
    src, out = value[0], value[1]
    limit = n_nodes if before is None else before
    if not 0 <= src < limit:
        if before is None:
            raise SymbolFormatError(f"{where} refers to node {src}, but there are {n_nodes} nodes")
        raise SymbolFormatError(
            f"{where} refers to node {src}, which is not an earlier node "
            f"(nodes must be in topological order: a cycle or an index out of range)"
        )
    if out < 0:
        raise SymbolFormatError(f"{where} refers to output {out} of node {src}")
    return src, out


def parse_graph(symbol: str | bytes | dict, where: str = "symbol") -> Graph:
    """Check the JSON structure of a symbol graph and return its nodes."""
    if isinstance(symbol, str | bytes | bytearray):
        try:
            symbol = json.loads(symbol)
        except (ValueError, RecursionError) as e:
            raise SymbolFormatError(f"{where}: not valid JSON ({str(e)[:200]})") from None
    if not isinstance(symbol, dict):
        raise SymbolFormatError(f"{where}: expected a JSON object with 'nodes' and 'heads'")
    raw_nodes, raw_heads = symbol.get("nodes"), symbol.get("heads")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise SymbolFormatError(f"{where}: 'nodes' must be a non-empty list")
    if not isinstance(raw_heads, list) or not raw_heads:
        raise SymbolFormatError(f"{where}: 'heads' must be a non-empty list of [node, output, version]")
    nodes: list[Node] = []
    for i, raw in enumerate(raw_nodes):
        if not isinstance(raw, dict):
            raise SymbolFormatError(f"{where}: node {i} must be a JSON object")
        op, name = raw.get("op"), raw.get("name")
        if not isinstance(op, str) or not isinstance(name, str):
            raise SymbolFormatError(f"{where}: node {i} needs string 'op' and 'name' fields")
        attrs = raw.get("attrs", raw.get("attr", raw.get("param", {}))) or {}
        if not isinstance(attrs, dict) or not all(isinstance(v, str) for v in attrs.values()):
            raise SymbolFormatError(f"{where}: node {i} {_show(name)}: 'attrs' must map names to strings")
        inputs = raw.get("inputs", [])
        if not isinstance(inputs, list):
            raise SymbolFormatError(f"{where}: node {i} {_show(name)}: 'inputs' must be a list")
        node = Node(i, op, name, dict(attrs), [])
        if op == "null" and inputs:
            raise SymbolFormatError(f"{where}: {node.label()} is a variable but has inputs")
        node.inputs = [
            _entry(e, f"{where}: {node.label()}: input {k}", len(raw_nodes), i) for k, e in enumerate(inputs)
        ]
        nodes.append(node)
    heads = [_entry(h, f"{where}: head {k}", len(nodes), None) for k, h in enumerate(raw_heads)]
    top_attrs = symbol.get("attrs", {})
    numpy_mode = False
    if isinstance(top_attrs, dict):
        flag = top_attrs.get("is_np_shape")
        numpy_mode = isinstance(flag, list) and len(flag) == 2 and str(flag[1]) not in ("0", "False")
    return Graph(nodes, heads, numpy_mode)


# ---------------------------------------------------------------------------
# attribute values ("(3, 3)", "True", "1e-05", "[None, 1]", "float32")


_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.IGNORECASE)


class Attrs:
    """Typed access to a node's string attributes; bad values are errors
    naming the node and the attribute."""

    def __init__(self, node: Node):
        self.node = node

    def _fail(self, key: str, value: str, expected: str) -> UnsupportedOpError:
        return UnsupportedOpError(f"{self.node.label()}: attribute {key}={_show(value)} is not {expected}")

    def has(self, key: str) -> bool:
        return key in self.node.attrs and self.node.attrs[key] not in ("None", "")

    def raw(self, key: str, default: str | None = None) -> str:
        value = self.node.attrs.get(key)
        if value is None:
            if default is None:
                raise UnsupportedOpError(f"{self.node.label()}: missing attribute {key!r}")
            return default
        return value

    def str(self, key: str, default: str) -> str:
        v = self.raw(key, default)
        return default if v == "None" else v

    def bool(self, key: str, default: bool) -> bool:
        v = self.raw(key, str(default))
        table = {"true": True, "1": True, "false": False, "0": False}
        if v.lower() not in table:
            raise self._fail(key, v, "a boolean")
        return table[v.lower()]

    def float(self, key: str, default: float | None = None) -> float:
        v = self.raw(key, None if default is None else repr(default))
        if not _NUMBER.match(v.strip()):
            raise self._fail(key, v, "a number")
        return float(v)

    def int(self, key: str, default: int | None = None) -> int:
        v = self.raw(key, None if default is None else str(default)).strip()
        if not re.fullmatch(r"[+-]?\d{1,18}", v):
            raise self._fail(key, v, "an integer")
        return int(v)

    def opt_ints(self, key: str, default: str | None = None) -> list[int | None] | None:
        """A tuple like "(1, 2)", "[None, 3]" or a single integer; None when
        the attribute is absent or "None"."""
        v = self.node.attrs.get(key, default)
        if v is None or v.strip() in ("None", ""):
            return None
        text = v.strip()
        if re.fullmatch(r"[+-]?\d{1,18}", text):
            return [int(text)]
        if len(text) < 2 or text[0] + text[-1] not in ("()", "[]"):
            raise self._fail(key, v, "a tuple of integers")
        items = [s.strip() for s in text[1:-1].split(",")]
        if items and items[-1] == "":
            items.pop()  # "(3,)"
        out: list[int | None] = []
        for s in items:
            if s == "None":
                out.append(None)
            elif re.fullmatch(r"[+-]?\d{1,18}L?", s):
                out.append(int(s.rstrip("L")))
            else:
                raise self._fail(key, v, "a tuple of integers")
        return out

    def ints(self, key: str, default: str | None = None) -> list[int]:
        values = self.opt_ints(key, default)
        if values is None:
            if default is None:
                raise UnsupportedOpError(f"{self.node.label()}: missing attribute {key!r}")
            values = []
        if any(v is None for v in values):
            raise self._fail(key, self.node.attrs.get(key, ""), "a tuple of integers")
        return values  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# lowering state


@functools.cache
def hy_op(name: str) -> type[Operation]:
    """The op class registered in the `hy` dialect under `name`."""
    from hybridize.ir.dialect import Hy

    for op in Hy.operations:
        if op.name == name:
            return op
    raise UnsupportedOpError(f"this build of hybridize has no {name} op")


class Lowering:
    """State of one graph being lowered: values of nodes, the builder."""

    def __init__(self, builder: Builder, numpy_mode: bool):
        self.builder = builder
        self.numpy_mode = numpy_mode

    def emit(self, op: Operation) -> SSAValue:
        self.builder.insert(op)
        return op.results[0]

    def op(self, name: str, *args, **kwargs) -> SSAValue:
        """Build and insert `hy.<name>`."""
        return self.emit(hy_op(name)(*args, **kwargs))

    def constant(self, array: np.ndarray) -> SSAValue:
        return self.emit(ConstantOp(np.ascontiguousarray(array)))

    def scalar(self, value: float, like: SSAValue) -> SSAValue:
        """A rank-0 constant of `like`'s element type."""
        return self.constant(np.asarray(value, dtype=numpy_dtype(like)))

    def reshape(self, x: SSAValue, shape: Sequence[int]) -> SSAValue:
        shape = tuple(int(d) for d in shape)
        if shape == shape_of(x):
            return x
        return self.op("hy.reshape", x, shape)

    def transpose(self, x: SSAValue, perm: Sequence[int]) -> SSAValue:
        if list(perm) == list(range(len(perm))):
            return x
        return self.op("hy.transpose", x, list(perm))


Converter = Callable[[Lowering, Node, list[SSAValue]], "SSAValue | list[SSAValue]"]


def _rank(x: SSAValue) -> int:
    return len(shape_of(x))


def _axis(node: Node, axis: int, rank: int) -> int:
    """A possibly negative axis, normalized and checked."""
    if not -rank <= axis < rank:
        raise UnsupportedOpError(f"{node.label()}: axis {axis} is out of range for rank {rank}")
    return axis % rank


def _fail(node: Node, message: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"{node.label()}: {message}")


# ---------------------------------------------------------------------------
# converters: elementwise


def _cast_to(lo: Lowering, x: SSAValue, dtype: np.dtype) -> SSAValue:
    if numpy_dtype(x) == dtype:
        return x
    return lo.op("hy.cast", x, tensor_type((), dtype).element_type)


def _common_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
    """MXNet's numpy-mode promotion: a float operand wins (f32 with an int
    stays f32), bool with int gives f32, ints widen."""
    if a == b:
        return a
    if (a.kind == "f") != (b.kind == "f"):
        return a if a.kind == "f" else b
    if "b" in (a.kind, b.kind):
        return np.dtype("float32")
    return np.promote_types(a, b)


def _binary(name: str, swap: bool = False) -> Converter:
    def convert(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
        a, b = xs
        dtype = _common_dtype(numpy_dtype(a), numpy_dtype(b))
        if name == "hy.div" and dtype.kind != "f":
            dtype = np.dtype("float32")  # true division
        a, b = _cast_to(lo, a, dtype), _cast_to(lo, b, dtype)
        return lo.op(name, *((b, a) if swap else (a, b)))

    return convert


def _scalar_binary(name: str, reverse: bool = False) -> Converter:
    """`x op scalar` (or `scalar op x`) with the scalar in attribute `scalar`,
    computed in x's dtype; numpy mode makes bool x (and int x under true
    division) float32 first."""

    def convert(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
        (x,) = xs
        kind = numpy_dtype(x).kind
        if lo.numpy_mode and (kind == "b" or (name == "hy.div" and kind != "f")):
            x = _cast_to(lo, x, np.dtype("float32"))
        s = lo.scalar(Attrs(node).float("scalar"), x)
        return lo.op(name, *((s, x) if reverse else (x, s)))

    return convert


def _unary(name: str) -> Converter:
    return lambda lo, node, xs: lo.op(name, xs[0])


def _identity(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    return xs[0]


def _square(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    return lo.op("hy.mul", xs[0], xs[0])


def _softsign(lo: Lowering, x: SSAValue) -> SSAValue:
    # x / (1 + |x|)
    return lo.op("hy.div", x, lo.op("hy.add", lo.op("hy.abs", x), lo.scalar(1.0, x)))


def _activation(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    (x,) = xs
    act = Attrs(node).str("act_type", "")
    table = {"relu": "hy.relu", "sigmoid": "hy.sigmoid", "tanh": "hy.tanh", "softrelu": "hy.softplus"}
    if act in table:
        return lo.op(table[act], x)
    if act == "softsign":
        return _softsign(lo, x)
    raise _fail(node, f"act_type {_show(act)} is not supported (relu, sigmoid, tanh, softrelu, softsign)")


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _leaky_relu(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    act = a.str("act_type", "leaky")
    x = xs[0]
    if act == "leaky":
        return lo.op("hy.leaky_relu", x, slope=a.float("slope", 0.25))
    if act == "elu":
        return lo.op("hy.elu", x, alpha=a.float("slope", 0.25))
    if act == "selu":
        return lo.op("hy.mul", lo.op("hy.elu", x, alpha=SELU_ALPHA), lo.scalar(SELU_SCALE, x))
    if act == "gelu":
        return lo.op("hy.gelu", x)
    if act == "prelu":
        # x > 0 ? x : gamma * x, gamma per channel (axis 1) or one slope
        gamma = xs[1]
        g = shape_of(gamma)
        if _rank(x) >= 2 and g != (1,):
            gamma = lo.reshape(gamma, [1, g[0]] + [1] * (_rank(x) - 2))
        neg = lo.op("hy.mul", gamma, lo.op("hy.minimum", x, lo.scalar(0.0, x)))
        return lo.op("hy.add", lo.op("hy.relu", x), neg)
    raise _fail(node, f"act_type {_show(act)} is not supported (leaky, elu, selu, gelu, prelu)")


def _clip(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    lo_, hi = a.float("a_min"), a.float("a_max")
    return lo.op("hy.clamp", xs[0], min=lo_, max=hi)


def _add_n(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    acc = xs[0]
    for x in xs[1:]:
        acc = lo.op("hy.add", acc, x)
    return acc


def _cast(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    (x,) = xs
    dtype = Attrs(node).str("dtype", "float32")
    try:
        target = np.dtype(dtype)
        tensor_type((), target)
    except (TypeError, ValueError):
        raise _fail(node, f"dtype {_show(dtype)} is not supported (float32, float64, int32, int64, bool)") from None
    return _cast_to(lo, x, target)


_COMPARE = {
    "equal": "hy.eq",
    "not_equal": "hy.ne",
    "greater": "hy.gt",
    "greater_equal": "hy.ge",
    "lesser": "hy.lt",
    "lesser_equal": "hy.le",
    "less": "hy.lt",
    "less_equal": "hy.le",
}


def _compare(kind: str, scalar: bool = False, as_input_dtype: bool = True) -> Converter:
    """Legacy comparisons return 0/1 in the input's dtype, numpy-mode ones bool."""

    def convert(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
        x = xs[0]
        if scalar:
            y = lo.scalar(Attrs(node).float("scalar"), x)
        else:
            y = xs[1]
            common = _common_dtype(numpy_dtype(x), numpy_dtype(y))
            x, y = _cast_to(lo, x, common), _cast_to(lo, y, common)
        r = lo.op(_COMPARE[kind], x, y)
        return _cast_to(lo, r, numpy_dtype(xs[0])) if as_input_dtype else r

    return convert


def _where(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    cond, x, y = xs
    if numpy_dtype(cond) != np.bool_:
        cond = lo.op("hy.ne", cond, lo.scalar(0, cond))
    return lo.op("hy.where", cond, x, y)


# ---------------------------------------------------------------------------
# converters: dense layers and contractions


def _fully_connected(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    # flatten=True (the default) makes x [N, prod(rest)]; else x @ w^T acts on the last axis.
    a = Attrs(node)
    no_bias = a.bool("no_bias", False)
    x, w = xs[0], xs[1]
    b = None if no_bias else (xs[2] if len(xs) > 2 else None)
    if not no_bias and b is None:
        raise _fail(node, "expects a bias input (no_bias is False)")
    num_hidden = a.int("num_hidden")
    if shape_of(w)[0] != num_hidden:
        raise _fail(node, f"weight {format_shape(shape_of(w))} does not have num_hidden={num_hidden} rows")
    shape = shape_of(x)
    if a.bool("flatten", True) and len(shape) != 2:
        x = lo.reshape(x, [shape[0], math.prod(shape[1:])])
    if b is not None and _rank(b) != 1:
        b = lo.reshape(b, [math.prod(shape_of(b))])
    return lo.op("hy.linear", x, w, b)


def _dot(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    # MXNet dot contracts the last axis of a with the FIRST axis of b (not numpy
    # matmul); transpose_a contracts a's first axis instead, transpose_b b's last.
    a = Attrs(node)
    x, y = xs
    sx, sy = shape_of(x), shape_of(y)
    if not sx or not sy:
        return lo.op("hy.mul", x, y)
    if a.bool("transpose_a", False):
        lead, k = sx[1:], sx[0]
        x2 = lo.transpose(lo.reshape(x, [k, math.prod(lead)]), [1, 0])
    else:
        lead, k = sx[:-1], sx[-1]
        x2 = lo.reshape(x, [math.prod(lead), k])
    if a.bool("transpose_b", False):
        trail, k2 = sy[:-1], sy[-1]
        y2 = lo.transpose(lo.reshape(y, [math.prod(trail), k2]), [1, 0])
    else:
        trail, k2 = sy[1:], sy[0]
        y2 = lo.reshape(y, [k2, math.prod(trail)])
    if k != k2:
        raise _fail(node, f"cannot contract {format_shape(sx)} with {format_shape(sy)}")
    out = [*lead, *trail] or [1]  # legacy arrays have at least one dim
    return lo.reshape(lo.op("hy.matmul", x2, y2), out)


def _tensordot1(lo: Lowering, node: Node, x: SSAValue, y: SSAValue) -> SSAValue:
    """sum over the last axis of x and the first of y."""
    xs, ys = shape_of(x), shape_of(y)
    if xs[-1] != ys[0]:
        raise _fail(node, f"cannot contract {format_shape(xs)} with {format_shape(ys)}")
    x2 = lo.reshape(x, [math.prod(xs[:-1]), xs[-1]])
    y2 = lo.reshape(y, [ys[0], math.prod(ys[1:])])
    return lo.reshape(lo.op("hy.matmul", x2, y2), [*xs[:-1], *ys[1:]])


def _np_dot(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    # numpy.dot: matmul when b is 1-D or 2-D; a scalar operand multiplies.
    x, y = xs
    if _rank(x) == 0 or _rank(y) == 0:
        return lo.op("hy.mul", x, y)
    if _rank(y) > 2:
        # sum over the last axis of a and the second-to-last of b
        perm = [_rank(y) - 2, *[d for d in range(_rank(y)) if d != _rank(y) - 2]]
        return _tensordot1(lo, node, x, lo.transpose(y, perm))
    return lo.op("hy.matmul", x, y)


def _batch_dot(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    x, y = xs
    if a.bool("transpose_a", False):
        x = lo.transpose(x, [*range(_rank(x) - 2), _rank(x) - 1, _rank(x) - 2])
    if a.bool("transpose_b", False):
        y = lo.transpose(y, [*range(_rank(y) - 2), _rank(y) - 1, _rank(y) - 2])
    return lo.op("hy.matmul", x, y)


def _matmul(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    return lo.op("hy.matmul", xs[0], xs[1])


# ---------------------------------------------------------------------------
# converters: convolution, pooling, normalization


def _pair(node: Node, values: list[int], what: str, minimum: int = 1) -> list[int]:
    if len(values) != 2:
        raise _fail(node, f"{what} {tuple(values)} is not 2-D; only 2-D (NCHW) windows are supported")
    if any(v < minimum for v in values):
        raise _fail(node, f"{what} {tuple(values)} must be at least {minimum}")
    return values


def _check_layout(node: Node, a: Attrs, spatial: int = 2) -> None:
    expected = {1: "NCW", 2: "NCHW", 3: "NCDHW"}[spatial]
    layout = a.str("layout", expected)
    if layout != expected:
        raise _fail(node, f"layout {_show(layout)} is not supported ({expected} only for {spatial}-D windows)")


def _window(node: Node, a: Attrs, spatial: int, name: str, default: int, minimum: int = 1) -> list[int]:
    values = a.ints(name, "()") or [default] * spatial
    if len(values) != spatial:
        raise _fail(node, f"{name} {tuple(values)} is not {spatial}-D like the kernel")
    if any(v < minimum for v in values):
        raise _fail(node, f"{name} {tuple(values)} must be at least {minimum}")
    return values


def _conv_args(lo: Lowering, node: Node, a: Attrs, x: SSAValue, w: SSAValue):
    """kernel, stride, pad, dilate as lists of the kernel's rank (1, 2 or 3), checked against x and w."""
    kernel = a.ints("kernel")
    spatial = len(kernel)
    if spatial not in (1, 2, 3):
        raise _fail(node, f"kernel {tuple(kernel)} is not 1-D, 2-D or 3-D")
    _check_layout(node, a, spatial)
    if _rank(x) != spatial + 2:
        raise _fail(node, f"input {format_shape(shape_of(x))} is not {spatial + 2}-D for a {spatial}-D kernel")
    ws = shape_of(w)
    if len(ws) != spatial + 2 or list(ws[2:]) != kernel:
        raise _fail(node, f"weight {format_shape(ws)} does not match kernel {tuple(kernel)}")
    return (kernel, _window(node, a, spatial, "stride", 1), _window(node, a, spatial, "pad", 0, 0),
            _window(node, a, spatial, "dilate", 1))  # fmt: skip


def _as_2d(lo: Lowering, x: SSAValue, w: SSAValue, build) -> SSAValue:
    """A 1-D convolution as the 2-D one over a height of 1: x [N, C, W] as [N, C, 1, W], w [O, C, K] as [O, C, 1, K]."""
    n, c, width = shape_of(x)
    o, i, k = shape_of(w)
    y = build(lo.reshape(x, [n, c, 1, width]), lo.reshape(w, [o, i, 1, k]))
    ys = shape_of(y)
    return lo.reshape(y, [ys[0], ys[1], ys[3]])


def _convolution(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    """Convolution: 2-D (`hy.conv2d`), 1-D (the 2-D op over a height of 1) and
    3-D (the depth taps stacked as channels of one 2-D convolution)."""
    a = Attrs(node)
    x, w = xs[0], xs[1]
    kernel, stride, pad, dilate = _conv_args(lo, node, a, x, w)
    groups = a.int("num_group", 1)
    b = None if a.bool("no_bias", False) else xs[2]
    if shape_of(w)[0] != a.int("num_filter", shape_of(w)[0]):
        raise _fail(node, f"weight {format_shape(shape_of(w))} does not match num_filter {a.int('num_filter')}")
    if b is not None and _rank(b) != 1:
        b = lo.reshape(b, [math.prod(shape_of(b))])
    if len(kernel) == 3:
        from hybridize.frontends.volumetric import conv3d_as_2d

        if DYNAMIC in shape_of(x)[1:]:
            raise _fail(node, "3-D convolution needs static channel and spatial sizes")
        return conv3d_as_2d(lo.emit, x, w, b, stride=stride, low=pad, high=pad, dilation=dilate, groups=groups)
    if len(kernel) == 1:
        return _as_2d(lo, x, w, lambda x4, w4: lo.op(
            "hy.conv2d", x4, w4, b, stride=[1, *stride], padding=[0, *pad], dilation=[1, *dilate], groups=groups))
    return lo.op("hy.conv2d", x, w, b, stride=stride, padding=pad, dilation=dilate, groups=groups)


def _deconvolution(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    """Deconvolution (Gluon's Conv2DTranspose, Conv1DTranspose): `hy.conv_transpose2d`,
    the weight [C, num_filter / num_group, KH, KW] as MXNet stores it; `adj` is
    the output padding. No bias unless `no_bias` is false (MXNet's default).
    1-D runs as 2-D over a height of 1."""
    a = Attrs(node)
    x, w = xs[0], xs[1]
    kernel, stride, pad, dilate = _conv_args(lo, node, a, x, w)
    spatial = len(kernel)
    if spatial == 3:
        raise _fail(node, "3-D deconvolution is not supported (1-D and 2-D)")
    adj = _window(node, a, spatial, "adj", 0, 0)
    if any(a.ints("target_shape", "()") or []):
        raise _fail(node, "target_shape is not supported; give pad and adj instead")
    groups = a.int("num_group", 1)
    b = None if a.bool("no_bias", True) or len(xs) < 3 else xs[2]
    ws = shape_of(w)
    if ws[1] * groups != a.int("num_filter", ws[1] * groups):
        raise _fail(node, f"weight {format_shape(ws)} does not match num_filter {a.int('num_filter')}")
    if b is not None and _rank(b) != 1:
        b = lo.reshape(b, [math.prod(shape_of(b))])
    if spatial == 1:
        return _as_2d(lo, x, w, lambda x4, w4: lo.op(
            "hy.conv_transpose2d", x4, w4, b, stride=[1, *stride], padding=[0, *pad], output_padding=[0, *adj],
            dilation=[1, *dilate], groups=groups))  # fmt: skip
    return lo.op(
        "hy.conv_transpose2d", x, w, b, stride=stride, padding=pad, output_padding=adj, dilation=dilate, groups=groups
    )


def _pool_out(size: int, kernel: int, stride: int, pad: int, full: bool) -> int:
    # MXNet: valid = floor, full = ceil, with no "last window starts inside" correction
    span = size + 2 * pad - kernel
    return (-(-span // stride) if full else span // stride) + 1


def _empty_window(size: int, kernel: int, stride: int, pad: int, out: int) -> bool:
    """Whether some window covers no data (only padding, or past it with `full`);
    windows move monotonically, so the first and the last tell."""
    return any(min(o * stride - pad + kernel, size) <= max(o * stride - pad, 0) for o in (0, out - 1))


def _pooling(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    (x,) = xs
    if _rank(x) == 3:
        # 1-D pooling over (N, C, W): the 2-D ops on (N, C, 1, W), a window of height 1
        layout = a.str("layout", "NCW")
        if layout != "NCW":
            raise _fail(node, f"layout {_show(layout)} is not supported (NCW only for 1-D pooling)")
        n, c, w = shape_of(x)
        y = _pooling_2d(lo, node, a, lo.reshape(x, [n, c, 1, w]), one_d=True)
        return lo.reshape(y, [n, c, shape_of(y)[3]])
    _check_layout(node, a)
    if _rank(x) != 4:
        raise _fail(node, f"input {format_shape(shape_of(x))} is not 3-D NCW or 4-D NCHW (1-D and 2-D pooling)")
    return _pooling_2d(lo, node, a, x, one_d=False)


def _window_attr(node: Node, a: Attrs, name: str, default: int, one_d: bool, minimum: int = 1) -> list[int]:
    """kernel, stride or pad as [h, w]; a 1-D window is [1 (or 0 for pad), w]."""
    values = a.ints(name, None if name == "kernel" else "()")
    if one_d:
        return _pair(node, [1 if name == "kernel" else default, values[0] if values else default], name, minimum)
    return _pair(node, values or [default, default], name, minimum)


def _pooling_2d(lo: Lowering, node: Node, a: Attrs, x: SSAValue, one_d: bool) -> SSAValue:
    pool_type = a.str("pool_type", "max")
    if pool_type not in ("max", "avg"):
        raise _fail(node, f"pool_type {_show(pool_type)} is not supported (max, avg)")
    h, w = shape_of(x)[2:]
    if a.bool("global_pool", False):
        # global pooling ignores kernel, stride and pad
        if pool_type == "avg":
            return lo.op("hy.reduce_mean", x, [2, 3], True)
        return lo.op("hy.reduce_max", x, [2, 3], True)
    kernel = _window_attr(node, a, "kernel", 1, one_d)
    stride = _window_attr(node, a, "stride", 1, one_d)
    pad = _window_attr(node, a, "pad", 0, one_d, 0)
    convention = a.str("pooling_convention", "valid")
    if convention not in ("valid", "full", "same"):
        raise _fail(node, f"pooling_convention {_show(convention)} is not supported (valid, full, same)")
    if any(k > s + 2 * p for k, s, p in zip(kernel, (h, w), pad)):
        raise _fail(node, f"kernel {tuple(kernel)} is larger than the padded input {format_shape((h, w))}")
    if convention == "same":
        return _same_pooling(lo, node, x, pool_type, kernel, stride, pad, one_d)
    full = convention == "full"
    out = [_pool_out(s, k, st, p, full) for s, k, st, p in zip((h, w), kernel, stride, pad)]
    if pool_type == "max":
        y = lo.op("hy.max_pool2d", x, kernel, stride, pad, out)
        if any(_empty_window(*args) for args in zip((h, w), kernel, stride, pad, out)):
            # MXNet's max starts from the lowest finite value: a window with no data gives it, not -inf
            y = lo.op("hy.maximum", y, lo.scalar(np.finfo(numpy_dtype(x)).min, x))
        return y
    return lo.op(
        "hy.avg_pool2d", x, kernel, stride, pad, out, count_include_pad=a.bool("count_include_pad", True)
    )


def _same_pooling(lo: Lowering, node: Node, x: SSAValue, pool_type: str, kernel, stride, pad, one_d: bool):
    """MXNet's `pooling_convention='same'` (1-D max pooling only, no `pad`):
    out = ceil(W / stride) windows starting at o * stride, each clipped at the
    end of the data, i.e. valid pooling after padding the end with -inf."""
    if not one_d or pool_type != "max":
        raise _fail(node, "pooling_convention 'same' is 1-D max pooling only (as in MXNet)")
    if any(pad):
        raise _fail(node, "pooling_convention 'same' takes no pad (as in MXNet)")
    size, k, st = shape_of(x)[3], kernel[1], stride[1]
    out = -(-size // st)
    extra = max((out - 1) * st + k - size, 0)
    if extra:
        x = lo.op("hy.pad", x, [0, 0, 0, 0], [0, 0, 0, extra], value=float("-inf"))
    return lo.op("hy.max_pool2d", x, kernel, stride, [0, 0], [1, out])


# ---------------------------------------------------------------------------
# converters: recurrent layers (the fused RNN op of gluon.rnn.LSTM/GRU/RNN)

_RNN_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def _rnn(lo: Lowering, node: Node, xs: list[SSAValue]) -> list[SSAValue]:
    """`RNN` (mode lstm, gru, rnn_tanh, rnn_relu) on time-major data (T, N, C):
    the flat parameter vector is cut into PyTorch's per-layer weights and the
    layers built as the torch frontend builds them (`hy.lstm`, ... per layer
    and direction). MXNet's order: every weight (per layer, per direction:
    i2h, h2h[, h2r]), then every bias (i2h, h2h); gates as in PyTorch."""
    from hybridize.frontends.torch.rnn import FinalStateUnavailable, build_recurrent

    a = Attrs(node)
    mode = a.str("mode", "")
    if mode not in _RNN_GATES:
        raise _fail(node, f"mode {_show(mode)} is not supported (lstm, gru, rnn_tanh, rnn_relu)")
    if a.bool("use_sequence_length", False):
        raise _fail(node, "use_sequence_length=True (variable-length sequences) is not supported")
    for clip in ("lstm_state_clip_min", "lstm_state_clip_max"):
        if a.str(clip, "None") != "None":
            raise _fail(node, f"{clip} (LSTM state clipping) is not supported")
    hidden, layers = a.int("state_size"), a.int("num_layers", 1)
    dirs = 2 if a.bool("bidirectional", False) else 1
    proj = a.str("projection_size", "None")
    proj = None if proj == "None" else int(proj)
    if proj is not None and mode != "lstm":
        raise _fail(node, "projection_size is an LSTM option")
    cell = mode == "lstm"
    if len(xs) != (4 if cell else 3):
        raise _fail(node, f"expects data, parameters and {'two states' if cell else 'one state'}, got {len(xs)} inputs")
    x, params = xs[0], xs[1]
    if _rank(x) != 3:
        raise _fail(node, f"data {format_shape(shape_of(x))} is not 3-D (T, N, C)")
    steps, batch, width = shape_of(x)
    out = proj or hidden
    gates = _RNN_GATES[mode] * hidden
    pieces = _rnn_param_pieces(node, lo, params, layers, dirs, width, gates, hidden, out, proj)
    h0 = _rnn_state(lo, node, xs[2], [layers * dirs, batch, out], "state")
    c0 = _rnn_state(lo, node, xs[3], [layers * dirs, batch, hidden], "state_cell") if cell else None
    y, hs, cs = build_recurrent(
        lo.emit, mode, x, h0, c0, pieces, has_biases=True, num_layers=layers, bidirectional=dirs == 2
    )
    if not a.bool("state_outputs", False):
        return [y]
    finals = [hs] + ([cs] if cell else [])
    if any(isinstance(f, FinalStateUnavailable) for fs in finals for f in fs):
        raise _fail(node, "state_outputs over a dynamic number of steps are not supported")
    return [y] + [f[0] if len(f) == 1 else lo.op("hy.concat", f, axis=0) for f in finals]


def _rnn_param_pieces(node, lo, params, layers, dirs, width, gates, hidden, out, proj) -> list[SSAValue]:
    """The flat parameter vector as PyTorch's list (per layer and direction
    w_ih, w_hh, b_ih, b_hh[, w_hr]). Pieces that are whole inputs of the
    `_rnn_param_concat` (Gluon's) are taken from it directly, so constant
    weights stay constants."""
    shapes: list[tuple[str, tuple[int, int], list[int]]] = []
    for layer in range(layers):
        for d in range(dirs):
            inputs = width if layer == 0 else dirs * out
            shapes.append(("w_ih", (layer, d), [gates, inputs]))
            shapes.append(("w_hh", (layer, d), [gates, out]))
            if proj is not None:
                shapes.append(("w_hr", (layer, d), [proj, hidden]))
    for layer in range(layers):
        for d in range(dirs):
            shapes.append(("b_ih", (layer, d), [gates]))
            shapes.append(("b_hh", (layer, d), [gates]))
    total = sum(math.prod(shape) for _, _, shape in shapes)
    if _rank(params) != 1 or shape_of(params)[0] != total:
        raise _fail(node, f"parameters {format_shape(shape_of(params))} do not hold the {total} values of the layers")
    parts = {}
    owner = params.owner
    concat = list(owner.operands) if getattr(owner, "name", "") == "hy.concat" else [params]
    starts, offset = {}, 0
    for v in concat:
        starts[offset] = v
        offset += shape_of(v)[0]
    offset = 0
    for kind, key, shape in shapes:
        n = math.prod(shape)
        whole = starts.get(offset)
        if whole is not None and shape_of(whole)[0] == n:
            piece = whole
        else:
            piece = lo.op("hy.slice", params, [offset], [1], [n])
        parts[(kind, key)] = lo.reshape(piece, shape)
        offset += n
    order = ["w_ih", "w_hh", "b_ih", "b_hh"] + (["w_hr"] if proj is not None else [])
    return [parts[(kind, (layer, d))] for layer in range(layers) for d in range(dirs) for kind in order]


def _rnn_state(lo: Lowering, node: Node, state: SSAValue, shape: list[int], what: str) -> SSAValue:
    """An initial state; Gluon's `begin_state` inside a symbol graph is `_zeros`
    of shape (L*D, 0, H), the 0 left for MXNet to infer: zeros of the right shape."""
    got = shape_of(state)
    if list(got) == shape:
        return state
    if len(got) == 3 and 0 in got and math.prod(got) == 0:
        zero = lo.constant(np.zeros((1, 1, shape[2]), numpy_dtype(state)))
        return lo.op("hy.broadcast", zero, shape)
    raise _fail(node, f"{what} {format_shape(got)} must be {format_shape(shape)}")


def _move_axis_to(lo: Lowering, x: SSAValue, axis: int, to: int) -> tuple[SSAValue, list[int]]:
    """x with `axis` moved to position `to`, and the permutation that undoes it."""
    perm = [d for d in range(_rank(x)) if d != axis]
    perm.insert(to, axis)
    inverse = [perm.index(d) for d in range(len(perm))]
    return lo.transpose(x, perm), inverse


def _batch_norm(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    # Inference: running statistics always. fix_gamma=True (MXNet's default) means gamma = 1.
    a = Attrs(node)
    x, gamma, beta, mean, var = xs
    eps = a.float("eps", 1e-3)
    fix_gamma = a.bool("fix_gamma", True)
    axis = _axis(node, a.int("axis", 1), _rank(x))
    if _rank(x) < 2:
        raise _fail(node, f"input {format_shape(shape_of(x))} needs at least 2 dims")
    x, undo = _move_axis_to(lo, x, axis, 1)
    y = lo.op("hy.batch_norm", x, mean, var, None if fix_gamma else gamma, beta, eps=eps)
    return lo.transpose(y, undo)


def _layer_norm(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    # MXNet normalizes over ONE axis (default -1); hy.layer_norm over [axis, rank).
    a = Attrs(node)
    x, gamma, beta = xs
    rank = _rank(x)
    axis = _axis(node, a.int("axis", -1), rank)
    x, undo = _move_axis_to(lo, x, axis, rank - 1)
    y = lo.op("hy.layer_norm", x, gamma, beta, axis=rank - 1, eps=a.float("eps", 1e-5))
    return lo.transpose(y, undo)


def _instance_norm(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    # each (sample, channel) over its spatial positions: group norm with a group per channel
    x, gamma, beta = xs
    if _rank(x) < 3:
        raise _fail(node, f"input {format_shape(shape_of(x))} needs [N, C, spatial...]")
    c = shape_of(x)[1]
    return lo.op("hy.group_norm", x, lo.reshape(gamma, [c]), lo.reshape(beta, [c]), groups=c,
                 eps=Attrs(node).float("eps", 1e-3))  # fmt: skip


def _group_norm(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    """GroupNorm; MXNet 1.x's gamma and beta have one value per group
    (shape [num_groups]), spread here to the group's channels."""
    a = Attrs(node)
    x, gamma, beta = xs
    groups = a.int("num_groups", 1)
    if a.bool("output_mean_var", False):
        raise _fail(node, "output_mean_var=True is not supported")
    if _rank(x) < 2 or shape_of(x)[1] == DYNAMIC or groups < 1 or shape_of(x)[1] % groups:
        raise _fail(node, f"input {format_shape(shape_of(x))} has no channel dim 1 divisible by {groups} groups")
    c = shape_of(x)[1]

    def per_channel(p: SSAValue) -> SSAValue:
        size = math.prod(shape_of(p))
        if size == c:
            return lo.reshape(p, [c])
        if size != groups:
            raise _fail(node, f"gamma and beta {format_shape(shape_of(p))} are neither [{groups}] (groups) nor [{c}]")
        spread = lo.constant(np.repeat(np.arange(groups, dtype=np.int64), c // groups))
        return lo.op("hy.take", lo.reshape(p, [groups]), spread, 0)

    return lo.op("hy.group_norm", x, per_channel(gamma), per_channel(beta), groups=groups, eps=a.float("eps", 1e-5))


def _softmax_like(name: str) -> Converter:
    def convert(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
        a = Attrs(node)
        x = xs[0]
        if a.bool("use_length", False):
            raise _fail(node, "use_length=True is not supported")
        t = a.float("temperature", 1.0) if a.has("temperature") else 1.0
        if t != 1.0:
            x = lo.op("hy.div", x, lo.scalar(t, x))
        return lo.op(name, x, _axis(node, a.int("axis", -1), _rank(x)))

    return convert


def _softmax_output(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    # Inference forward of the loss layer: a softmax (the label is not read).
    a = Attrs(node)
    x = xs[0]
    shape = shape_of(x)
    if a.bool("preserve_shape", False):
        return lo.op("hy.softmax", x, _rank(x) - 1)
    if a.bool("multi_output", False):
        return lo.op("hy.softmax", x, 1)
    flat = lo.reshape(x, [shape[0], math.prod(shape[1:])])
    return lo.reshape(lo.op("hy.softmax", flat, 1), shape)


def _softmax_activation(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    x = xs[0]
    if Attrs(node).str("mode", "instance") == "channel":
        return lo.op("hy.softmax", x, 1)
    shape = shape_of(x)
    flat = lo.reshape(x, [shape[0], math.prod(shape[1:])])
    return lo.reshape(lo.op("hy.softmax", flat, 1), shape)


def _dropout(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    if Attrs(node).str("mode", "training") == "always":
        raise _fail(node, "mode='always' drops at inference too; hybridize compiles inference graphs")
    return xs[0]


def _embedding(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    # MXNet clips indices into [0, input_dim) and truncates float indices.
    idx, weight = xs
    n = shape_of(weight)[0]
    if numpy_dtype(idx).kind == "f":
        idx = lo.op("hy.clamp", idx, min=0.0, max=float(n - 1))
        idx = lo.op("hy.cast", idx, tensor_type((), "int64").element_type)
    else:
        idx = lo.op("hy.clamp", idx, min=0, max=n - 1)
    return lo.op("hy.take", weight, idx, axis=0)


def _take(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    x, idx = xs
    axis = _axis(node, a.int("axis", 0), _rank(x))
    mode = a.str("mode", "clip")
    n = shape_of(x)[axis]
    if mode == "wrap":
        raise _fail(node, "mode='wrap' is not supported (clip, raise)")
    if numpy_dtype(idx).kind == "f":
        idx = lo.op("hy.clamp", idx, min=0.0, max=float(n - 1)) if mode == "clip" else idx
        idx = lo.op("hy.cast", idx, tensor_type((), "int64").element_type)
    elif mode == "clip":
        idx = lo.op("hy.clamp", idx, min=0, max=n - 1)
    return lo.op("hy.take", x, idx, axis=axis)


# ---------------------------------------------------------------------------
# converters: shapes



def _split_dim(d0: int, d1: int, d2: int, bad) -> list[int]:
    """A reshape code that splits dim d0 into (d1, d2); one may be -1."""
    if d1 == -1 and d2 == -1:
        raise bad("split dims cannot both be -1")
    if d1 == -1:
        d1 = d0 // d2 if d2 else -1
    if d2 == -1:
        d2 = d0 // d1 if d1 else -1
    if d1 * d2 != d0:
        raise bad(f"split dims {d1}, {d2} do not divide {d0}")
    return [d1, d2]


def _finish_reshape(out: list[int], infer: int, shape, reverse: bool, bad) -> list[int]:
    """Fill the inferred (-1) dim, undo `reverse`, check the element count."""
    if infer >= 0:
        known = math.prod(out)
        if known == 0 or math.prod(shape) % known:
            raise bad("the -1 dimension cannot be inferred")
        out[infer] = math.prod(shape) // known
    if reverse:
        out.reverse()
    if math.prod(out) != math.prod(shape):
        raise bad(f"{math.prod(out)} elements instead of {math.prod(shape)}")
    return out

def legacy_reshape(node: Node, shape: Sequence[int], codes: Sequence[int], reverse: bool = False) -> list[int]:
    """MXNet's `Reshape` target shape: 0 copies a dim, -1 infers one, -2 copies
    the rest, -3 merges two dims, -4 splits one into the next two values (one
    may be -1). `reverse` matches the codes from the right."""
    src = list(reversed(shape)) if reverse else list(shape)
    codes = list(reversed(codes)) if reverse else list(codes)
    out: list[int] = []
    i = j = 0
    infer = -1

    def bad(msg: str) -> UnsupportedOpError:
        return _fail(node, f"shape {tuple(codes)} cannot reshape {format_shape(shape)}: {msg}")

    while i < len(codes):
        c = codes[i]
        if c == 0:
            if j >= len(src):
                raise bad("0 copies a dim that does not exist")
            out.append(src[j])
            j += 1
        elif c == -1:
            if infer >= 0:
                raise bad("more than one -1")
            infer = len(out)
            out.append(1)
            j += 1
        elif c == -2:
            out.extend(src[j:])
            j = len(src)
        elif c == -3:
            if j + 1 >= len(src):
                raise bad("-3 needs two dims")
            out.append(src[j] * src[j + 1])
            j += 2
        elif c == -4:
            if i + 2 >= len(codes) or j >= len(src):
                raise bad("-4 needs two values and a dim to split")
            d0, d1, d2 = src[j], codes[i + 1], codes[i + 2]
            j += 1
            i += 2
            out += _split_dim(d0, d1, d2, bad)
        elif c > 0:
            out.append(c)
            j += 1
        else:
            raise bad(f"unknown code {c}")
        i += 1
    return _finish_reshape(out, infer, shape, reverse, bad)


def npx_reshape(node: Node, shape: Sequence[int], codes: Sequence[int], reverse: bool = False) -> list[int]:
    """`npx.reshape` target shape: -1 infers, -2 copies a dim, -3 drops a dim
    of size 1, -4 copies the rest, -5 merges two dims, -6 splits one into the
    next two values (one may be -1)."""
    src = list(reversed(shape)) if reverse else list(shape)
    codes = list(reversed(codes)) if reverse else list(codes)
    out: list[int] = []
    i = j = 0
    infer = -1

    def bad(msg: str) -> UnsupportedOpError:
        return _fail(node, f"newshape {tuple(codes)} cannot reshape {format_shape(shape)}: {msg}")

    def need(k: int) -> None:
        if j + k > len(src):
            raise bad("not enough input dims")

    while i < len(codes):
        c = codes[i]
        if c == -1:
            if infer >= 0:
                raise bad("more than one dim to infer")
            infer = len(out)
            out.append(1)
            j += 1
        elif c == -2:
            need(1)
            out.append(src[j])
            j += 1
        elif c == -3:
            need(1)
            if src[j] != 1:
                raise bad("-3 skips only dims of size 1")
            j += 1
        elif c == -4:
            out.extend(src[j:])
            j = len(src)
        elif c == -5:
            need(2)
            out.append(src[j] * src[j + 1])
            j += 2
        elif c == -6:
            need(1)
            if i + 2 >= len(codes):
                raise bad("-6 needs two values")
            d0, d1, d2 = src[j], codes[i + 1], codes[i + 2]
            j += 1
            i += 2
            out += _split_dim(d0, d1, d2, bad)
        elif c >= 0:
            out.append(c)
            j += 1
        else:
            raise bad(f"unknown code {c}")
        i += 1
    return _finish_reshape(out, infer, shape, reverse, bad)


def numpy_reshape(node: Node, shape: Sequence[int], codes: Sequence[int]) -> list[int]:
    """`np.reshape`: positive sizes and at most one -1."""
    if any(c < -1 for c in codes) or list(codes).count(-1) > 1:
        raise _fail(node, f"newshape {tuple(codes)} is not a numpy shape (sizes and at most one -1)")
    out = list(codes)
    if -1 in out:
        known = math.prod(c for c in out if c != -1)
        if known == 0 or math.prod(shape) % known:
            raise _fail(node, f"newshape {tuple(codes)} cannot reshape {format_shape(shape)}")
        out[out.index(-1)] = math.prod(shape) // known
    if math.prod(out) != math.prod(shape):
        raise _fail(node, f"newshape {tuple(codes)} cannot reshape {format_shape(shape)}")
    return out


def _reshape(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    (x,) = xs
    if a.has("target_shape") and not a.has("shape"):
        raise _fail(node, "the deprecated target_shape attribute is not supported (use shape)")
    out = legacy_reshape(node, shape_of(x), a.ints("shape"), a.bool("reverse", False))
    return lo.reshape(x, out)


def _np_reshape(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    if a.str("order", "C") != "C":
        raise _fail(node, "only order='C' is supported")
    return lo.reshape(xs[0], numpy_reshape(node, shape_of(xs[0]), a.ints("newshape")))


def _npx_reshape(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    if a.str("order", "C") != "C":
        raise _fail(node, "only order='C' is supported")
    out = npx_reshape(node, shape_of(xs[0]), a.ints("newshape"), a.bool("reverse", False))
    return lo.reshape(xs[0], out)


def _flatten(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    shape = shape_of(xs[0])
    if not shape:
        raise _fail(node, "cannot flatten a scalar")
    return lo.reshape(xs[0], [shape[0], math.prod(shape[1:])])


def _expand_dims(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    shape = list(shape_of(xs[0]))
    axis = _axis(node, Attrs(node).int("axis"), len(shape) + 1)
    shape.insert(axis, 1)
    return lo.reshape(xs[0], shape)


def _squeeze(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    shape = shape_of(xs[0])
    axes = Attrs(node).opt_ints("axis")
    if axes is None:
        keep = [d for d in shape if d != 1]
    else:
        drop = {_axis(node, int(ax), len(shape)) for ax in axes}
        if any(shape[d] != 1 for d in drop):
            raise _fail(node, f"cannot squeeze axes of size other than 1 in {format_shape(shape)}")
        keep = [n for d, n in enumerate(shape) if d not in drop]
    if not keep and not lo.numpy_mode:
        keep = [1]  # legacy arrays have at least one dim
    return lo.reshape(xs[0], keep)


def _transpose(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    (x,) = xs
    rank = _rank(x)
    axes = Attrs(node).opt_ints("axes")
    if not axes:
        perm = list(reversed(range(rank)))
    else:
        perm = [_axis(node, int(ax), rank) for ax in axes]
        if sorted(perm) != list(range(rank)):
            raise _fail(node, f"axes {tuple(axes)} are not a permutation of {rank} dims")
    return lo.transpose(x, perm)


def _swapaxes(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    (x,) = xs
    rank = _rank(x)
    d1 = _axis(node, a.int("dim1", 0) if "dim1" in node.attrs else a.int("axis1", 0), rank)
    d2 = _axis(node, a.int("dim2", 0) if "dim2" in node.attrs else a.int("axis2", 0), rank)
    perm = list(range(rank))
    perm[d1], perm[d2] = perm[d2], perm[d1]
    return lo.transpose(x, perm)


def _concat(key: str, default: int) -> Converter:
    def convert(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
        a = Attrs(node)
        if key == "axis" and "axis" in node.attrs and not a.has("axis"):
            xs = [lo.reshape(x, [math.prod(shape_of(x))]) for x in xs]  # axis=None: flattened
            axis = 0
        else:
            axis = _axis(node, a.int(key, default), _rank(xs[0]))
        if len(xs) == 1:
            return xs[0]
        return lo.op("hy.concat", xs, axis=axis)

    return convert


def _stack(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    shape = list(shape_of(xs[0]))
    axis = _axis(node, Attrs(node).int("axis", 0), len(shape) + 1)
    shape.insert(axis, 1)
    parts = [lo.reshape(x, shape) for x in xs]
    return parts[0] if len(parts) == 1 else lo.op("hy.concat", parts, axis=axis)


def _slice_op(lo: Lowering, node: Node, x: SSAValue, begin, end, step) -> SSAValue:
    """x[begin:end:step] per axis (None = default), Python slice rules."""
    shape = shape_of(x)
    if len(begin) > len(shape) or len(end) != len(begin) or (step and len(step) != len(begin)):
        raise _fail(node, f"begin/end/step do not fit a {len(shape)}-D input")
    starts, stops, steps = [], [], []
    for d, n in enumerate(shape):
        b = begin[d] if d < len(begin) else None
        e = end[d] if d < len(end) else None
        s = step[d] if step and d < len(step) and step[d] is not None else 1
        if s == 0:
            raise _fail(node, "slice step cannot be 0")
        if s < 0:
            raise _fail(node, "negative slice steps are not supported (hy has no reversing op)")
        start, stop, s = slice(b, e, s).indices(n)
        starts.append(start)
        stops.append(stop)
        steps.append(s)
    sizes = [len(range(b, e, s)) for b, e, s in zip(starts, stops, steps)]
    if sizes == list(shape) and all(s == 1 for s in steps):
        return x
    return lo.op("hy.slice", x, starts, steps, sizes)


def _slice(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    begin, end = a.opt_ints("begin"), a.opt_ints("end")
    if begin is None or end is None:
        raise _fail(node, "needs begin and end")
    return _slice_op(lo, node, xs[0], begin, end, a.opt_ints("step") or [])


def _slice_axis(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    (x,) = xs
    rank = _rank(x)
    axis = _axis(node, a.int("axis"), rank)
    begin: list[int | None] = [None] * rank
    end: list[int | None] = [None] * rank
    begin[axis] = a.int("begin")
    end[axis] = a.int("end") if a.has("end") else None
    return _slice_op(lo, node, x, begin, end, [])


def _split(lo: Lowering, node: Node, xs: list[SSAValue]) -> list[SSAValue]:
    # SliceChannel / split: num_outputs equal parts along axis, optionally squeezed.
    a = Attrs(node)
    (x,) = xs
    shape = shape_of(x)
    axis = _axis(node, a.int("axis", 1), len(shape))
    k = a.int("num_outputs")
    if k < 1 or shape[axis] % k:
        raise _fail(node, f"cannot split dim {shape[axis]} into {k} equal parts")
    size = shape[axis] // k
    squeeze = a.bool("squeeze_axis", False)
    outs = []
    for i in range(k):
        begin: list[int | None] = [None] * len(shape)
        end: list[int | None] = [None] * len(shape)
        begin[axis], end[axis] = i * size, (i + 1) * size
        part = _slice_op(lo, node, x, begin, end, [])
        if squeeze and size == 1:
            part = lo.reshape(part, [n for d, n in enumerate(shape) if d != axis])
        outs.append(part)
    return outs


def _broadcast_to(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    (x,) = xs
    shape = shape_of(x)
    target = Attrs(node).ints("shape")
    # legacy: 0 keeps the input's dim
    pad = len(target) - len(shape)
    out = [shape[d - pad] if t == 0 and d >= pad else t for d, t in enumerate(target)]
    return lo.op("hy.broadcast", x, out)


def _broadcast_like(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    if Attrs(node).has("lhs_axes") or Attrs(node).has("rhs_axes"):
        raise _fail(node, "lhs_axes/rhs_axes are not supported")
    return lo.op("hy.broadcast", xs[0], list(shape_of(xs[1])))


def _fill(value: float | None) -> Converter:
    """_zeros/_ones/_full (shape and dtype attributes) and *_like ops."""

    def convert(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
        a = Attrs(node)
        v = a.float("value") if value is None else value
        if xs:
            shape, dtype = shape_of(xs[0]), numpy_dtype(xs[0])
        else:
            shape = a.ints("shape")
            if any(d < 0 for d in shape) or math.prod(shape) > MAX_ELEMENTS >> 4:
                raise _fail(node, f"shape {tuple(shape)} is not a valid constant shape")
            dtype = np.dtype(a.str("dtype", "float32"))
        return lo.constant(np.full(shape, v, dtype=dtype))

    return convert


def _pad(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
    a = Attrs(node)
    (x,) = xs
    mode = a.str("mode", "constant")
    if mode not in ("constant", "edge", "reflect"):
        raise _fail(node, f"mode {_show(mode)} is not supported (constant, edge, reflect)")
    width = a.ints("pad_width")
    if len(width) != 2 * _rank(x):
        raise _fail(node, f"pad_width {tuple(width)} needs 2 values per dim")
    before, after = width[0::2], width[1::2]
    if mode == "constant":
        return lo.op("hy.pad", x, before, after, value=a.float("constant_value", 0.0))
    # edge / reflect: per padded axis, a take of NumPy's padded index vector (reflect: 3 2 | 1 2 3 4 | 3 2)
    for axis, (lo_pad, hi_pad) in enumerate(zip(before, after)):
        if not (lo_pad or hi_pad):
            continue
        size = shape_of(x)[axis]
        if size == DYNAMIC:
            raise _fail(node, f"mode {_show(mode)} cannot pad the dynamic dim {axis}")
        if min(lo_pad, hi_pad) < 0 or (mode == "reflect" and max(lo_pad, hi_pad) >= size):
            raise _fail(node, f"pad_width {tuple(width)} does not fit dim {axis} of size {size} in mode {_show(mode)}")
        index = np.pad(np.arange(size, dtype=np.int64), (lo_pad, hi_pad), mode=mode)
        x = lo.op("hy.take", x, lo.constant(index), axis)
    return x


# ---------------------------------------------------------------------------
# converters: reductions


def _reduce(name: str, numpy_style: bool) -> Converter:
    """Legacy: axis () or absent = all axes, `exclude` inverts, a full
    reduction without keepdims gives shape (1,). Numpy mode: axis None = all,
    () = none, a full reduction gives a scalar."""

    def convert(lo: Lowering, node: Node, xs: list[SSAValue]) -> SSAValue:
        a = Attrs(node)
        (x,) = xs
        rank = _rank(x)
        raw = a.opt_ints("axis")
        if raw is None:
            axes = list(range(rank))
        elif not raw:
            axes = [] if numpy_style else list(range(rank))
        else:
            axes = sorted({_axis(node, int(ax), rank) for ax in raw})
        if not numpy_style and a.bool("exclude", False):
            axes = [d for d in range(rank) if d not in axes]
        keep = a.bool("keepdims", False)
        if not axes:
            return x
        y = lo.op(name, x, axes, keep)
        if not numpy_style and not keep and len(axes) == rank:
            y = lo.reshape(y, [1])
        return y

    return convert


# ---------------------------------------------------------------------------
# the table


def _numpy_and_legacy() -> dict[str, Converter]:
    t: dict[str, Converter] = {}
    binary = {"add": "hy.add", "sub": "hy.sub", "mul": "hy.mul", "div": "hy.div"}
    for mx_name, hy_name in binary.items():
        t[f"elemwise_{mx_name}"] = _binary(hy_name)
        t[f"broadcast_{mx_name}"] = _binary(hy_name)
    t["broadcast_plus"] = _binary("hy.add")
    t["broadcast_minus"] = _binary("hy.sub")
    t["_plus"] = t["_add"] = _binary("hy.add")
    t["_minus"] = t["_sub"] = _binary("hy.sub")
    t["_mul"] = _binary("hy.mul")
    t["_div"] = _binary("hy.div")
    for name in ("_maximum", "broadcast_maximum", "_npi_maximum"):
        t[name] = _binary("hy.maximum")
    for name in ("_minimum", "broadcast_minimum", "_npi_minimum"):
        t[name] = _binary("hy.minimum")
    for name in ("_power", "broadcast_power", "_npi_power"):
        t[name] = _binary("hy.pow")
    t.update(
        {
            "_npi_add": _binary("hy.add"),
            "_npi_subtract": _binary("hy.sub"),
            "_npi_multiply": _binary("hy.mul"),
            "_npi_true_divide": _binary("hy.div"),
        }
    )
    scalar = {
        "_plus_scalar": ("hy.add", False),
        "_minus_scalar": ("hy.sub", False),
        "_rminus_scalar": ("hy.sub", True),
        "_mul_scalar": ("hy.mul", False),
        "_div_scalar": ("hy.div", False),
        "_rdiv_scalar": ("hy.div", True),
        "_power_scalar": ("hy.pow", False),
        "_rpower_scalar": ("hy.pow", True),
        "_maximum_scalar": ("hy.maximum", False),
        "_minimum_scalar": ("hy.minimum", False),
        "_npi_add_scalar": ("hy.add", False),
        "_npi_subtract_scalar": ("hy.sub", False),
        "_npi_rsubtract_scalar": ("hy.sub", True),
        "_npi_multiply_scalar": ("hy.mul", False),
        "_npi_true_divide_scalar": ("hy.div", False),
        "_npi_rtrue_divide_scalar": ("hy.div", True),
        "_npi_power_scalar": ("hy.pow", False),
        "_npi_rpower_scalar": ("hy.pow", True),
        "_npi_maximum_scalar": ("hy.maximum", False),
        "_npi_minimum_scalar": ("hy.minimum", False),
    }
    for mx_name, (hy_name, rev) in scalar.items():
        t[mx_name] = _scalar_binary(hy_name, rev)
    unary = {
        "relu": "hy.relu",
        "sigmoid": "hy.sigmoid",
        "tanh": "hy.tanh",
        "exp": "hy.exp",
        "log": "hy.log",
        "sqrt": "hy.sqrt",
        "rsqrt": "hy.rsqrt",
        "abs": "hy.abs",
        "negative": "hy.neg",
        "reciprocal": "hy.reciprocal",
        "erf": "hy.erf",
        "_npx_relu": "hy.relu",
        "_npx_sigmoid": "hy.sigmoid",
        "_npi_tanh": "hy.tanh",
        "_npi_exp": "hy.exp",
        "_npi_log": "hy.log",
        "_npi_sqrt": "hy.sqrt",
        "_npi_absolute": "hy.abs",
        "_npi_abs": "hy.abs",
        "_npi_negative": "hy.neg",
        "_npi_reciprocal": "hy.reciprocal",
        "_npx_erf": "hy.erf",
        "log1p": "hy.log1p",
        "expm1": "hy.expm1",
        "sin": "hy.sin",
        "cos": "hy.cos",
        "floor": "hy.floor",
        "_npi_log1p": "hy.log1p",
        "_npi_expm1": "hy.expm1",
        "_npi_sin": "hy.sin",
        "_npi_cos": "hy.cos",
        "_npi_floor": "hy.floor",
        "_npi_logical_not": "hy.not",
    }
    for mx_name, hy_name in unary.items():
        t[mx_name] = _unary(hy_name)
    t["square"] = t["_npi_square"] = _square
    t["softsign"] = lambda lo, node, xs: _softsign(lo, xs[0])
    for kind in ("equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal"):
        t[f"broadcast_{kind}"] = _compare(kind)
        t[f"_{kind}"] = _compare(kind)
        t[f"_{kind}_scalar"] = _compare(kind, scalar=True)
    for kind in ("equal", "not_equal", "greater", "greater_equal", "less", "less_equal"):
        t[f"_npi_{kind}"] = _compare(kind, as_input_dtype=False)
        t[f"_npi_{kind}_scalar"] = _compare(kind, scalar=True, as_input_dtype=False)
    t["where"] = t["_npi_where"] = _where
    for name in ("_copy", "identity", "BlockGrad", "stop_gradient", "_np_copy", "make_loss", "MakeLoss"):
        t[name] = _identity
    for name in ("add_n", "ElementWiseSum"):
        t[name] = _add_n
    for name in ("Cast", "cast", "amp_cast", "_npi_cast", "_npx_cast"):
        t[name] = _cast
    for name in ("clip", "_npi_clip"):
        t[name] = _clip
    t.update(
        {
            "Activation": _activation,
            "LeakyReLU": _leaky_relu,
            "FullyConnected": _fully_connected,
            "dot": _dot,
            "_np_dot": _np_dot,
            "batch_dot": _batch_dot,
            "_npx_batch_dot": _batch_dot,
            "_npi_matmul": _matmul,
            "Convolution": _convolution,
            "Deconvolution": _deconvolution,
            "Pooling": _pooling,
            "RNN": _rnn,
            "_rnn_param_concat": _concat("dim", 0),
            "BatchNorm": _batch_norm,
            "LayerNorm": _layer_norm,
            "InstanceNorm": _instance_norm,
            "GroupNorm": _group_norm,
            "softmax": _softmax_like("hy.softmax"),
            "log_softmax": _softmax_like("hy.log_softmax"),
            "SoftmaxOutput": _softmax_output,
            "Softmax": _softmax_output,
            "SoftmaxActivation": _softmax_activation,
            "Dropout": _dropout,
            "Embedding": _embedding,
            "take": _take,
            "_npi_take": _take,
            "Reshape": _reshape,
            "reshape": _reshape,
            "_np_reshape": _np_reshape,
            "_npi_reshape": _np_reshape,
            "_npx_reshape": _npx_reshape,
            "Flatten": _flatten,
            "flatten": _flatten,
            "_npx_batch_flatten": _flatten,
            "expand_dims": _expand_dims,
            "_npi_expand_dims": _expand_dims,
            "squeeze": _squeeze,
            "_np_squeeze": _squeeze,
            "transpose": _transpose,
            "_np_transpose": _transpose,
            "SwapAxis": _swapaxes,
            "swapaxes": _swapaxes,
            "_npi_swapaxes": _swapaxes,
            "Concat": _concat("dim", 1),
            "concat": _concat("dim", 1),
            "_npi_concatenate": _concat("axis", 0),
            "stack": _stack,
            "_npi_stack": _stack,
            "slice": _slice,
            "crop": _slice,
            "_npi_slice": _slice,
            "slice_axis": _slice_axis,
            "SliceChannel": _split,
            "split": _split,
            "broadcast_to": _broadcast_to,
            "_npi_broadcast_to": _broadcast_to,
            "broadcast_like": _broadcast_like,
            "zeros_like": _fill(0.0),
            "ones_like": _fill(1.0),
            "_zeros": _fill(0.0),
            "_ones": _fill(1.0),
            "_full": _fill(None),
            "_npi_zeros": _fill(0.0),
            "_npi_ones": _fill(1.0),
            "_npi_full": _fill(None),
            "Pad": _pad,
            "pad": _pad,
        }
    )
    for mx_name, hy_name in (
        ("sum", "hy.reduce_sum"),
        ("mean", "hy.reduce_mean"),
        ("max", "hy.reduce_max"),
        ("min", "hy.reduce_min"),
    ):
        t[mx_name] = _reduce(hy_name, numpy_style=False)
    t["sum_axis"] = t["sum"]
    for mx_name, hy_name in (
        ("_np_sum", "hy.reduce_sum"),
        ("_npi_mean", "hy.reduce_mean"),
        ("_np_max", "hy.reduce_max"),
        ("_np_amax", "hy.reduce_max"),
        ("_np_min", "hy.reduce_min"),
        ("_np_amin", "hy.reduce_min"),
    ):
        t[mx_name] = _reduce(hy_name, numpy_style=True)
    return t


MXNET_CONVERTERS: dict[str, Converter] = _numpy_and_legacy()
"""MXNet op name (as written in symbol.json, legacy and numpy mode) -> converter."""

USED_INPUTS: dict[str, int] = {
    "SoftmaxOutput": 1,
    "Softmax": 1,
    "LinearRegressionOutput": 1,
    "LogisticRegressionOutput": 1,
    "MAERegressionOutput": 1,
}
"""Ops whose trailing inputs (labels of loss layers) are not read at inference."""

OUTPUTS: dict[str, tuple[int, str]] = {
    "BatchNorm": (3, "the batch mean and variance"),
    "Dropout": (2, "the dropout mask"),
    "LayerNorm": (3, "the mean and standard deviation"),
    "GroupNorm": (3, "the mean and standard deviation"),
    "InstanceNorm": (3, "the mean and variance"),
}
"""Ops with hidden extra outputs that a graph may not consume."""


MAX_ELEMENTS = 1 << 30
"""The largest tensor a graph may produce (4 GiB of float32): a crafted file
cannot make the memory plan allocate more than its inputs warrant."""


def supported_ops() -> list[str]:
    """Every MXNet op name the frontend maps (see `MXNET_CONVERTERS`)."""
    return sorted(MXNET_CONVERTERS)


# ---------------------------------------------------------------------------
# graph -> module


def _input_order(node: Node) -> tuple:
    m = re.fullmatch(r"data(\d*)", node.name)
    if m:
        return (0, int(m.group(1)) if m.group(1) else -1, node.index)
    return (1, 0, node.index)


def _reachable(graph: Graph) -> list[bool]:
    live = [False] * len(graph.nodes)
    work = [h for h, _ in graph.heads]
    while work:
        i = work.pop()
        if live[i]:
            continue
        live[i] = True
        node = graph.nodes[i]
        used = node.inputs[: USED_INPUTS.get(node.op, len(node.inputs))]
        work.extend(src for src, _ in used)
    return live


def strip_param_prefixes(params: dict[str, np.ndarray | None], where: str = "params") -> dict[str, np.ndarray | None]:
    """`arg:w` / `aux:w` -> `w` (exported files); plain names stay."""
    out: dict[str, np.ndarray | None] = {}
    for key, value in params.items():
        name = key[4:] if key.startswith(("arg:", "aux:")) else key
        if name in out:
            raise FrontendError(f"{where}: parameter {_show(name)} appears twice")
        out[name] = value
    return out


def _graph_inputs(graph: Graph, params: dict) -> list[Node]:
    """Reachable variables without a parameter, in call order."""
    live = _reachable(graph)
    found = (n for n in graph.nodes if live[n.index] and n.op == "null" and n.name not in params)
    return sorted(found, key=_input_order)


def graph_inputs(symbol: str | bytes | dict, params: dict[str, Any]) -> list[str]:
    """Names of the graph's inputs (variables without a parameter), in call order."""
    return [n.name for n in _graph_inputs(parse_graph(symbol), strip_param_prefixes(params))]


def lower_symbol(
    symbol_json: str | bytes | dict,
    params: dict[str, np.ndarray],
    input_shapes: Sequence[Sequence[int]],
    input_dtypes: Sequence[Any] | None = None,
    *,
    where: str = "symbol",
) -> ModuleOp:
    """Lower an MXNet symbol graph with its parameters to a module with `@forward`.

    `params` maps names (with or without `arg:`/`aux:`) to arrays;
    `input_shapes` gives one shape per graph input (`data`, or `data0`, `data1`, ...).
    """
    graph = parse_graph(symbol_json, where)
    params = strip_param_prefixes(params, where)
    live = _reachable(graph)
    inputs = _graph_inputs(graph, params)
    shapes = [tuple(int(d) for d in s) for s in input_shapes]
    if len(shapes) != len(inputs):
        names = ", ".join(_show(n.name) for n in inputs) or "none"
        raise FrontendError(
            f"{where}: the graph has {len(inputs)} input(s) ({names}) but {len(shapes)} shape(s) or example "
            "input(s) were given (a variable with no entry in the parameters counts as an input)"
        )
    dtypes = [np.dtype(d) for d in input_dtypes] if input_dtypes is not None else [np.dtype("float32")] * len(shapes)
    for n, s in zip(inputs, shapes):
        if any(d < 0 for d in s):
            raise FrontendError(f"{where}: input {_show(n.name)} has a negative size in {s}")
    block = Block(arg_types=[tensor_type(s, d) for s, d in zip(shapes, dtypes)])
    lo = Lowering(Builder(InsertPoint.at_end(block)), graph.numpy_mode)
    values: dict[int, list[SSAValue]] = {}
    for n, arg in zip(inputs, block.args):
        values[n.index] = [arg]
        arg.name_hint = name_hint(n.name)

    def operand(node: Node, k: int, src: int, out: int) -> SSAValue:
        produced = values[src]
        if out >= len(produced):
            source = graph.nodes[src]
            hidden = OUTPUTS.get(source.op)
            what = f" ({hidden[1]})" if hidden and out < hidden[0] else ""
            raise UnsupportedOpError(
                f"{where}: {node.label()}: input {k} reads output {out} of {source.label()}{what}, "
                f"which is not supported (it has {len(produced)} usable output(s))"
            )
        return produced[out]

    for node in graph.nodes:
        if not live[node.index] or node.index in values:
            continue
        if node.op == "null":
            array = params[node.name]
            if array is None:
                raise FrontendError(f"{where}: parameter {_show(node.name)} is an empty (none) array")
            try:
                v = lo.constant(np.asarray(array))
            except ValueError as e:
                raise FrontendError(f"{where}: parameter {_show(node.name)}: {e}") from None
            v.owner.location = name_location(node.name)
            v.name_hint = name_hint(node.name)
            values[node.index] = [v]
            continue
        conv = MXNET_CONVERTERS.get(node.op)
        if conv is None:
            raise UnsupportedOpError(
                f"{where}: {node.label()}: unsupported op {_show(node.op)}; supported ops: "
                f"hybridize.frontends.mxnet.supported_ops() ({len(MXNET_CONVERTERS)} ops, e.g. "
                f"{', '.join(supported_ops()[:6])}, ...)"
            )
        used = node.inputs[: USED_INPUTS.get(node.op, len(node.inputs))]
        args = [operand(node, k, src, out) for k, (src, out) in enumerate(used)]
        last = block.last_op
        try:
            result = conv(lo, node, args)
            op = last.next_op if last is not None else block.first_op
            location = name_location(node.name)  # the node's name (cleaned), as `loc("conv0")`
            while op is not None:  # errors here name the node, not just the hy op
                op.location = location
                op.verify()
                op = op.next_op
        except FrontendError as e:
            msg = str(e) if str(e).startswith("node ") else f"{node.label()}: {e}"
            raise type(e)(f"{where}: {msg}") from None
        except (ValueError, TypeError, IndexError, KeyError, ArithmeticError, VerifyException) as e:
            raise UnsupportedOpError(f"{where}: {node.label()}: cannot convert: {first_line(e)}") from None
        results = result if isinstance(result, list) else [result]
        for r in results:
            n = math.prod(shape_of(r))
            if n > MAX_ELEMENTS:
                raise UnsupportedOpError(
                    f"{where}: {node.label()}: its result {format_shape(shape_of(r))} has {n} elements, "
                    f"more than hybridize accepts in one tensor ({MAX_ELEMENTS})"
                )
        hint = name_hint(node.name)
        for r in results:
            if r.name_hint is None and hint and isinstance(r.owner, Operation) and r.owner.parent is block:
                r.name_hint = hint
        values[node.index] = results
    outputs = []
    for k, (src, out) in enumerate(graph.heads):
        if not live[src]:
            raise SymbolFormatError(f"{where}: head {k} refers to node {src}")
        outputs.append(operand(Node(-1, "output", f"head {k}", {}, []), 0, src, out))
    lo.builder.insert(ReturnOp(*outputs))
    func = FuncOp("forward", ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    module = ModuleOp([func])
    verify_with_locations(module)
    return module


# ---------------------------------------------------------------------------
# files and live blocks


def _example_shape_dtype(x: Any, i: int, float_params: set[np.dtype]) -> tuple[tuple[int, ...], np.dtype]:
    """An example input's shape and dtype. A NumPy float64 array counts as
    float32 when the weights are float32, as `mx.nd.array(x)` would make it."""
    if hasattr(x, "asnumpy") and type(x).__module__.startswith("mxnet"):
        return tuple(int(d) for d in x.shape), np.dtype(x.dtype)
    if isinstance(x, np.ndarray | np.generic):
        if x.dtype == np.float64 and float_params == {np.dtype(np.float32)}:
            return tuple(x.shape), np.dtype(np.float32)
        return tuple(x.shape), x.dtype
    raise TypeError(f"example input {i}: expected a NumPy or MXNet array, got {type(x).__name__}")


def params_path_for(symbol_path: str | PathLike) -> Path:
    """`net-symbol.json` -> `net-0000.params` (or the only `net-NNNN.params`)."""
    path = Path(symbol_path)
    name = path.name
    stem = name[: -len("-symbol.json")] if name.endswith("-symbol.json") else name.removesuffix(".json")
    default = path.with_name(f"{stem}-0000.params")
    if default.exists():
        return default
    epochs = sorted(path.parent.glob(f"{glob_escape(stem)}-[0-9][0-9][0-9][0-9].params"))
    if len(epochs) == 1:
        return epochs[0]
    if len(epochs) > 1:
        listed = ", ".join(p.name for p in epochs)
        raise FrontendError(f"{symbol_path}: several parameter files beside it ({listed}); pass params=PATH (opt-tool: --params PATH)")
    raise FrontendError(f"{symbol_path}: no parameter file {default.name} beside it; pass params=PATH (opt-tool: --params PATH)")


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _declared_shapes(symbol: dict | str, params: dict, where: str) -> list[tuple[int, ...]]:
    """Input shapes from `__shape__` attributes, when fully known."""
    inputs = _graph_inputs(parse_graph(symbol, where), strip_param_prefixes(params, where))
    shapes = []
    for n in inputs:
        dims = Attrs(n).opt_ints("__shape__")
        if not dims or any(d is None or d <= 0 for d in dims):
            listed = ", ".join(_show(i.name) for i in inputs)
            raise FrontendError(
                f"{where}: the shape of input {_show(n.name)} is not recorded in the file; give an example "
                f"input or input_shapes=[...] (one per input: {listed}; opt-tool: --input-shape 1x3x224x224)"
            )
        shapes.append(tuple(int(d) for d in dims))
    return shapes


def load_symbol_file(
    path: str | PathLike,
    *example_inputs,
    params: str | PathLike | dict | None = None,
    input_shapes: Sequence[Sequence[int]] | None = None,
    input_dtypes: Sequence[Any] | None = None,
) -> ModuleOp:
    """Import an exported MXNet model (`net-symbol.json` and `net-0000.params`).

    Example inputs (NumPy or MXNet arrays) or `input_shapes` give the input
    shapes; `params` is a path or a dict of arrays (default: the `-0000.params`
    file beside the symbol file). MXNet is not needed.
    """
    from hybridize.frontends.mxnet_params import load_params

    where = str(path)
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(2, f"{where}: no such file", where) from None
    try:
        symbol = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise SymbolFormatError(f"{where}: not valid JSON ({str(e)[:200]})") from None
    parse_graph(symbol, where)  # a malformed graph is reported before a missing parameter file
    if isinstance(params, dict):
        arrays = params
    else:
        arrays = load_params(params if params is not None else params_path_for(path))
    if example_inputs:
        if input_shapes is not None:
            raise ValueError(f"{where}: give example inputs or input_shapes, not both")
        float_params = {a.dtype for a in arrays.values() if a is not None and a.dtype.kind == "f"}
        pairs = [_example_shape_dtype(x, i, float_params) for i, x in enumerate(example_inputs)]
        shapes = [s for s, _ in pairs]
        input_dtypes = [d for _, d in pairs]
    elif input_shapes is not None:
        shapes = [tuple(s) for s in input_shapes]
    else:
        shapes = _declared_shapes(symbol, arrays, where)
    return lower_symbol(symbol, arrays, shapes, input_dtypes, where=where)


def trace_block(block, *example_inputs) -> ModuleOp:
    """Capture a Gluon `HybridBlock` (legacy or numpy mode) on example inputs.

    The block is hybridized, called once and exported to a temporary folder
    (MXNet's public `export`), and the files are lowered like any exported
    model. Printing inside `hybrid_forward` is fine: it prints symbols once.
    """
    import tempfile

    import mxnet as mx

    if not isinstance(block, mx.gluon.HybridBlock):
        raise TypeError(
            f"hybridize.trace: {type(block).__name__} is a Gluon Block but not a HybridBlock; only "
            "HybridBlocks (hybrid_forward) can be traced (use nn.HybridSequential instead of nn.Sequential)"
        )
    if type(block).hybrid_forward is mx.gluon.HybridBlock.hybrid_forward:
        raise TypeError(
            f"hybridize.trace: {type(block).__name__} overrides forward() instead of defining "
            "hybrid_forward(F, x, ...); MXNet 1.x can only trace hybrid_forward"
        )
    if not example_inputs:
        raise ValueError("hybridize.trace: an MXNet block needs example inputs")
    if isinstance(block, mx.gluon.rnn.rnn_layer._RNNLayer):
        block = _StatelessRNN(mx, block)
    numpy_mode = bool(mx.util.is_np_array())
    args = [_to_mxnet(mx, x, numpy_mode) for x in example_inputs]
    was_active = getattr(block, "_active", False)
    block.hybridize()
    with tempfile.TemporaryDirectory(prefix="hybridize-mxnet-") as tmp:
        prefix = str(Path(tmp) / "block")
        with mx.autograd.pause(train_mode=False):
            block(*args)
        block.export(prefix)
        if not was_active:
            block.hybridize(False)
        return load_symbol_file(f"{prefix}-symbol.json", *args)


def _StatelessRNN(mx, layer):
    """A Gluon RNN layer called on its input alone, inside a block: its initial
    states are then zeros in the graph (not extra graph inputs, as a top-level
    layer makes them), and it returns its output as `layer(x)` does."""

    class StatelessRNN(mx.gluon.HybridBlock):
        def __init__(self):
            super().__init__(prefix="")
            with self.name_scope():
                self.layer = layer

        def hybrid_forward(self, F, x):
            return self.layer(x)

    return StatelessRNN()


def _to_mxnet(mx, x, numpy_mode: bool):
    if type(x).__module__.startswith("mxnet"):
        if numpy_mode and isinstance(x, mx.nd.NDArray) and not isinstance(x, mx.np.ndarray):
            return x.as_np_ndarray()
        if not numpy_mode and isinstance(x, mx.np.ndarray):
            return x.as_nd_ndarray()
        return x
    array = np.asarray(x)  # MXNet's own default dtype rules apply (float64 becomes float32)
    return mx.np.array(array) if numpy_mode else mx.nd.array(array)


__all__ = [
    "MXNET_CONVERTERS",
    "SymbolFormatError",
    "UnsupportedOpError",
    "legacy_reshape",
    "load_symbol_file",
    "lower_symbol",
    "npx_reshape",
    "supported_ops",
    "trace_block",
]
