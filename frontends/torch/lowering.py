"""The lowering machinery shared by every converter family: the `Lowering`
state, the `CONVERTERS` table the families fill, argument binding and
refusals, and `lower_exported_program`, which walks an fx graph."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint
from xdsl.utils.exceptions import VerifyException

from hybridize.errors import FrontendError
from hybridize.ir.elementwise import CastOp
from hybridize.ir.module import name_hint
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import DYNAMIC, element_from_numpy, numpy_dtype, tensor_type


class UnsupportedOpError(NotImplementedError):
    """A source op hybridize cannot map; names the op and the user's code."""


class Lowering:
    """State of one export being lowered: values of fx nodes, the builder."""

    def __init__(self, builder: Builder):
        self.builder = builder
        self.values: dict[str, Any] = {}
        self.node = None  # the fx node being lowered: verifier errors name its source line

    def emit(self, op: Operation) -> SSAValue:
        """Insert `op` after checking it: an op its own verifier rejects is an
        error naming the op, the ATen op and the user's source line."""
        try:
            op.verify()
        except VerifyException as e:
            where = f"{self.node.target} at {source_line(self.node)}" if self.node is not None else "the graph"
            raise FrontendError(f"{e} (lowering {where})") from None
        self.builder.insert(op)
        return op.results[0]

    def constant(self, array: np.ndarray) -> SSAValue:
        return self.emit(ConstantOp(np.asarray(array, order="C")))  # ascontiguousarray makes 0-d 1-d

    def tensor(self, value: Any, like: SSAValue | None = None) -> SSAValue:
        """An operand as a tensor value; Python scalars become constants of
        `like`'s element type."""
        if isinstance(value, SSAValue):
            return value
        if isinstance(value, DynamicSize):
            raise UnsupportedOpError(
                f"arithmetic on a dynamic size {value!r}: with dynamic_batch=True sizes may only shape views"
            )
        from hybridize.ir.types import numpy_dtype

        dtype = numpy_dtype(like) if like is not None else np.float32
        return self.constant(np.asarray(value, dtype=dtype))


Converter = Callable[[Lowering, Any, list, dict], SSAValue]


CONVERTERS: dict[str, Converter] = {}
"""ATen op (`str(node.target)`) -> converter, filled by the family modules
(`elementwise`, `linalg`, `shape`, `nn`). Add an entry to support an op."""


def node_dtype(node) -> np.dtype:
    """The NumPy dtype of an fx node's (first) value."""
    val = node.meta["val"]
    return torch_dtype_to_numpy((val[0] if isinstance(val, list | tuple) else val).dtype)


def operand(lo: Lowering, value: Any, dtype: np.dtype) -> SSAValue:
    """`value` as a tensor of `dtype`: a Python scalar becomes a constant, a
    tensor of another element type is cast."""
    if not isinstance(value, SSAValue):
        return lo.constant(np.asarray(value, dtype=dtype))
    if numpy_dtype(value) != dtype:
        return lo.emit(CastOp(value, element_from_numpy(dtype)))
    return value


def _promoted(node, a: Any, b: Any) -> np.dtype:
    """torch.result_type of two operands (fx nodes or Python scalars)."""
    import torch

    vals = [v.meta["val"] if isinstance(v, torch.fx.Node) else v for v in (a, b)]
    return torch_dtype_to_numpy(torch.result_type(*vals))


def dim_index(dim: int, rank: int) -> int:
    return dim + rank if dim < 0 else dim


def static_shape(node, what: str) -> tuple[int, ...]:
    shape = node_shape(node)
    if DYNAMIC in shape:
        raise refuse(node, f"{what} needs static sizes (this one depends on a dynamic dimension)")
    return shape


class DynamicSize:
    """`x.size(0)` of a dynamic batch: only shape arguments (view, reshape,
    expand), which converters take from torch's own result shapes, may use it."""

    def __init__(self, where: str):
        self.where = where

    def __repr__(self) -> str:
        return f"<dynamic size at {self.where}>"


def bind(node, args: list, kwargs: dict) -> dict[str, Any]:
    """The ATen op's arguments by schema name, defaults filled in."""
    bound = {}
    for i, a in enumerate(node.target._schema.arguments):
        if i < len(args):
            bound[a.name] = args[i]
        elif a.name in kwargs:
            bound[a.name] = kwargs[a.name]
        else:
            bound[a.name] = a.default_value if a.has_default_value() else None
    return bound


def refuse(node, why: str) -> UnsupportedOpError:
    return UnsupportedOpError(f"{node.target}: {why} (at {source_line(node)})")


