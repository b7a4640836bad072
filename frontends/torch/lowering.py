"""The lowering machinery shared by every converter family: the `Lowering`
state, the `CONVERTERS` table the families fill, argument binding and
refusals, and `lower_exported_program`, which walks an fx graph."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from xdsl.builder import Builder
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint
from xdsl.utils.exceptions import VerifyException

from hybridize import errors
from hybridize.errors import FrontendError
from hybridize.ir.elementwise import CastOp
from hybridize.ir.module import name_hint, verify_with_locations
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import DYNAMIC, element_from_numpy, numpy_dtype, tensor_type


class UnsupportedOpError(FrontendError, errors.UnsupportedOpError):
    """A source op hybridize cannot map; names the op and the user's code."""


class Lowering:
    """State of one export being lowered: values of fx nodes, the builder."""

    def __init__(self, builder: Builder):
        self.builder = builder
        self.values: dict[str, Any] = {}
        self.node = None  # the fx node being lowered: verifier errors name its source line
        self.location = None
        """The location given to every op emitted (the fx node being lowered)."""

    def emit(self, op: Operation) -> SSAValue:
        """Insert `op` after checking it: an op its own verifier rejects is an
        error naming the op, the ATen op and the user's source line. The op
        gets the node's source location."""
        try:
            op.verify()
        except VerifyException as e:
            where = f"{self.node.target} at {source_line(self.node)}" if self.node is not None else "the graph"
            raise FrontendError(f"{e} (lowering {where})") from None
        if self.location is not None:
            op.location = self.location
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
    error = UnsupportedOpError(f"{node.target}: {why} (at {source_line(node)})")
    error.op = str(node.target)  # the decomposition fallback decomposes it and retries
    return error


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
    """The IR shape of an fx node's value: static sizes as they are, the
    dynamic batch as `?`. A size that is a multiple of the batch (`8*s`, from
    `x.view(-1, hidden)` over [batch, 8, hidden]) is *folded*: the IR keeps it
    as the two dims `?, 8`, the same elements in the same order, so views,
    matmuls and elementwise ops on it lower unchanged (see `FOLD_SAFE`)."""
    shape: list[int] = []
    for d in node.meta["val"].shape:
        if isinstance(d, int):
            shape.append(d)
        else:
            shape.extend(_symbolic_dim(node, d))
    return tuple(shape)


def _symbolic_dim(node, d) -> tuple[int, ...]:
    """A symbolic size as IR dims: the batch `s` is `?`, `c*s` is `?, c`."""
    import sympy

    expr = d.node.expr
    if isinstance(expr, sympy.Symbol):
        return (DYNAMIC,)
    coef, rest = expr.as_coeff_Mul()
    if isinstance(rest, sympy.Symbol) and coef.is_Integer and int(coef) > 0:
        return (DYNAMIC, int(coef))
    raise refuse(
        node,
        f"a size of {expr} is not supported: with dynamic_batch=True a size may be the batch or a multiple of it",
    )


def torch_rank(node) -> int:
    return len(node.meta["val"].shape)


def is_folded(node) -> bool:
    """True if a size of the node's value is a multiple (> 1) of the batch."""
    import torch

    val = node.meta.get("val")
    if not isinstance(val, torch.Tensor):
        return False
    return any(not isinstance(d, int) and len(_symbolic_dim(node, d)) > 1 for d in val.shape)


FOLD_SAFE = {
    # views whose converters take torch's result shape (`node_shape`)
    "aten.view.default", "aten.reshape.default", "aten._unsafe_view.default", "aten.flatten.using_ints",
    "aten.unsqueeze.default", "aten.squeeze.dim", "aten.squeeze.dims", "aten.expand.default",
    "aten.clone.default", "aten.contiguous.default", "aten.detach.default", "aten.alias.default",
    "aten.dropout.default", "aten.lift_fresh_copy.default", "aten.to.dtype", "aten.to.dtype_layout",
    "aten._to_copy.default", "aten.type_as.default",
    # matrix products act on the last two dims
    "aten.linear.default", "aten.addmm.default", "aten.mm.default", "aten.matmul.default", "aten.bmm.default",
    "aten.baddbmm.default",
    # normalization over trailing dims (softmax and reductions: FOLD_ARGS)
    "aten.layer_norm.default", "aten.native_layer_norm.default", "aten.gelu.default",
}
"""ATen ops that lower correctly on folded values (`node_shape`); together
with every elementwise converter (they broadcast from the last dim). Any
other op on a folded value is refused."""

