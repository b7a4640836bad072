"""TorchScript archives (`.pt` from `torch.jit.script(m).save(path)`) lowered
to the `hy` dialect.

    >>> module = hybridize.trace("my_mlp.pt", torch.randn(1, 512))

A saved TorchScript module carries its graph and weights but no shapes, so an
example input (or `input_shapes=[(1, 512)]`) is required. The module is frozen
in eval mode (`torch.jit.freeze`: weights become constants and BatchNorm's
training branches disappear), then its inlined graph is walked once: every
ATen node runs eagerly on the example values (that gives the shapes) and is
lowered through the same converter table as `torch.export` graphs
(`hybridize.frontends.torch.CONVERTERS`), keyed by the node's schema
(`aten::add.Tensor` -> `aten.add.Tensor`).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from hybridize.frontends import FrontendError
from hybridize.frontends.torch import CONVERTERS, Lowering, UnsupportedOpError, check_eval_mode, supported_ops
from hybridize.ir.types import tensor_type


@dataclass
class _Node:
    """The slice of an fx node the converters read: its value and location."""

    target: Any  # the OpOverload (converters read its schema); str() is `aten.add.Tensor`
    meta: dict = field(default_factory=dict)


def _schema_key(node) -> str:
    """`aten::add.Tensor(...)` -> `aten.add.Tensor`; no overload -> `.default`."""
    schema = str(node.schema())
    head = schema.split("(", 1)[0]
    ns, _, rest = head.partition("::")
    name, _, overload = rest.partition(".")
    return f"{ns}.{name}.{overload or 'default'}"


def _where(node) -> str:
    try:
        rng = node.sourceRange()
    except Exception:
        return "(no source location)"
    lines = [l for l in str(rng).splitlines() if l.strip()]
    return lines[0].strip() if lines else "(no source location)"


_STATIC_PRIMS = {
    "prim::NumToTensor": lambda n: n,
    "prim::unchecked_cast": lambda v: v,
    "prim::dtype": lambda t: t.dtype,
    "prim::device": lambda t: t.device,
    "prim::min": min,
    "prim::max": max,
    "prim::Uninitialized": lambda: None,
    "aten::__is__": lambda a, b: a is b,
    "aten::__isnot__": lambda a, b: a is not b,
    "aten::__not__": lambda a: not a,
    "aten::Int": int,
    "aten::Float": float,
    "aten::Bool": bool,
    "aten::ScalarImplicit": lambda t: t.item(),
}
"""TorchScript nodes on Python values (shapes, flags, dtypes) evaluated while
lowering: with the example's shapes fixed they are constants."""

_SHAPE_QUERIES = {"aten.size.int", "aten.size.default", "aten.dim.default", "aten.len.Tensor", "aten.numel.default"}
"""ATen ops on tensors that read only shapes: evaluated, never lowered."""

_SHAPE_NODES = {"aten::size", "aten::dim", "aten::len", "aten::numel", "prim::dtype", "prim::device"}
"""Nodes whose outputs do not depend on the values of their inputs."""

_PY_OPS = {
    "len": len,
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "floordiv": operator.floordiv,
    "div": operator.truediv,
    "remainder": operator.mod,
    "neg": operator.neg,
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "__and__": operator.and_,
    "__or__": operator.or_,
    "list": list,
}
"""ATen ops on Python ints, bools and lists, evaluated in Python (calling the
ATen overload with a Python list fails for generic `t[]` schemas)."""


def _split_args(op, values: list) -> tuple[list, dict]:
    """TorchScript passes keyword-only arguments (`alpha` of add) by position."""
    args, kwargs = [], {}
    for a, v in zip(op._schema.arguments, values):
        if a.kwarg_only:
            kwargs[a.name] = v
        else:
            args.append(v)
    return args, kwargs


_ALIASES = {"aten._convolution.default": "aten.convolution.default"}
"""ATen ops `torch.jit.trace` records under another name than torch.export."""


