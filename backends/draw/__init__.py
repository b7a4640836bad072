"""hybridize.backends.draw: pictures of the IR, the fusion and the memory plan.

    >>> import hybridize
    >>> module = hybridize.optimize(hybridize.trace(net, x), "canonicalize,fuse,plan")
    >>> hybridize.draw(module, "model.svg")          # also .dot, .png
    >>> hybridize.draw_plan(module, "model.plan.svg")  # the arena as a timeline
    >>> from hybridize.backends.draw import write_report
    >>> write_report(module, "canonicalize,fuse,plan", "report.html")  # every stage, in a browser

Graphs are drawn with the `graphviz` Python package and Graphviz's `dot`;
the plan timeline and the report are written directly. Same IR, same bytes.
"""

from __future__ import annotations

from pathlib import Path

from hybridize.backends.draw.dot import (
    MAX_OPS,
    RANKDIRS,
    DrawError,
    DrawOptions,
    render,
    to_dot,
)
from xdsl.dialects.builtin import ModuleOp

FORMATS = {".svg": "svg", ".dot": "dot", ".gv": "dot", ".png": "png", ".pdf": "pdf"}
"""Formats `draw` picks by file suffix."""


def draw(
    module: ModuleOp,
    path: str | Path | None = None,
    *,
    format: str | None = None,
    collapse_fused: bool = False,
    rankdir: str = "TB",
    max_ops: int = MAX_OPS,
    legend: bool = True,
) -> str | bytes:
    """Draw `module`'s `@forward` and return the picture (SVG or DOT text,
    bytes for binary formats); with `path`, also write it there, the format
    taken from the suffix (`.svg`, `.dot`, `.png`, `.pdf`) unless `format` says.

    One node per op (constants folded into their consumers), one cluster per
    fused region (or one node with `collapse_fused`), buffers after `plan`.
    `rankdir` is the layout direction (TB, LR, BT, RL); graphs over `max_ops`
    op nodes are refused with a DrawError rather than laid out for minutes.
    """
    if format is None:
        suffix = Path(path).suffix.lower() if path is not None else ".svg"
        if suffix not in FORMATS:
            raise DrawError(f"cannot tell the picture format of {str(path)!r}: use one of {', '.join(FORMATS)} or format=")
        format = FORMATS[suffix]
    source = to_dot(module, DrawOptions(collapse_fused, rankdir, max_ops, legend))
    if format == "dot":
        out: str | bytes = source
    else:
        data = render(source, format)
        out = data.decode("utf-8") if format == "svg" else data
    if path is not None:
        if isinstance(out, str):
            Path(path).write_text(out, encoding="utf-8")
        else:
            Path(path).write_bytes(out)
    return out


def draw_plan(module: ModuleOp, path: str | Path | None = None) -> str:
    """The memory plan of `@forward` as an SVG timeline (x: op index,
    y: arena offset, one rectangle per buffer, the lower bound as a line);
    returns the SVG text and writes it to `path` if given. Needs `plan` first."""
    from hybridize.backends.draw.plan import plan_svg

    svg = plan_svg(module)
    if path is not None:
        Path(path).write_text(svg, encoding="utf-8")
    return svg


def write_report(module: ModuleOp, pipeline: str, path: str | Path | None = None, **options) -> str:
    """Run `pipeline` pass by pass on a copy of `module` and return one
    self-contained HTML page (written to `path` if given) with, per stage,
    the graph, op counts, the pass's wall time, the arena against its lower
    bound and the IR. Keyword options are `draw`'s layout options."""
    from hybridize.backends.draw.report import record_stages, report_html

    stages = record_stages(module.clone(), pipeline, DrawOptions(**options))
    html = report_html(stages, pipeline)
    if path is not None:
        Path(path).write_text(html, encoding="utf-8")
    return html


__all__ = ["FORMATS", "MAX_OPS", "RANKDIRS", "DrawError", "DrawOptions", "draw", "draw_plan", "render", "to_dot", "write_report"]