def dim_groups(node) -> list[list[int]]:
    """For each dim of the node's torch value, the IR dims it is (see `node_shape`)."""
    groups, at = [], 0
    for d in node.meta["val"].shape:
        n = 1 if isinstance(d, int) else len(_symbolic_dim(node, d))
        groups.append(list(range(at, at + n)))
        at += n
    return groups


def _from_end(node, args: list, positions: tuple[int, ...]) -> list:
    """Dim arguments counted from the end: the same dims of a folded value
    (refused when one names the folded dim or a dim before it)."""
    x = node.args[0]
    rank, groups = torch_rank(x), dim_groups(x)
    last_folded = max((i for i, g in enumerate(groups) if len(g) > 1), default=-1)
    args = list(args)
    for pos in positions:
        if pos >= len(args) or args[pos] is None:
            continue
        dims = args[pos] if isinstance(args[pos], list | tuple) else [args[pos]]
        counted = [d - rank if d >= 0 else d for d in dims]
        if any(d + rank <= last_folded for d in counted):
            raise refuse(node, "this op along a size that merges the dynamic batch with another dim is not supported")
        args[pos] = type(args[pos])(counted) if isinstance(args[pos], list | tuple) else counted[0]
    return args


def _expanded_perm(node, args: list) -> list:
    """permute/transpose of a folded value: the permutation of its IR dims."""
    x = node.args[0]
    groups, rank = dim_groups(x), torch_rank(x)
    if str(node.target) == "aten.transpose.int":
        perm = list(range(rank))
        a, b = args[1] % rank, args[2] % rank
        perm[a], perm[b] = perm[b], perm[a]
    else:
        perm = [d % rank for d in args[1]]
    return [args[0], [i for p in perm for i in groups[p]]]


def _expanded_repeats(node, args: list) -> list:
    """repeat of a folded value: each folded dim repeated once (else refused)."""
    x = node.args[0]
    groups = dim_groups(x)
    repeats = list(args[1])
    lead, own = repeats[: len(repeats) - len(groups)], repeats[len(repeats) - len(groups) :]
    out = list(lead)
    for r, g in zip(own, groups):
        if len(g) > 1 and r != 1:
            raise refuse(node, "repeating a size that merges the dynamic batch with another dim is not supported")
        out.extend([r] + [1] * (len(g) - 1))
    return [args[0], out]


FOLD_ARGS: dict[str, Callable[[Any, list], list]] = {
    **{t: (lambda node, args: _from_end(node, args, (1,))) for t in (
        "aten.softmax.int", "aten._softmax.default", "aten.log_softmax.int", "aten._log_softmax.default",
        "aten.mean.dim", "aten.sum.dim_IntList", "aten.amax.default")},
    "aten.split_with_sizes.default": lambda node, args: _from_end(node, args, (2,)),
    "aten.split.Tensor": lambda node, args: _from_end(node, args, (2,)),
    "aten.chunk.default": lambda node, args: _from_end(node, args, (2,)),
    "aten.transpose.int": _expanded_perm,
    "aten.permute.default": _expanded_perm,
    "aten.repeat.default": _expanded_repeats,
}
"""Ops that lower on a folded value once their dim arguments are rewritten
for its IR dims (`dim_groups`)."""


def _fold_args(node, conv, args: list) -> tuple[Converter, list]:
    """The converter and arguments for a node, rewritten when it reads a
    folded value (a transpose becomes the permute of its IR dims)."""
    remap = FOLD_ARGS.get(str(node.target))
    if remap is None or not any(is_folded(a) for a in node.all_input_nodes):
        return conv, args
    if str(node.target) == "aten.transpose.int":
        conv = CONVERTERS["aten.permute.default"]
    return conv, remap(node, args)