def load_pt(path: str, *example_inputs, input_shapes=None, force_eval: bool = False, **options) -> ModuleOp:
    """Lower a saved TorchScript module; shapes come from the example inputs.
    An archive saved in training mode with dropout or batch norm is refused
    unless `force_eval=True` (see `hybridize.frontends.torch.trace`)."""
    import torch

    if not example_inputs and not input_shapes:
        raise FrontendError(
            f"{path}: a TorchScript archive records no input shapes; give an example input, "
            f"e.g. hybridize.trace({path!r}, torch.randn(1, 512)), or input_shapes=[(1, 512)] "
            "(opt-tool: --input-shape 1x512)"
        )
    if not example_inputs:
        example_inputs = tuple(torch.randn(*s) for s in input_shapes)
    examples = [a if isinstance(a, torch.Tensor) else torch.from_numpy(np.asarray(a)) for a in example_inputs]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated but works
        try:
            scripted = torch.jit.load(path, map_location="cpu")
        except Exception as e:
            raise FrontendError(f"{path}: not a readable TorchScript archive ({type(e).__name__}: {e})") from None
        kinds = [getattr(m, "original_name", type(m).__name__) for m in scripted.modules()]
        check_eval_mode(path, scripted.training, kinds, force_eval)
        scripted.eval()
        try:
            frozen = torch.jit.freeze(scripted)
        except Exception:
            frozen = scripted  # already frozen, or nothing to freeze
        return lower_script_module(frozen, examples, path)


