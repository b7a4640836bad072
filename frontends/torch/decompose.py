"""Lowering with the decomposition fallback: ops hybridize does not convert
are decomposed to the Core ATen opset, and only the ones still unmapped
after that are refused.

    >>> ep = torch.export.export(model.eval(), (x,))   # holds aten.unflatten.int, aten.einsum
    >>> lower_program(ep)                              # decomposed: view, permute, bmm; the rest whole

The rounds, until the graph lowers or nothing is left to decompose:

1. Scan the graph for ops with no converter and for in-place ops whose
   effect another node could observe (an in-place op on a view, or on a
   tensor read again afterwards: the training dialect keeps the mutation,
   so only functionalization gives each read its right value).
2. If there are any, run `ep.run_decompositions(table)` with torch's default
   core table minus every op that has a converter (`fallback_table`): ops
   we convert stay whole (attention, layer norm, linear, ...), everything
   else becomes Core ATen, functionalized.
3. Lower; an op still unmapped is refused naming it, the user's line and
   the reason from `core_aten.REFUSED`. A converter that refuses its
   arguments (`pad` in reflect mode, ...) and whose op torch can decompose
   gets that op decomposed too, and the lowering is retried; if that fails
   as well, the first refusal is what the user sees.

Decomposed nodes keep their `stack_trace`, so errors still name the user's
line. `decompose=True` (the whole graph to Core ATen, scaled dot-product
attention kept whole, see `nn.decompositions`) runs first when asked.
"""

from __future__ import annotations

import operator

from xdsl.dialects.builtin import ModuleOp

from hybridize.frontends.torch.lowering import CONVERTERS, UnsupportedOpError, lower_exported_program, source_line

IGNORED = {"aten._assert_tensor_metadata.default"}
"""Call targets the walker skips (no effect on values)."""

MAX_ROUNDS = 6
"""Decomposition rounds before giving up (each round lowers ops by at least one level)."""


def lower_program(ep, *, decompose: bool = False, name: str = "forward") -> ModuleOp:
    """Lower an `ExportedProgram`, decomposing what has no converter."""
    if decompose:
        from hybridize.frontends.torch.nn import decompositions

        ep = ep.run_decompositions(decompositions())
    also: set[str] = set()  # ops with a converter that refused; decomposed from now on
    first_refusal = None  # what the user is told if decomposing the refused ops does not help either
    done = None  # the `also` of the last decomposition: one run decomposes all it can
    for _ in range(MAX_ROUNDS):
        graph = ep.graph_module.graph
        try:
            if done != also and (needs_decomposition(graph) or also & set(_targets(graph))):
                ep = ep.run_decompositions(fallback_table(also))
                done = set(also)
            return _lower(ep, name)
        except UnsupportedOpError as e:
            op = getattr(e, "op", None)
            if op is None or op in also or not _decomposable(ep, op):
                if first_refusal is not None:
                    raise first_refusal from e
                raise
            first_refusal = first_refusal or e
            also.add(op)
    raise first_refusal


def _lower(ep, name: str) -> ModuleOp:
    try:
        return lower_exported_program(ep, name)
    except UnsupportedOpError as e:
        if getattr(e, "op", None) is None:  # the walker met an op with no converter: say why
            _refuse_unmapped(ep.graph_module.graph)
        raise


def _refuse_unmapped(graph) -> None:
    """Raise for the first op (in graph order) with no converter, as the
    walker met it: its name, the user's line and why."""
    from hybridize.frontends.torch.core_aten import REFUSED

    unmapped = set(unmapped_ops(graph, aten_only=False))
    for node in graph.nodes:
        op = str(node.target)
        if node.op == "call_function" and op in unmapped:
            why = REFUSED.get(op, "hybridize has no converter for it and torch no decomposition")
            raise UnsupportedOpError(
                f"unsupported op {op} at {source_line(node)}: {why}. Supported: "
                f"hybridize.frontends.torch.supported_ops() ({len(CONVERTERS)} ops); Core ATen coverage: "
                "python -m hybridize.frontends.torch.core_aten -v"
            )


def _targets(graph) -> list[str]:
    return [str(n.target) for n in graph.nodes if n.op == "call_function"]


def unmapped_ops(graph, aten_only: bool = True) -> list[str]:
    """The call targets of `graph` that have no converter, in graph order:
    ATen ops (which torch may decompose), or also Python builtins on sizes."""
    seen: dict[str, None] = {}
    for node in graph.nodes:
        if aten_only and not hasattr(node.target, "_schema"):
            continue
        if node.op == "call_function" and node.target is not operator.getitem:
            target = str(node.target)
            if target not in CONVERTERS and target not in IGNORED:
                seen[target] = None
    return list(seen)


def needs_decomposition(graph) -> bool:
    """Whether `graph` holds an op with no converter or an in-place op that
    only functionalization lowers right (see `observable_mutations`)."""
    return bool(unmapped_ops(graph) or observable_mutations(graph))


def observable_mutations(graph) -> list:
    """In-place nodes whose effect a functional reading would lose: the
    mutated tensor is a graph input, a view of another tensor, or read by
    any node other than the in-place op. `relu_` on a fresh conv output is
    none of these and lowers as `relu`."""
    found = []
    for node in graph.nodes:
        if node.op != "call_function" or not hasattr(node.target, "_schema"):
            continue
        schema = node.target._schema
        if not schema.is_mutable or not node.args:
            continue
        target = node.args[0]
        if not hasattr(target, "op"):
            continue
        if target.op != "call_function" or _is_view(target) or len(target.users) > 1:
            found.append(node)
    return found


def _is_view(node) -> bool:
    """An op whose result aliases its input (view, slice, transpose, ...)."""
    schema = getattr(node.target, "_schema", None)
    if schema is None or not schema.returns:
        return False
    alias = schema.returns[0].alias_info
    return alias is not None and not alias.is_write


def fallback_table(also=()) -> dict:
    """torch's default decomposition table (to Core ATen) without the ops that
    have a converter, except those in `also` (converters that refused)."""
    import torch

    table = torch.export.default_decompositions()
    for op in list(table.keys()):
        name = str(op)
        if name in CONVERTERS and name not in also:
            del table[op]
    return table


def _decomposable(ep, op: str) -> bool:
    import torch

    table = torch.export.default_decompositions()
    for node in ep.graph_module.graph.nodes:
        if node.op == "call_function" and str(node.target) == op:
            return isinstance(node.target, torch._ops.OpOverload) and node.target in table
    return False