class Unavailable:
    """An output of a multi-output op that hybridize does not compute (max-pool
    indices, batch-norm statistics): lowering any use of it raises."""

    def __init__(self, node, what: str):
        self._node, self._what = node, what

    def __getattr__(self, name):
        raise refuse(self._node, f"its {self._what} output is not supported; only the values are")


def supported_ops() -> list[str]:
    return sorted(CONVERTERS)


def node_shape(node) -> tuple[int, ...]:
    """The static shape of an fx node's value; symbolic sizes become `?`."""
    return tuple(d if isinstance(d, int) else DYNAMIC for d in node.meta["val"].shape)


def source_line(node) -> str:
    """`file.py:12 in forward: x = self.fc(x)` from the node's stack trace."""
    trace = node.meta.get("stack_trace") or ""
    lines = [l.strip() for l in trace.strip().splitlines() if l.strip()]
    where = next((l for l in reversed(lines) if l.startswith("File ")), None)
    code = lines[-1] if lines and not lines[-1].startswith("File ") else ""
    if where is None:
        return "(no source location recorded)"
    return f"{where}{': ' + code if code else ''}"


def torch_dtype_to_numpy(dtype) -> np.dtype:
    import torch

    table = {
        torch.float32: np.float32,
        torch.float64: np.float64,
        torch.int64: np.int64,
        torch.int32: np.int32,
        torch.bool: np.bool_,
    }
    if dtype not in table:
        raise UnsupportedOpError(f"unsupported tensor dtype {dtype} (supported: float32, float64, int64, int32, bool)")
    return np.dtype(table[dtype])


def lower_exported_program(ep, name: str = "forward") -> ModuleOp:
    """Lower a `torch.export.ExportedProgram` to a module with `@forward`."""
    import torch

    graph = ep.graph_module.graph
    specs = {s.arg.name: s for s in ep.graph_signature.input_specs}
    state = {**ep.state_dict, **getattr(ep, "constants", {})}

    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    user_inputs = [n for n in placeholders if specs[n.name].kind.name == "USER_INPUT"]
    arg_types = []
    for n in user_inputs:
        val = n.meta["val"]
        arg_types.append(tensor_type(node_shape(n), torch_dtype_to_numpy(val.dtype)))
    block = Block(arg_types=arg_types)
    lo = Lowering(Builder(InsertPoint.at_end(block)))
    for n, arg in zip(user_inputs, block.args):
        lo.values[n.name] = arg
        arg.name_hint = name_hint(n.name)

    def value_of(a):
        if isinstance(a, torch.fx.Node):
            return lo.values[a.name]
        if isinstance(a, list | tuple):
            return type(a)(value_of(x) for x in a)
        return a

    outputs: list[SSAValue] = []
    for node in graph.nodes:
        if node.op == "placeholder":
            spec = specs[node.name]
            if spec.kind.name == "USER_INPUT":
                continue
            tensor = state[spec.target]
            array = tensor.detach().cpu().numpy() if isinstance(tensor, torch.Tensor) else np.asarray(tensor)
            v = lo.constant(array.astype(torch_dtype_to_numpy(tensor.dtype), copy=False))
            v.name_hint = name_hint(spec.target)
            lo.values[node.name] = v
        elif node.op == "call_function":
            target = str(node.target)
            if node.target is operator.getitem:
                seq = value_of(node.args[0])
                lo.values[node.name] = seq[node.args[1]]
                continue
            if target == "aten._assert_tensor_metadata.default":
                continue
            conv = CONVERTERS.get(target)
            if conv is None:
                raise UnsupportedOpError(
                    f"unsupported op {target} at {source_line(node)}; "
                    f"supported ops: hybridize.frontends.torch.supported_ops() "
                    f"({len(CONVERTERS)} ops, e.g. {', '.join(supported_ops()[:6])}, ...)"
                )
            args = [value_of(a) for a in node.args]
            kwargs = {k: value_of(v) for k, v in node.kwargs.items()}
            lo.node = node
            lo.values[node.name] = conv(lo, node, args, kwargs)
        elif node.op == "output":
            outs = node.args[0]
            outputs = [value_of(o) for o in (outs if isinstance(outs, list | tuple) else [outs])]
        elif node.op == "get_attr":
            raise UnsupportedOpError(f"get_attr node {node.target} (control flow or submodules) at {source_line(node)}")
    lo.builder.insert(ReturnOp(*outputs))
    func = FuncOp(name, ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    module = ModuleOp([func])
    module.verify()
    return module


