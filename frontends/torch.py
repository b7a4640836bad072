"""PyTorch frontend: `torch.export` programs lowered to the `hy` dialect.

    >>> module = hybridize.trace(nn.Sequential(nn.Linear(4, 2), nn.ReLU()), torch.randn(1, 4))
    >>> print(module)
    func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
      %0 = hy.constant dense<...> : tensor<2x4xf32>
      ...

Parameters, buffers and lifted constants become `hy.constant`s. Each ATen op
maps through `CONVERTERS` (source op -> function building `hy` ops); an op
with no entry raises `UnsupportedOpError` naming the op, the user's source
line and the list of supported ops. Both the default (training-dialect) export
and the core-ATen graph after `run_decompositions()` are accepted.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint

from hybridize.ir.elementwise import AddOp, DivOp, MulOp, ReluOp, SubOp
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.shape import ReshapeOp, TransposeOp
from hybridize.ir.structure import ConstantOp
from hybridize.ir.module import name_hint
from hybridize.ir.types import DYNAMIC, shape_of, tensor_type


class UnsupportedOpError(NotImplementedError):
    """A source op hybridize cannot map; names the op and the user's code."""


class Lowering:
    """State of one export being lowered: values of fx nodes, the builder."""

    def __init__(self, builder: Builder):
        self.builder = builder
        self.values: dict[str, Any] = {}

    def emit(self, op: Operation) -> SSAValue:
        self.builder.insert(op)
        return op.results[0]

    def constant(self, array: np.ndarray) -> SSAValue:
        return self.emit(ConstantOp(np.ascontiguousarray(array)))

    def tensor(self, value: Any, like: SSAValue | None = None) -> SSAValue:
        """An operand as a tensor value; Python scalars become constants of
        `like`'s element type."""
        if isinstance(value, SSAValue):
            return value
        from hybridize.ir.types import numpy_dtype

        dtype = numpy_dtype(like) if like is not None else np.float32
        return self.constant(np.asarray(value, dtype=dtype))


Converter = Callable[[Lowering, Any, list, dict], SSAValue]


def _binary(op_cls, reverse: bool = False) -> Converter:
    def convert(lo: Lowering, node, args, kwargs):
        a, b = args[0], args[1]
        alpha = kwargs.get("alpha", args[2] if len(args) > 2 else 1)
        like = a if isinstance(a, SSAValue) else b
        a, b = lo.tensor(a, like), lo.tensor(b, like)
        if alpha != 1:
            b = lo.emit(MulOp(b, lo.tensor(alpha, like)))
        return lo.emit(op_cls(b, a) if reverse else op_cls(a, b))

    return convert


def _linear(lo: Lowering, node, args, kwargs):
    x, w = args[0], args[1]
    b = args[2] if len(args) > 2 else kwargs.get("bias")
    return lo.emit(LinearOp(x, w, b))


def _addmm(lo: Lowering, node, args, kwargs):
    # addmm(b, x, m, beta, alpha) = beta * b + alpha * (x @ m)
    bias, x, m = args[0], args[1], args[2]
    beta, alpha = kwargs.get("beta", 1), kwargs.get("alpha", 1)
    prod = lo.emit(MatmulOp(x, m))
    if alpha != 1:
        prod = lo.emit(MulOp(prod, lo.tensor(alpha, prod)))
    if beta == 0:
        return prod
    if beta != 1:
        bias = lo.emit(MulOp(bias, lo.tensor(beta, bias)))
    return lo.emit(AddOp(prod, bias))


def _permute(lo: Lowering, node, args, kwargs):
    x, dims = args[0], args[1]
    rank = len(shape_of(x))
    return lo.emit(TransposeOp(x, [d % rank for d in dims]))


def _t(lo: Lowering, node, args, kwargs):
    x = args[0]
    if len(shape_of(x)) < 2:
        return x
    return lo.emit(TransposeOp(x, [1, 0]))


def _view(lo: Lowering, node, args, kwargs):
    return lo.emit(ReshapeOp(args[0], node_shape(node)))


def _identity(lo: Lowering, node, args, kwargs):
    return args[0]


CONVERTERS: dict[str, Converter] = {
    "aten.linear.default": _linear,
    "aten.addmm.default": _addmm,
    "aten.mm.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
    "aten.matmul.default": lambda lo, n, a, k: lo.emit(MatmulOp(a[0], a[1])),
    "aten.relu.default": lambda lo, n, a, k: lo.emit(ReluOp(a[0])),
    "aten.relu_.default": lambda lo, n, a, k: lo.emit(ReluOp(a[0])),
    "aten.add.Tensor": _binary(AddOp),
    "aten.add_.Tensor": _binary(AddOp),
    "aten.sub.Tensor": _binary(SubOp),
    "aten.rsub.Scalar": _binary(SubOp, reverse=True),
    "aten.mul.Tensor": _binary(MulOp),
    "aten.div.Tensor": _binary(DivOp),
    "aten.permute.default": _permute,
    "aten.t.default": _t,
    "aten.view.default": _view,
    "aten.reshape.default": _view,
    "aten._unsafe_view.default": _view,
    "aten.flatten.using_ints": _view,
    "aten.dropout.default": _identity,
    "aten.clone.default": _identity,
    "aten.contiguous.default": _identity,
    "aten.detach.default": _identity,
    "aten.alias.default": _identity,
    # --- elementwise math, comparisons, logic, casts ---
    # --- shape and indexing ops ---
    # --- nn ops: convolution, pooling, normalization, reductions, attention ---
}
"""ATen op (`str(node.target)`) -> converter. Add an entry to support an op."""