def check_folded(node, conv) -> None:
    """Refuse an op on a folded value (see `node_shape`) unless it is known to
    lower correctly on one."""
    import torch

    if str(node.target) in FOLD_SAFE or str(node.target) in FOLD_ARGS or conv.__module__.endswith(".elementwise"):
        return
    inputs = [a for a in node.all_input_nodes if isinstance(a, torch.fx.Node)]
    for n in [node, *inputs]:
        if is_folded(n):
            sizes = ", ".join(str(d) for d in n.meta["val"].shape)
            raise refuse(
                node,
                f"with dynamic_batch=True this op meets a tensor of sizes [{sizes}], which merges the batch with "
                "another dim; only views, matrix products, normalizations and elementwise ops may use one",
            )


_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<fn>\S+)\n(?P<code>[^\n]*)')


def user_frame(node) -> tuple[str, int, str, str] | None:
    """(file, line, function, code) of the innermost frame of the node's
    stack trace that is the user's code: not torch, not hybridize, and of
    transformers only its `models/*/modeling_*.py` files (a model's own
    code; its mask and attention utilities are library internals)."""
    trace = node.meta.get("stack_trace") or ""
    frames = [(m["file"], int(m["line"]), m["fn"], m["code"].strip()) for m in _FRAME.finditer(trace)]
    for frame in reversed(frames):
        if not is_library_file(frame[0]):
            return frame
    return None


def is_library_file(path: str) -> bool:
    """Files whose lines never name the user's layer: torch's, hybridize's,
    transformers' outside `models/*/modeling_*.py`, generated code."""
    p = path.replace("\\", "/")
    if p.startswith("<"):  # <string>, <frozen ...>
        return True
    # hybridize last: a checkout's venv (.venv/lib/.../site-packages) lies inside its folder
    for package in ("torch", "functorch", "transformers", "hybridize"):
        root = _package_dir(package)
        if (root and p.startswith(root) and "site-packages/" not in p[len(root) :]) or f"site-packages/{package}/" in p:
            if package == "transformers":
                return re.search(r"/transformers/models/[^/]+/modeling_[^/]+\.py$", p) is None
            if package == "hybridize" and root and p[len(root) :].startswith("tests/"):
                return False  # a checkout's tests are user code
            return True
    return False


_PACKAGE_DIRS: dict[str, str | None] = {}


def _package_dir(package: str) -> str | None:
    if package not in _PACKAGE_DIRS:
        import importlib.util
        import os

        spec = importlib.util.find_spec(package)
        origin = spec.origin if spec is not None else None
        _PACKAGE_DIRS[package] = os.path.dirname(origin).replace("\\", "/") + "/" if origin else None
    return _PACKAGE_DIRS[package]


def layer_name(node) -> str | None:
    """The qualified name of the innermost module the node ran in (`h.0.attn`)."""
    stack = node.meta.get("nn_module_stack") or {}
    names = [fqn for fqn, _ in stack.values() if fqn]
    return names[-1] if names else None


def source_location(node):
    """The node's location attribute: the user's file:line:col inside the
    layer's name (see `hybridize.ir.locations`); unknown if torch recorded neither."""
    import linecache

    from xdsl.dialects.builtin import UnknownLoc

    from hybridize.ir.locations import name_location
    from hybridize.ir.locations import source_location as file_location

    frame, layer = user_frame(node), layer_name(node)
    if frame is not None:
        text = linecache.getline(frame[0], frame[1])
        col = len(text) - len(text.lstrip()) + 1 if text.strip() else 0
        return file_location(frame[0], frame[1], col, layer)
    return name_location(layer) if layer else UnknownLoc()


def _library_place(node, layer: str | None) -> str:
    """Where a node with no user frame comes from: its innermost layer (the
    model itself when a torch layer is traced alone) and the library line."""
    stack = node.meta.get("nn_module_stack") or {}
    kind = list(stack.values())[-1][1] if stack else None
    kind = kind if isinstance(kind, str) else getattr(kind, "__qualname__", None)
    name = f"layer {layer}" if layer else "the model itself" if stack else None
    if name is None:
        return "(no source location recorded)"
    frames = _FRAME.findall(node.meta.get("stack_trace") or "")
    inside = f", in {frames[-1][2]} at {frames[-1][0].rsplit('site-packages/', 1)[-1]}:{frames[-1][1]}" if frames else ""
    return f"{name} ({kind.rsplit('.', 1)[-1] if kind else 'module'}{inside}; no user source line recorded)"