def lower_script_module(module, examples: list, name: str = "<torchscript>") -> ModuleOp:
    import torch

    graph = module.inlined_graph  # keep a reference: node values die with the graph
    inputs = list(graph.inputs())
    self_value, user_inputs = inputs[0], inputs[1:]
    if len(user_inputs) != len(examples):
        raise FrontendError(f"{name}: forward takes {len(user_inputs)} input(s), {len(examples)} example(s) given")
    from hybridize.frontends.torch import torch_dtype_to_numpy as _torch_dtype_to_numpy

    block = Block(arg_types=[tensor_type(tuple(e.shape), _torch_dtype_to_numpy(e.dtype)) for e in examples])
    lo = Lowering(Builder(InsertPoint.at_end(block)))
    ir: dict[Any, Any] = {}  # TorchScript value -> SSAValue / python value
    real: dict[Any, Any] = {self_value: module}  # TorchScript value -> eager value
    for v, arg, ex in zip(user_inputs, block.args, examples):
        ir[v], real[v] = arg, ex

    def constant_tensor(t):
        return lo.constant(t.detach().cpu().numpy().astype(_torch_dtype_to_numpy(t.dtype), copy=False))

    derived: set = set(user_inputs)  # values that depend on the model's inputs

    def is_data(v) -> bool:
        """A value computed from the inputs' values (not only from their shapes)."""
        return v in derived

    def walk(nodes) -> None:
        for node in nodes:
            lower_node(node)
            if node.kind() not in _SHAPE_NODES and any(i in derived for i in node.inputs()):
                derived.update(node.outputs())

    def lower_node(node) -> None:
        kind = node.kind()
        outs = list(node.outputs())
        if kind == "prim::Constant":
            value = node.output().toIValue() if node.output().type().kind() != "NoneType" else None
            real[outs[0]] = value
            ir[outs[0]] = constant_tensor(value) if isinstance(value, torch.Tensor) else value
        elif kind == "prim::GetAttr":
            owner = real[node.input()]
            value = getattr(owner, node.s("name"))
            real[outs[0]] = value
            ir[outs[0]] = constant_tensor(value) if isinstance(value, torch.Tensor) else value
        elif kind in ("prim::ListConstruct", "prim::TupleConstruct"):
            real[outs[0]] = [real[i] for i in node.inputs()]
            ir[outs[0]] = [ir[i] for i in node.inputs()]
        elif kind == "prim::DictConstruct":  # e.g. a transformers ModelOutput traced with strict=False
            ins = list(node.inputs())
            real[outs[0]] = {real[k]: real[v] for k, v in zip(ins[::2], ins[1::2])}
            ir[outs[0]] = {real[k]: ir[v] for k, v in zip(ins[::2], ins[1::2])}
        elif kind in ("prim::ListUnpack", "prim::TupleUnpack"):
            for k, o in enumerate(outs):
                real[o] = real[node.input()][k]
                ir[o] = ir[node.input()][k]
        elif kind == "prim::TupleIndex" or kind == "aten::__getitem__":
            seq, idx = list(node.inputs())
            real[outs[0]] = real[seq][real[idx]]
            ir[outs[0]] = ir[seq][real[idx]]
        elif kind in _STATIC_PRIMS:
            # shape arithmetic and type queries: Python values, fixed by the example's shapes
            ins = list(node.inputs())
            if kind in ("aten::Int", "aten::Float", "aten::Bool") and any(is_data(i) for i in ins):
                raise UnsupportedOpError(
                    f"{name}: {kind} reads a tensor's value at {_where(node)}; hybridize captures one "
                    "graph for all inputs, so values cannot steer it"
                )
            value = _STATIC_PRIMS[kind](*[real[i] for i in ins])
            for o in outs:
                real[o] = ir[o] = value
        elif kind == "prim::If":
            cond = node.input()
            if is_data(cond) or not isinstance(real[cond], bool | int):
                raise UnsupportedOpError(
                    f"{name}: control flow on tensor values (prim::If) at {_where(node)}; hybridize captures "
                    "one graph: use torch.cond, or keep the branch out of the scripted forward"
                )
            # A condition on shapes or flags (`if x.dim() != 4: raise ...`): take its branch.
            branch = list(node.blocks())[0 if real[cond] else 1]
            walk(branch.nodes())
            for o, b in zip(outs, branch.outputs()):
                real[o], ir[o] = real[b], ir[b]
        elif kind == "prim::RaiseException":
            msg = real[next(iter(node.inputs()))] if node.inputsSize() else "an exception"
            raise FrontendError(f"{name}: the model raises on this input at {_where(node)}: {msg}")
        elif kind == "prim::Loop":
            raise UnsupportedOpError(
                f"{name}: control flow (prim::Loop) at {_where(node)}; hybridize captures one graph: "
                "unroll the loop or keep it out of the scripted forward"
            )
        elif kind in ("aten::warn",):
            pass
        elif kind.startswith("aten::"):
            key = _schema_key(node)
            key = _ALIASES.get(key, key)
            ns, opname, overload = key.split(".")
            op = getattr(getattr(torch.ops.aten, opname), overload)
            inputs = list(node.inputs())
            if key == "aten.convolution.default":
                inputs = inputs[:9]  # _convolution's extra flags (benchmark, cudnn, ...) do not matter
            args_real, kwargs_real = _split_args(op, [real[i] for i in inputs])
            is_shape_op = not any(o.type().kind() == "TensorType" for o in outs) and not any(
                is_data(i) for i in inputs
            ) or key in _SHAPE_QUERIES
            if is_shape_op:  # e.g. aten::size, aten::dim, int arithmetic: evaluate now
                py = _PY_OPS.get(opname)
                value = py(*args_real) if py is not None and key not in _SHAPE_QUERIES else op(*args_real, **kwargs_real)
                values = [value] if len(outs) == 1 else list(value)
                for o, v in zip(outs, values):
                    real[o] = ir[o] = v
                return
            if not any(is_data(i) for i in inputs) and all(o.type().kind() == "TensorType" for o in outs):
                # a tensor made from shapes and constants only: fold it to a constant
                with torch.no_grad():
                    value = op(*args_real, **kwargs_real)
                values = [value] if len(outs) == 1 else list(value)
                for o, v in zip(outs, values):
                    real[o], ir[o] = v, constant_tensor(v)
                return
            conv = CONVERTERS.get(key)
            if conv is None:
                raise UnsupportedOpError(
                    f"{name}: unsupported op {key} at {_where(node)}; supported ops: "
                    f"hybridize.frontends.torch.supported_ops() ({len(supported_ops())} ops)"
                )
            with torch.no_grad():
                value = op(*args_real, **kwargs_real)
            fake = _Node(op, {"val": value, "stack_trace": f'File "{_where(node)}"'})
            args_ir, kwargs_ir = _split_args(op, [ir[i] for i in inputs])
            result = conv(lo, fake, args_ir, kwargs_ir)
            if len(outs) == 1:
                real[outs[0]], ir[outs[0]] = value, result
            else:
                for k, o in enumerate(outs):
                    real[o], ir[o] = value[k], result[k]
        else:
            raise UnsupportedOpError(f"{name}: unsupported TorchScript node {kind} at {_where(node)}")

    walk(graph.nodes())

    results = [ir[o] for o in graph.outputs()]
    if len(results) == 1 and isinstance(results[0], dict):
        results = list(results[0].values())
    if len(results) == 1 and isinstance(results[0], list | tuple):
        results = list(results[0])
    if not all(isinstance(r, SSAValue) for r in results):
        raise FrontendError(f"{name}: forward must return tensors")
    lo.builder.insert(ReturnOp(*results))
    func = FuncOp("forward", ([a.type for a in block.args], [r.type for r in results]), Region(block))
    out = ModuleOp([func])
    out.verify()
    return out