def supported_ops() -> list[str]:
    return sorted(CONVERTERS)


def node_shape(node) -> tuple[int, ...]:
    """The static shape of an fx node's value; symbolic sizes become `?`."""
    return tuple(d if isinstance(d, int) else DYNAMIC for d in node.meta["val"].shape)


def _source_line(node) -> str:
    """`file.py:12 in forward: x = self.fc(x)` from the node's stack trace."""
    trace = node.meta.get("stack_trace") or ""
    lines = [l.strip() for l in trace.strip().splitlines() if l.strip()]
    where = next((l for l in reversed(lines) if l.startswith("File ")), None)
    code = lines[-1] if lines and not lines[-1].startswith("File ") else ""
    if where is None:
        return "(no source location recorded)"
    return f"{where}{': ' + code if code else ''}"


def _torch_dtype_to_numpy(dtype) -> np.dtype:
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
        arg_types.append(tensor_type(node_shape(n), _torch_dtype_to_numpy(val.dtype)))
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
            v = lo.constant(array.astype(_torch_dtype_to_numpy(tensor.dtype), copy=False))
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
                    f"unsupported op {target} at {_source_line(node)}; "
                    f"supported ops: hybridize.frontends.torch.supported_ops() "
                    f"({len(CONVERTERS)} ops, e.g. {', '.join(supported_ops()[:6])}, ...)"
                )
            args = [value_of(a) for a in node.args]
            kwargs = {k: value_of(v) for k, v in node.kwargs.items()}
            lo.values[node.name] = conv(lo, node, args, kwargs)
        elif node.op == "output":
            outs = node.args[0]
            outputs = [value_of(o) for o in (outs if isinstance(outs, list | tuple) else [outs])]
        elif node.op == "get_attr":
            raise UnsupportedOpError(f"get_attr node {node.target} (control flow or submodules) at {_source_line(node)}")
    lo.builder.insert(ReturnOp(*outputs))
    func = FuncOp(name, ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    module = ModuleOp([func])
    module.verify()
    return module


def trace(
    model, example_inputs: Sequence, *, decompose: bool = False, dynamic_batch: bool = False
) -> ModuleOp:
    """Export `model` with `torch.export` (in eval mode) and lower it.

    `decompose=True` lowers the core-ATen graph (`run_decompositions()`).
    `dynamic_batch=True` keeps the leading dimension of every input symbolic,
    so the IR reads `tensor<?x...>` and one build serves any batch size.
    Data-dependent control flow is refused with the user's file and line.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    args = tuple(example_inputs)
    dynamic_shapes = None
    if dynamic_batch:
        if not args or not all(isinstance(a, torch.Tensor) and a.dim() >= 1 for a in args):
            raise ValueError("dynamic_batch=True needs tensor example inputs with a leading (batch) dimension")
        # torch.export specializes sizes 0 and 1: trace with a batch of 2.
        args = tuple(torch.cat([a[:1], a[:1]]) if a.shape[0] < 2 else a for a in args)
        batch = torch.export.Dim("batch", min=1, max=1 << 20)
        dynamic_shapes = tuple({0: batch} for _ in args)
    was_training = model.training
    model.eval()
    try:
        ep = torch.export.export(model, args, dynamic_shapes=dynamic_shapes)
    except Exception as e:
        raise _explain_export_failure(e) from e
    finally:
        model.train(was_training)
    if decompose:
        ep = ep.run_decompositions()
    return lower_exported_program(ep)


class ExportError(RuntimeError):
    """torch.export could not capture the model; the message says why and where."""


def _explain_export_failure(e: Exception) -> Exception:
    """Turn torch.export's failures into errors that point at the user's code."""
    text = str(e)
    name = type(e).__name__
    if "GuardOnDataDependentSymNode" in name or "data-dependent" in text or "data dependent" in text:
        where = _user_frame(text)
        return ExportError(
            f"the model branches on tensor values{(' at ' + where) if where else ''}: "
            "torch.export (and so hybridize) captures one graph for all inputs. Write the branch with "
            "torch.cond(pred, true_fn, false_fn, operands) or move it out of forward().\n"
            f"torch said: {text.strip().splitlines()[0] if text.strip() else name}"
        )
    if "Constraints violated" in text or "specialized" in text:
        return ExportError(
            "the model fixes the batch size (a dynamic batch was asked for): "
            + (text.strip().splitlines()[0] if text.strip() else name)
        )
    return e


def _user_frame(text: str) -> str | None:
    """The last `File "...", line N` of a trace that is not inside torch."""
    import re

    frames = re.findall(r'File "([^"]+)", line (\d+)', text)
    frames = [f for f in frames if "site-packages" not in f[0] and "/torch/" not in f[0]]
    if frames:
        path, line = frames[-1]
        return f"{path}:{line}"
    m = re.search(r"\(([^()]+\.py):(\d+) in [^)]*\)", text)
    return f"{m.group(1)}:{m.group(2)}" if m else None


def load_pt2(path: str, *example_inputs, **options) -> ModuleOp:
    """A program saved with `torch.export.save` (weights included)."""
    import torch

    try:
        ep = torch.export.load(path)
    except Exception as e:
        raise ValueError(f"{path}: not a readable torch.export archive ({type(e).__name__}: {e})") from None
    if options.get("decompose"):
        ep = ep.run_decompositions()
    return lower_exported_program(ep)