def source_line(node) -> str:
    """`file.py:12 in forward: x = self.fc(x)` from the node's stack trace:
    the innermost frame in the user's code (`user_frame`), else the layer."""
    frame = user_frame(node)
    layer = layer_name(node)
    if frame is None:
        return _library_place(node, layer)
    file, line, fn, code = frame
    return f'File "{file}", line {line}, in {fn}{": " + code if code else ""}' + (f" (layer {layer})" if layer else "")


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


SYM_ARITHMETIC = (operator.mul, operator.add, operator.sub, operator.floordiv, operator.mod, operator.neg)
"""Python arithmetic on sizes that torch.export records (`bsz * num_heads`)."""


def sym_value(node) -> int | DynamicSize:
    """The value of a size computed in the graph: an int, or a DynamicSize."""
    val = node.meta["val"]
    if isinstance(val, int):
        return val
    return DynamicSize(source_line(node))


def tree_spec(spec, leaf_values: list | None = None) -> Any:
    """A torch pytree `TreeSpec` as a structure spec (`hybridize.backends.structure`).
    `leaf_values`, when given, are the leaves in order: the ones that are not
    tensors (None, numbers) become `{"const": ...}`."""
    from hybridize.backends.structure import remember_class

    it = iter(leaf_values) if leaf_values is not None else None

    def conv(s):
        if s.is_leaf():
            if it is not None:
                v = next(it)
                if not isinstance(v, SSAValue):
                    if v is None or isinstance(v, bool | int | float | str):
                        return {"const": v}
                    raise UnsupportedOpError(f"the model returns a {type(v).__name__}, which is not a tensor")
            return "*"
        kids = [conv(c) for c in (s.children() if hasattr(s, "children") else s.children_specs)]
        t, ctx = s.type, s.context
        if t is tuple:
            return {"tuple": kids}
        if t is list:
            return {"list": kids}
        if t is dict or (isinstance(ctx, list) and t.__name__ in ("OrderedDict", "defaultdict")):
            return {"dict": [[k if isinstance(k, int) else str(k), c] for k, c in zip(ctx, kids)]}
        if t is type(None):
            return {"const": None}
        if isinstance(ctx, type) and issubclass(ctx, tuple) and hasattr(ctx, "_fields"):
            return {"namedtuple": ctx.__name__, "fields": list(ctx._fields), "items": kids}
        if isinstance(ctx, list | tuple) and all(isinstance(k, str) for k in ctx) and len(ctx) == len(kids):
            return {"class": remember_class(t), "keys": list(ctx), "items": kids}
        if isinstance(t, type) and issubclass(t, tuple):
            return {"tuple": kids}
        raise UnsupportedOpError(f"inputs or outputs of type {getattr(t, '__name__', t)} are not supported")

    return conv(spec)


def _user_outputs(ep, out_nodes: list, values: dict) -> list:
    """The output node's user outputs. torch.export puts the new values of
    mutated buffers and inputs in front; a compiled model keeps no state, so a
    buffer written with its own value (`self.pe = self.pe.to(dtype)`, CTRL) is
    dropped and any other mutation refused, naming the line that makes it."""
    import torch

    specs = ep.graph_signature.output_specs
    if len(specs) != len(out_nodes):
        return out_nodes
    inputs = {s.target: s.arg.name for s in ep.graph_signature.input_specs if s.target is not None}
    kept = []
    for spec, out in zip(specs, out_nodes):
        kind = spec.kind.name
        if kind == "USER_OUTPUT":
            kept.append(out)
            continue
        if kind == "BUFFER_MUTATION" and isinstance(out, torch.fx.Node):
            own = inputs.get(spec.target)
            if own is not None and values.get(own) is values.get(out.name):
                continue  # the buffer written back unchanged
        where = source_line(out) if isinstance(out, torch.fx.Node) else "an unknown line"
        what = {"BUFFER_MUTATION": f"buffer {spec.target!r}", "USER_INPUT_MUTATION": f"input {spec.target!r}"}
        raise UnsupportedOpError(
            f"unsupported op {kind.lower()}: forward writes {what.get(kind, kind.lower())} at {where}; "
            "a compiled model keeps no state (return the new value instead)"
        )
    return kept


