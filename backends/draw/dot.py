"""The DOT graph of a `hy` module: what the compiler did, in one picture.

One node per op of `@forward` (op name, result type, the attributes that
matter, the constants it reads folded in as `name shape` rows, and after
`plan` its buffer), edges labelled with tensor shapes, the function's inputs
and outputs as nodes of their own, one cluster per `hy.fused` region holding
its ops (or one node per region with `collapse_fused`), colours by op family
and a legend. Node ids are positional (`in0`, `op7`, `out0`, `cluster_f2`),
so the same IR gives the same DOT text and, through `dot`, the same SVG.

    >>> print(to_dot(parse_module(MLP)))
    digraph hybridize {
        graph [... label=<...<b>@forward</b>...> labelloc=t ... rankdir=TB ...]
        in0 [label=<...<b>input</b> %x...2x8 f32...> fillcolor="#fff3bf" id=in0 shape=invhouse]
        op0 [label=<...<b>linear</b> ...%0...2x6 f32...◆ %w0 6x8 f32...◆ %b0 6 f32...> ...]
        ...
        in0 -> op0 [label=<2x8>]

Every string from the IR is hostile: labels are Graphviz HTML-like labels
built here from `label_text` (one line, XML-escaped, backslashes doubled so
dot expands no `\\N`), tooltips are XML-escaped and go through
`graphviz.escape` and the package's quoting.
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridize.backends.draw.text import (
    clean,
    family,
    human_bytes,
    location_text,
    type_text,
    value_names,
    xml,
)
from hybridize.errors import BackendError
from hybridize.ir.attributes import ARENA, BUF, ArenaAttr, BufferAttr, affine_text
from hybridize.ir.base import ViewLike
from hybridize.ir.module import direct_outputs, forward_func
from hybridize.ir.structure import ConstantOp, FusedOp, YieldOp
from hybridize.ir.types import num_elements, shape_of
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    UnitAttr,
)
from xdsl.dialects.func import ReturnOp
from xdsl.ir import Attribute, Operation, SSAValue


def label_text(text: str, limit: int = 80) -> str:
    """Text for a Graphviz HTML-like label: one line, XML-escaped, and
    backslashes doubled (dot expands `\\N` and friends even in HTML labels)."""
    return xml(clean(text, limit)).replace("\\", "\\\\")

MAX_OPS = 5000
"""Graphs with more drawn nodes than this are refused: `dot` would run for
minutes. Raise it per call (`max_ops=`, `opt-tool --draw-max-ops`)."""

RANKDIRS = ("TB", "LR", "BT", "RL")

LARGE = 300
"""From this many op nodes on, `dot` spends less effort on crossings and
ranking (`mclimit`, `nslimit`): a 2,000-op graph then lays out in seconds
instead of half a minute, with a few more edge crossings."""
FAST_LAYOUT = {"mclimit": "0.1", "nslimit": "0.2", "nslimit1": "0.2"}

FAMILIES: dict[str, tuple[str, str]] = {
    # family -> (legend text, fill colour)
    "linalg": ("linear algebra", "#ffc078"),
    "nn": ("nn (conv, pool, norm, attention)", "#ffa8a8"),
    "elementwise": ("elementwise", "#a5d8ff"),
    "reduce": ("reduction", "#b2f2bb"),
    "shape": ("shape / view", "#dee2e6"),
    "indexing": ("indexing", "#d0bfff"),
    "structure": ("structure", "#fff3bf"),
    "other": ("other dialects", "#ffffff"),
}
INPUT_COLOUR, OUTPUT_COLOUR, FUSED_COLOUR = "#fff3bf", "#ffe8cc", "#f1f3f5"
PLAN_COLOUR = "#1864ab"
FONT = "Helvetica"


class DrawError(BackendError):
    """A picture cannot be made: no `dot`, no plan to draw, a graph over the
    size limit. The message is one line saying what to do."""


@dataclass(frozen=True)
class DrawOptions:
    """How a graph is drawn (`opt-tool --draw-*` flags map onto these)."""

    collapse_fused: bool = False
    """Draw each `hy.fused` region as one node listing its ops."""
    rankdir: str = "TB"
    """Layout direction: TB (top to bottom), LR, BT or RL."""
    max_ops: int = MAX_OPS
    """Refuse graphs with more drawn op nodes than this."""
    legend: bool = True
    """Add a legend of the op families present and the node kinds."""

    def __post_init__(self):
        if self.rankdir not in RANKDIRS:
            raise DrawError(f"layout direction {self.rankdir!r}: choose one of {', '.join(RANKDIRS)}")
        if self.max_ops < 1:
            raise DrawError(f"max_ops must be positive, got {self.max_ops}")


def _graphviz():
    try:
        import graphviz
    except ImportError:
        raise DrawError(
            "drawing needs the `graphviz` Python package: pip install graphviz "
            "(and Graphviz's `dot`: apt-get install graphviz)"
        ) from None
    return graphviz


def _row(html: str, size: int | None = None, colour: str | None = None) -> str:
    """One label row; `html` is already escaped."""
    if size or colour:
        attrs = (f' point-size="{size}"' if size else "") + (f' color="{colour}"' if colour else "")
        html = f"<font{attrs}>{html}</font>"
    return f"<tr><td>{html}</td></tr>"


def _table(rows: list[str]) -> str:
    return '<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">' + "".join(rows) + "</table>>"


def attr_text(attr: Attribute) -> str | None:
    """A property value in a few characters, or None when it is not worth
    showing (large, or a constant's data)."""
    if isinstance(attr, DenseArrayBase):
        return "[" + ", ".join(str(v) for v in attr.get_values()) + "]"
    if isinstance(attr, IntegerAttr):
        return str(attr.value.data)
    if isinstance(attr, FloatAttr):
        return f"{attr.value.data:.6g}"
    if isinstance(attr, UnitAttr):
        return ""
    if isinstance(attr, StringAttr):
        return '"' + attr.data + '"'
    if isinstance(attr, ArrayAttr) and len(attr.data) <= 8:
        parts = [attr_text(a) for a in attr.data]
        if all(p is not None for p in parts):
            return "[" + ", ".join(parts) + "]"
    text = str(attr)
    return text if len(text) <= 40 else None


def op_attributes(op: Operation) -> list[str]:
    """`stride [2, 2]`, `causal`, ...: the op's properties that differ from
    their defaults, in declaration order (escaped)."""
    if isinstance(op, ConstantOp):
        return []
    try:
        defs = type(op).get_irdl_definition().properties
    except AttributeError:
        defs = {}
    out = []
    for name, attr in op.properties.items():
        if name in ("operandSegmentSizes", "resultSegmentSizes"):
            continue
        default = getattr(defs.get(name), "default_value", None)
        if default is not None and attr == default:
            continue
        text = attr_text(attr)
        if text is None:
            continue
        out.append(label_text(f"{name} {text}".strip(), 48))
    return out


def constant_row(const: ConstantOp, names: dict[SSAValue, str]) -> str:
    """`◆ %w 256x512 f32`, with the value when it is one number."""
    text = f"{names.get(const.result, '%?')} {type_text(const.result.type)}"
    if num_elements(shape_of(const.result)) == 1:
        value = const.numpy().reshape(()).item()
        text += f" = {value:.4g}" if isinstance(value, float) else f" = {value}"
    return label_text("◆ " + text, 62)


def buffer_row(buf: BufferAttr, op: Operation, names: dict[SSAValue, str]) -> str:
    """`@2048 · 2 KiB · live 121-125 · in place of %x` (escaped)."""
    offset = affine_text(*buf.offsets)
    size = human_bytes(buf.bytes.data) if not buf.bytes_n.data else affine_text(*buf.sizes) + " B"
    text = f"@{offset} · {size} · live {buf.start.data}–{buf.end.data}"
    if buf.inplace.data >= 0 and buf.inplace.data < len(op.operands):
        text += f" · in place of {names.get(op.operands[buf.inplace.data], '%?')}"
    return label_text(text, 80)


class _Builder:
    """Walks `@forward` once, adding nodes and edges to a graphviz Digraph."""

    def __init__(self, module: ModuleOp, options: DrawOptions):
        graphviz = _graphviz()
        self.options = options
        self.func = forward_func(module)
        self.names = value_names(module)
        self.planned = ARENA in self.func.attributes
        self.direct = direct_outputs(self.func) if self.planned else {}
        self.source: dict[SSAValue, str] = {}  # value -> node id drawing it
        self.consts: dict[SSAValue, ConstantOp] = {}
        self.families: set[str] = set()
        self.count = 0
        self.fused_count = 0
        self.folded = False
        self.edges: list[tuple[str, str, str]] = []
        self.graph = graphviz.Digraph(
            "hybridize",
            graph_attr={
                "rankdir": options.rankdir,
                "fontname": FONT,
                "fontsize": "12",
                "labelloc": "t",
                "nodesep": "0.25",
                "ranksep": "0.35",
                "label": self.title(),
            },
            node_attr={"fontname": FONT, "fontsize": "11", "shape": "box", "style": "rounded,filled", "margin": "0.08,0.04"},
            edge_attr={"fontname": FONT, "fontsize": "9", "color": "#495057", "arrowsize": "0.6"},
        )

    def title(self) -> str:
        rows = [_row("<b>" + label_text("@" + self.func.sym_name.data, 60) + "</b>", 14)]
        arena = self.func.attributes.get(ARENA)
        if isinstance(arena, ArenaAttr):
            size, bound, no_reuse = arena.at(1)
            batch = " (batch 1)" if arena.bytes_n.data else ""
            rows.append(_row(
                label_text(f"arena {human_bytes(size)} · lower bound {human_bytes(bound)} · "
                    f"no reuse {human_bytes(no_reuse)}{batch}"), 11, PLAN_COLOUR,
            ))
        return _table(rows)

    # -- the walk ---------------------------------------------------------
    def build(self):
        if self.check_size() >= LARGE:
            self.graph.graph_attr.update(FAST_LAYOUT)
        block = self.func.body.block
        for i, arg in enumerate(block.args):
            node = f"in{i}"
            rows = [_row("<b>input</b> " + label_text(self.names.get(arg, f"%arg{i}"), 40)),
                    _row(label_text(type_text(arg.type)))]
            self.graph.node(node, _table(rows), id=node, shape="invhouse", fillcolor=INPUT_COLOUR)
            self.source[arg] = node
        for op in block.ops:
            if isinstance(op, ConstantOp):
                self.consts[op.result] = op
            elif isinstance(op, ReturnOp):
                self.outputs(op)
            elif isinstance(op, FusedOp):
                self.fused(op)
            else:
                self.op_node(self.graph, op, self.next_id("op"))
        for src, dst, label in self.edges:
            self.graph.edge(src, dst, label=label)
        if self.options.legend:
            self.legend()
        return self.graph

    def check_size(self):
        block = self.func.body.block
        top = [op for op in block.ops if not isinstance(op, ConstantOp | ReturnOp)]
        inner = sum(len(op.ops) for op in top if isinstance(op, FusedOp))
        fused = sum(1 for op in top if isinstance(op, FusedOp))
        n = len(top) if self.options.collapse_fused else len(top) - fused + inner
        if n > self.options.max_ops:
            hint = " or draw each fused region as one node (collapse_fused=True, --draw-collapse)" if (
                not self.options.collapse_fused and len(top) <= self.options.max_ops) else ""
            raise DrawError(
                f"the graph has {n} ops, over the drawing limit of {self.options.max_ops}: raise the "
                f"limit (max_ops=, opt-tool --draw-max-ops){hint}"
            )
        return n

    def next_id(self, prefix: str) -> str:
        node = f"{prefix}{self.count}"
        self.count += 1
        return node

    def op_rows(self, op: Operation, operands) -> tuple[list[str], list[SSAValue]]:
        """Label rows of a computing op and its non-constant operands."""
        name = op.name.removeprefix("hy.")
        results = " ".join(self.names.get(r, "%?") for r in op.results)
        head = "<b>" + label_text(name, 40) + "</b>"
        if results:
            head += ' <font color="#495057">' + label_text(results, 40) + "</font>"
        rows = [_row(head)]
        if op.results:
            rows.append(_row(label_text(", ".join(type_text(r.type) for r in op.results[:4]))))
        attrs = op_attributes(op)
        if attrs:
            rows.append(_row("<br/>".join(attrs), 9))
        edges = []
        for v in operands:
            const = self.consts.get(v)
            if const is not None:
                rows.append(self.constant_row(const))
            else:
                edges.append(v)
        return rows, edges

    def constant_row(self, const: ConstantOp) -> str:
        self.folded = True
        return _row(constant_row(const, self.names), 9, "#5f3dc4")

    def plan_rows(self, op: Operation) -> list[str]:
        if not self.planned:
            return []
        buf = op.attributes.get(BUF)
        if isinstance(buf, BufferAttr):
            return [_row(buffer_row(buf, op, self.names), 9, PLAN_COLOUR)]
        if any(r in self.direct for r in op.results):
            outs = ", ".join(str(self.direct[r]) for r in op.results if r in self.direct)
            return [_row(label_text(f"writes output {outs}"), 9, PLAN_COLOUR)]
        if op.has_trait(ViewLike) and op.operands:
            return [_row(label_text(f"view of {self.names.get(op.operands[0], '%?')}", 60), 9, PLAN_COLOUR)]
        return []

    def tooltip(self, op: Operation) -> str:
        graphviz = _graphviz()
        parts = [op.name]
        loc = location_text(op)
        if loc:
            parts.append(loc)
        # Graphviz decodes entities in every string, so XML-escaping keeps
        # quotes and markup out of the DOT text. A backslash cannot be shown
        # safely in a quoted string (`\\N` is expanded after unquoting), so it
        # is drawn as U+29F5.
        return graphviz.escape(xml(clean(" ".join(parts), 200).replace("\\", "\u29f5")))

    def op_node(self, graph, op: Operation, node: str):
        fam = family(op)
        self.families.add(fam)
        rows, edges = self.op_rows(op, op.operands)
        rows += self.plan_rows(op)
        graph.node(node, _table(rows), id=node, fillcolor=FAMILIES[fam][1], tooltip=self.tooltip(op))
        for v in edges:
            self.edge(v, node)
        for r in op.results:
            self.source[r] = node

    def edge(self, value: SSAValue, node: str):
        src = self.source.get(value)
        if src is None:  # a value defined outside what we draw
            return
        # Emitted after all nodes, so a node is declared in its cluster before
        # any edge names it.
        self.edges.append((src, node, "<" + label_text(type_text(value.type, dtype=False)) + ">"))

    def fused(self, op: FusedOp):
        k = f"f{self.fused_count}"
        self.fused_count += 1
        inner = op.ops
        if self.options.collapse_fused:
            names = " → ".join(o.name.removeprefix("hy.") for o in inner)
            for o in inner:
                self.families.add(family(o))
            rows = [_row(f'<b>fused</b> <font color="#495057">{label_text(" ".join(self.names.get(r, "%?") for r in op.results), 40)}</font>'),
                    _row(label_text(names, 80), 9),
                    _row(label_text(", ".join(type_text(r.type) for r in op.results[:4])))]
            for v in op.inputs:
                if v in self.consts:
                    rows.append(self.constant_row(self.consts[v]))
            rows += self.plan_rows(op)
            node = self.next_id("op")
            anchor = family(inner[0]) if inner else "structure"
            self.graph.node(node, _table(rows), id=node, fillcolor=FAMILIES[anchor][1], peripheries="2",
                            tooltip=self.tooltip(op))
            for v in op.inputs:
                if v not in self.consts:
                    self.edge(v, node)
            for r in op.results:
                self.source[r] = node
            return
        # The body reads block arguments: draw them as the outer values they stand for.
        block = op.body.block
        outer = dict(zip(block.args, op.inputs, strict=True))
        for arg, v in outer.items():
            if v in self.consts:
                self.consts[arg] = self.consts[v]
            elif v in self.source:
                self.source[arg] = self.source[v]
        label_rows = [_row("<b>fused</b> " + label_text(" ".join(self.names.get(r, "%?") for r in op.results), 40), 10)]
        label_rows += self.plan_rows(op)
        cluster = f"cluster_{k}"
        with self.graph.subgraph(name=cluster) as c:
            c.attr(label=_table(label_rows), id=cluster, style="rounded,filled", fillcolor=FUSED_COLOUR,
                   color="#868e96", labeljust="l", fontsize="10")
            for inner_op in inner:
                self.op_node(c, inner_op, self.next_id("op"))
        term = block.last_op
        if isinstance(term, YieldOp):
            for r, v in zip(op.results, term.values, strict=True):
                if v in self.source:
                    self.source[r] = self.source[v]
                elif v in self.consts:
                    self.consts[r] = self.consts[v]

    def outputs(self, ret: ReturnOp):
        for i, v in enumerate(ret.operands):
            node = f"out{i}"
            rows = [_row(f"<b>output {i}</b>"), _row(label_text(type_text(v.type)))]
            if v in self.consts:
                rows.append(self.constant_row(self.consts[v]))
            self.graph.node(node, _table(rows), id=node, shape="house", fillcolor=OUTPUT_COLOUR)
            self.edge(v, node)

    def legend(self):
        rows = ['<tr><td colspan="2"><b>legend</b></td></tr>']
        for fam, (text, colour) in FAMILIES.items():
            if fam in self.families:
                rows.append(f'<tr><td bgcolor="{colour}" width="14"> </td><td align="left">{label_text(text)}</td></tr>')
        rows.append(f'<tr><td bgcolor="{INPUT_COLOUR}"> </td><td align="left">input / output</td></tr>')
        if self.fused_count:
            kind = "node with a double border" if self.options.collapse_fused else "region"
            rows.append(f'<tr><td bgcolor="{FUSED_COLOUR}" border="1"> </td><td align="left">fused {kind} '
                        "(one kernel)</td></tr>")
        if self.folded:
            rows.append('<tr><td><font color="#5f3dc4">◆</font></td><td align="left">constant folded into its '
                        "consumer</td></tr>")
        if self.planned:
            rows.append(f'<tr><td><font color="{PLAN_COLOUR}">@</font></td><td align="left">'
                        f'<font color="{PLAN_COLOUR}">buffer: offset · bytes · live steps</font></td></tr>')
        label = '<<table border="0" cellborder="0" cellspacing="2" cellpadding="2">' + "".join(rows) + "</table>>"
        self.graph.node("legend", label, id="legend", shape="box", style="rounded", color="#adb5bd", fontsize="9")


def to_dot(module: ModuleOp, options: DrawOptions | None = None, **kwargs) -> str:
    """The DOT text of `module`'s `@forward` (see the module docstring);
    keyword arguments are `DrawOptions` fields."""
    options = options or DrawOptions(**kwargs)
    return _Builder(module, options).build().source


def render(source: str, format: str = "svg") -> bytes:
    """Run `dot -T<format>` on DOT text; a missing `dot` is one clear DrawError."""
    graphviz = _graphviz()
    try:
        return graphviz.pipe("dot", format, source.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound:
        raise DrawError(
            "Graphviz's `dot` was not found on PATH: install Graphviz "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
        ) from None
    except graphviz.CalledProcessError as e:
        err = (e.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise DrawError(f"dot -T{format} failed: {err[0] if err else e}") from None
    except ValueError as e:  # an unknown format
        raise DrawError(f"dot cannot write {format!r}: {e}") from None
