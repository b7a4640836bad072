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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from hybridize.frontends import FrontendError
from hybridize.frontends.torch import CONVERTERS, Lowering, UnsupportedOpError, supported_ops
from hybridize.ir.types import tensor_type


@dataclass
class _Node:
    """The slice of an fx node the converters read: its value and location."""

    target: str
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


def load_pt(path: str, *example_inputs, input_shapes=None, **options) -> ModuleOp:
    """Lower a saved TorchScript module; shapes come from the example inputs."""
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
    from hybridize.frontends.torch import _torch_dtype_to_numpy

    block = Block(arg_types=[tensor_type(tuple(e.shape), _torch_dtype_to_numpy(e.dtype)) for e in examples])
    lo = Lowering(Builder(InsertPoint.at_end(block)))
    ir: dict[Any, Any] = {}  # TorchScript value -> SSAValue / python value
    real: dict[Any, Any] = {self_value: module}  # TorchScript value -> eager value
    for v, arg, ex in zip(user_inputs, block.args, examples):
        ir[v], real[v] = arg, ex

    def constant_tensor(t):
        return lo.constant(t.detach().cpu().numpy().astype(_torch_dtype_to_numpy(t.dtype), copy=False))

    for node in graph.nodes():
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
        elif kind in ("prim::ListUnpack", "prim::TupleUnpack"):
            for k, o in enumerate(outs):
                real[o] = real[node.input()][k]
                ir[o] = ir[node.input()][k]
        elif kind == "prim::TupleIndex" or kind == "aten::__getitem__":
            seq, idx = list(node.inputs())
            real[outs[0]] = real[seq][real[idx]]
            ir[outs[0]] = ir[seq][real[idx]]
        elif kind in ("prim::If", "prim::Loop"):
            raise UnsupportedOpError(
                f"{name}: control flow ({kind}) at {_where(node)}; hybridize captures one graph: "
                "use torch.cond, or keep the branch out of the scripted forward"
            )
        elif kind.startswith("aten::"):
            key = _schema_key(node)
            conv = CONVERTERS.get(key)
            if conv is None:
                raise UnsupportedOpError(
                    f"{name}: unsupported op {key} at {_where(node)}; supported ops: "
                    f"hybridize.frontends.torch.supported_ops() ({len(supported_ops())} ops)"
                )
            args_real = [real[i] for i in node.inputs()]
            op = getattr(getattr(torch.ops.aten, key.split(".")[1]), key.split(".")[2])
            with torch.no_grad():
                value = op(*args_real)
            fake = _Node(key, {"val": value, "stack_trace": f'File "{_where(node)}"'})
            result = conv(lo, fake, [ir[i] for i in node.inputs()], {})
            if len(outs) == 1:
                real[outs[0]], ir[outs[0]] = value, result
            else:
                for k, o in enumerate(outs):
                    real[o], ir[o] = value[k], result[k]
        else:
            raise UnsupportedOpError(f"{name}: unsupported TorchScript node {kind} at {_where(node)}")

    results = [ir[o] for o in graph.outputs()]
    if len(results) == 1 and isinstance(results[0], list | tuple):
        results = list(results[0])
    if not all(isinstance(r, SSAValue) for r in results):
        raise FrontendError(f"{name}: forward must return tensors")
    lo.builder.insert(ReturnOp(*results))
    func = FuncOp("forward", ([a.type for a in block.args], [r.type for r in results]), Region(block))
    out = ModuleOp([func])
    out.verify()
    return out