def lower_exported_program(ep, name: str = "forward") -> ModuleOp:
    """Lower a `torch.export.ExportedProgram` to a module with `@forward`.
    Its `hy.structure` attribute records how the inputs and outputs nest
    (`tree_spec`)."""
    import json

    import torch
    from xdsl.dialects.builtin import StringAttr

    from hybridize.backends.structure import STRUCTURE
    from hybridize.ir.locations import name_location

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
            lo.location = name_location(spec.target)
            array = tensor.detach().cpu().numpy() if isinstance(tensor, torch.Tensor) else np.asarray(tensor)
            v = lo.constant(array.astype(torch_dtype_to_numpy(tensor.dtype), copy=False))
            v.name_hint = name_hint(spec.target)
            lo.values[node.name] = v
        elif node.op == "call_function":
            target = str(node.target)
            lo.location = source_location(node)
            if node.target is operator.getitem:
                seq = value_of(node.args[0])
                lo.values[node.name] = seq[node.args[1]]
                continue
            if target == "aten._assert_tensor_metadata.default":
                continue
            if isinstance(node.meta.get("val"), torch.SymInt | int) and node.target in SYM_ARITHMETIC:
                lo.values[node.name] = sym_value(node)  # batch * heads: a size, shapes come from torch
                continue
            conv = CONVERTERS.get(target)
            if conv is None:
                raise UnsupportedOpError(
                    f"unsupported op {target} at {source_line(node)}; "
                    f"supported ops: hybridize.frontends.torch.supported_ops() "
                    f"({len(CONVERTERS)} ops, e.g. {', '.join(supported_ops()[:6])}, ...)"
                )
            check_folded(node, conv)
            conv, args = _fold_args(node, conv, [value_of(a) for a in node.args])
            kwargs = {k: value_of(v) for k, v in node.kwargs.items()}
            lo.node = node
            result = conv(lo, node, args, kwargs)
            if isinstance(result, SSAValue) and is_folded(node):
                from hybridize.ir.types import format_shape, shape_of

                if tuple(shape_of(result)) != node_shape(node):
                    raise refuse(
                        node,
                        f"lowered to tensor<{format_shape(shape_of(result))}> where the folded batch needs "
                        f"tensor<{format_shape(node_shape(node))}>",
                    )
            lo.values[node.name] = result
        elif node.op == "output":
            outs = node.args[0]
            out_nodes = _user_outputs(ep, list(outs) if isinstance(outs, list | tuple) else [outs], lo.values)
            outputs = [value_of(o) for o in out_nodes]
            in_spec, out_spec = ep.call_spec.in_spec, ep.call_spec.out_spec
            structure = {
                # non-tensor inputs are baked in by torch.export: then the call stays flat
                "inputs": tree_spec(in_spec) if in_spec.num_leaves == len(user_inputs) else None,
                "outputs": tree_spec(out_spec, outputs),
            }
            tensors = [(n, o) for n, o in zip(out_nodes, outputs) if isinstance(o, SSAValue)]
            outputs = [o for _, o in tensors]
            # a folded result ([?, 8, h] for torch's [8*b, h]) is handed out in torch's shape
            fold = {str(i): [len(g) for g in dim_groups(n)] for i, (n, _) in enumerate(tensors)
                    if isinstance(n, torch.fx.Node) and is_folded(n)}  # fmt: skip
            if fold:
                structure["fold"] = fold
        elif node.op == "get_attr":
            raise UnsupportedOpError(f"get_attr node {node.target} (control flow or submodules) at {source_line(node)}")
    lo.builder.insert(ReturnOp(*outputs))
    func = FuncOp(name, ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    if structure["inputs"] is not None or "fold" in structure:
        func.attributes[STRUCTURE] = StringAttr(json.dumps(structure, separators=(",", ":")))
    module = ModuleOp([func])
    verify_with_locations(module)
    return module


