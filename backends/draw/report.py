"""The pipeline explorer: one self-contained HTML page, one tab per stage.

A pipeline `canonicalize,fuse,plan` gives four stages: `00 input`,
`01 canonicalize`, `02 fuse`, `03 plan`. The passes run here one at a time
(the module is verified after each, as `run_pipeline` does), and after each
the stage is recorded: the graph (SVG by `dot`), the memory plan timeline
when there is a plan, the op count by op name (with the change from the stage
before), the pass's wall time, the arena against its lower bound, and the IR
text (dense constants elided).

The page needs no network: styles, script and pictures are inline, and a
Content-Security-Policy forbids every fetch. Keys: `←`/`→` (or `j`/`k`) step
through stages, `1`-`9` jump, `+`/`-` zoom the graph, `0` fits it, `i` opens
the IR; stages are links, and `report.html#stage=2` opens stage 2.

    >>> from hybridize.backends.draw import write_report
    >>> write_report(module, "canonicalize,fuse,plan", "report.html")
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hybridize.backends.draw.dot import DrawError, DrawOptions, render, to_dot
from hybridize.backends.draw.text import clean, human_bytes, xml
from hybridize.ir.attributes import ARENA, ArenaAttr
from hybridize.ir.module import forward_func, print_module
from hybridize.ir.structure import ConstantOp, FusedOp
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import ReturnOp
from xdsl.passes import ModulePass

IR_LIMIT = 1 << 20
"""Characters of IR text kept per stage (after eliding constants)."""


_NOT_COUNTED = ("hy.constant", "hy.fused", "hy.yield", "func.return")


@dataclass
class Stage:
    """What one stage of a pipeline looked like."""

    index: int
    name: str
    seconds: float | None  # wall time of the pass that made it (None: the input)
    op_counts: dict[str, int]
    kernels: int  # top-level computing ops: what runs one after another
    fused: int
    arena: tuple[int, int, int] | None  # bytes, lower bound, no reuse (batch 1)
    ir: str
    svg: str | None = None
    plan_svg: str | None = None
    draw_error: str | None = None
    func_name: str = "forward"
    ops_total: int = field(init=False)

    def __post_init__(self):
        self.ops_total = sum(n for name, n in self.op_counts.items() if name not in _NOT_COUNTED)

    @property
    def slug(self) -> str:
        return stage_slug(self.index, self.name)


def stage_slug(index: int, name: str) -> str:
    """`02-fuse`: file-name-safe, and sorted like the pipeline."""
    return f"{index:02d}-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "pass")


def run_stages(
    module: ModuleOp,
    pipeline: str | list[ModulePass],
    on_stage: Callable[[int, str, ModuleOp, float | None], None],
) -> ModuleOp:
    """Run `pipeline` on `module` in place, one pass at a time, calling
    `on_stage(index, name, module, seconds)` for the input and after every
    pass. A failing pass raises PipelineError naming it and the ones before."""
    from hybridize.ir.dialect import make_context
    from hybridize.passes import PipelineError, first_line, parse_pipeline

    passes = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
    ctx = make_context()
    on_stage(0, "input", module, None)
    done: list[str] = []
    for i, p in enumerate(passes, 1):
        try:
            start = time.perf_counter()
            p.apply(ctx, module)
            seconds = time.perf_counter() - start
            module.verify()
        except Exception as e:
            before = f" (after {', '.join(done)})" if done else ""
            raise PipelineError(f"pass '{p.name}'{before} failed: {first_line(e)}") from e
        done.append(p.name)
        on_stage(i, p.name, module, seconds)
    return module


_DENSE_HEX = re.compile(r'dense<"0x([0-9A-Fa-f]{32})([0-9A-Fa-f]*)">')


def elide_constants(text: str) -> str:
    """IR text with long hex constants cut to their first 16 bytes."""

    def cut(m: re.Match) -> str:
        if not m[2]:
            return m[0]
        return f'dense<"0x{m[1]}…" ({(len(m[1]) + len(m[2])) // 2} bytes)>'

    return _DENSE_HEX.sub(cut, text)


def snapshot(index: int, name: str, module: ModuleOp, seconds: float | None, options: DrawOptions,
             pictures: bool = True) -> Stage:
    """Record one stage (drawing it unless `pictures` is False). A graph over
    the size limit is noted in the stage, not raised: the rest still helps."""
    from hybridize.backends.draw.plan import plan_svg

    func = forward_func(module)
    counts = Counter(op.name for op in module.walk() if op is not module and op is not func)
    block = func.body.block
    kernels = sum(1 for op in block.ops if not isinstance(op, ConstantOp | ReturnOp))
    fused = sum(1 for op in block.ops if isinstance(op, FusedOp))
    arena_attr = func.attributes.get(ARENA)
    arena = arena_attr.at(1) if isinstance(arena_attr, ArenaAttr) else None
    ir = elide_constants(print_module(module))
    if len(ir) > IR_LIMIT:
        ir = ir[:IR_LIMIT] + f"\n… ({len(ir) - IR_LIMIT} more characters)\n"
    stage = Stage(index, name, seconds, dict(sorted(counts.items())), kernels, fused, arena, ir,
                  func_name=func.sym_name.data)
    if pictures:
        try:
            stage.svg = render(to_dot(module, options), "svg").decode("utf-8")
        except DrawError as e:
            if "not found" in str(e):  # no `dot` at all: say so once, loudly
                raise
            stage.draw_error = str(e)
        if arena is not None:
            stage.plan_svg = plan_svg(module)
    return stage


def record_stages(module: ModuleOp, pipeline: str | list[ModulePass], options: DrawOptions | None = None) -> list[Stage]:
    """Run `pipeline` on `module` (in place) and return every stage."""
    options = options or DrawOptions()
    stages: list[Stage] = []
    run_stages(module, pipeline, lambda i, n, m, s: stages.append(snapshot(i, n, m, s, options)))
    return stages


def write_stage_pictures(module: ModuleOp, pipeline: str | list[ModulePass], directory: str | Path,
                         options: DrawOptions | None = None) -> list[Path]:
    """Run `pipeline` on `module` (in place), writing `DIR/00-input.svg`,
    `DIR/01-canonicalize.svg`, ...: the picture analogue of
    `--print-between-passes`. Returns the files written."""
    options = options or DrawOptions()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def on_stage(index: int, name: str, m: ModuleOp, seconds: float | None):
        path = out / (stage_slug(index, name) + ".svg")
        path.write_bytes(render(to_dot(m, options), "svg"))
        written.append(path)

    run_stages(module, pipeline, on_stage)
    return written


# -- the page ------------------------------------------------------------------

_PROLOG = re.compile(r"^(<\?xml[^>]*>|<!DOCTYPE[^>]*>|<!--.*?-->|\s)+", re.DOTALL)


def inline_svg(svg: str, prefix: str) -> str:
    """An SVG document as an element of the page: no prolog, ids prefixed
    (every stage's graph has an `op0`)."""
    svg = _PROLOG.sub("", svg)
    svg = re.sub(r'\bid="', f'id="{prefix}', svg)
    return svg.replace("url(#", f"url(#{prefix}")


def _seconds(s: float | None) -> str:
    if s is None:
        return "—"
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def _arena(arena: tuple[int, int, int] | None) -> str:
    if arena is None:
        return "no plan yet"
    size, bound, no_reuse = arena
    ratio = f"{100 * size / bound:.0f}% of the bound" if bound else "empty"
    return (f"{human_bytes(size)} · lower bound {human_bytes(bound)} ({ratio}) · "
            f"no reuse {human_bytes(no_reuse)}")


def _op_table(stage: Stage, before: Stage | None) -> str:
    rows = []
    names = sorted(set(stage.op_counts) | set(before.op_counts if before else ()))
    for name in names:
        n = stage.op_counts.get(name, 0)
        delta = ""
        if before is not None:
            d = n - before.op_counts.get(name, 0)
            delta = f'<td class="{"up" if d > 0 else "down" if d < 0 else ""}">{d:+d}</td>' if d else "<td></td>"
        rows.append(f"<tr><td><code>{xml(clean(name, 60))}</code></td><td>{n}</td>{delta}</tr>")
    head = "<tr><th>op</th><th>count</th>" + ("<th>change</th>" if before is not None else "") + "</tr>"
    return f'<table class="ops">{head}{"".join(rows)}</table>'


def _section(stage: Stage, before: Stage | None, active: bool) -> str:
    title = f"{stage.index:02d} · {stage.name}"
    facts = [
        ("pass time", _seconds(stage.seconds)),
        ("ops", f"{stage.ops_total} computing ops (not counted: constants, fused wrappers, terminators)"),
        ("kernels", f"{stage.kernels} top-level ops, {stage.fused} fused regions"),
        ("arena", _arena(stage.arena)),
    ]
    dl = "".join(f"<dt>{xml(k)}</dt><dd>{xml(v)}</dd>" for k, v in facts)
    prefix = f"s{stage.index}-"
    if stage.svg is not None:
        graph = f'<div class="view graph" tabindex="0">{inline_svg(stage.svg, prefix)}</div>'
    else:
        graph = f'<p class="note">graph not drawn: {xml(clean(stage.draw_error or "", 300))}</p>'
    plan = ""
    if stage.plan_svg is not None:
        plan = f'<h3>memory plan</h3><div class="view plan">{inline_svg(stage.plan_svg, prefix + "plan-")}</div>'
    return (
        f'<section class="stage{" active" if active else ""}" id="stage-{stage.index}" data-stage="{stage.index}" '
        f'aria-label="{xml(title)}">'
        f"<h2>{xml(title)}</h2><dl class=\"facts\">{dl}</dl>"
        f"<h3>graph</h3>{graph}{plan}"
        f'<div class="cols"><div><h3>ops by name</h3>{_op_table(stage, before)}</div>'
        f'<details class="ir"><summary>IR after {xml(clean(stage.name, 60))}</summary><pre>{xml(stage.ir)}</pre></details></div>'
        "</section>"
    )


_STYLE = """
*{box-sizing:border-box}body{margin:0;font:14px/1.4 Helvetica,Arial,sans-serif;color:#212529;background:#fff}
header{padding:10px 16px;border-bottom:1px solid #dee2e6;background:#f8f9fa}header h1{font-size:18px;margin:0}
header p{margin:4px 0 0;color:#495057}kbd{border:1px solid #adb5bd;border-radius:3px;padding:0 4px;background:#fff;font-size:12px}
#app{display:flex;min-height:calc(100vh - 64px)}nav{width:240px;flex:none;border-right:1px solid #dee2e6;padding:8px}
nav ol{list-style:none;margin:0;padding:0}nav a{display:block;padding:6px 8px;margin:2px 0;border-radius:4px;color:#212529;text-decoration:none;border-left:4px solid transparent}
nav a:hover{background:#e7f5ff}nav a.active{background:#d0ebff;border-left-color:#1c7ed6;font-weight:bold}
nav small{display:block;font-weight:normal;color:#495057}main{flex:1;min-width:0;padding:8px 16px}
section.stage{display:none}section.stage.active{display:block}h2{margin:4px 0 8px}h3{margin:14px 0 6px;font-size:15px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}dt{color:#495057}dd{margin:0}
.view{overflow:auto;max-height:78vh;border:1px solid #dee2e6;border-radius:4px;background:#fff;cursor:grab}
.view.dragging{cursor:grabbing}.view svg{display:block}.note{color:#c92a2a}
.cols{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}table.ops{border-collapse:collapse}
table.ops td,table.ops th{padding:2px 8px;border-bottom:1px solid #f1f3f5;text-align:left}
td.up{color:#2b8a3e}td.down{color:#c92a2a}details.ir{flex:1;min-width:320px;margin-top:14px}
pre{overflow:auto;max-height:70vh;background:#f8f9fa;padding:8px;font-size:12px}
"""

_SCRIPT = """
(function () {
  var sections = Array.prototype.slice.call(document.querySelectorAll('section.stage'));
  var links = Array.prototype.slice.call(document.querySelectorAll('nav a[data-stage]'));
  var current = 0, zoom = {};
  function clamp(i) { return Math.max(0, Math.min(sections.length - 1, i)); }
  function svgOf(i) { return sections[i].querySelector('.graph svg'); }
  function natural(svg) {
    if (!svg.dataset.w) { var b = svg.viewBox.baseVal; svg.dataset.w = b.width; svg.dataset.h = b.height; }
    return [parseFloat(svg.dataset.w), parseFloat(svg.dataset.h)];
  }
  function applyZoom(i) {
    var svg = svgOf(i); if (!svg) return;
    var n = natural(svg), view = svg.parentNode;
    if (zoom[i] === undefined) zoom[i] = Math.min(1.33, (view.clientWidth - 4) / n[0]) || 1;
    svg.setAttribute('width', (n[0] * zoom[i]).toFixed(0) + 'px');
    svg.setAttribute('height', (n[1] * zoom[i]).toFixed(0) + 'px');
  }
  function show(i) {
    current = clamp(i);
    sections.forEach(function (s, k) { s.classList.toggle('active', k === current); });
    links.forEach(function (a, k) {
      a.classList.toggle('active', k === current);
      if (k === current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    });
    applyZoom(current);
  }
  function go(i) { location.hash = 'stage=' + clamp(i); }
  function fromHash() { var m = /stage=(\\d+)/.exec(location.hash); show(m ? parseInt(m[1], 10) : 0); }
  function setZoom(f) {
    var svg = svgOf(current); if (!svg) return;
    var n = natural(svg), view = svg.parentNode;
    zoom[current] = f === 0 ? (view.clientWidth - 4) / n[0] : Math.max(0.05, Math.min(8, zoom[current] * f));
    applyZoom(current);
  }
  window.addEventListener('hashchange', fromHash);
  document.addEventListener('keydown', function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var k = e.key;
    if (k === 'ArrowRight' || k === 'j' || k === 'PageDown') go(current + 1);
    else if (k === 'ArrowLeft' || k === 'k' || k === 'PageUp') go(current - 1);
    else if (k === 'Home') go(0);
    else if (k === 'End') go(sections.length - 1);
    else if (/^[1-9]$/.test(k)) go(parseInt(k, 10) - 1);
    else if (k === '+' || k === '=') setZoom(1.25);
    else if (k === '-') setZoom(0.8);
    else if (k === '0') setZoom(0);
    else if (k === 'i') { var d = sections[current].querySelector('details.ir'); if (d) d.open = !d.open; }
    else return;
    e.preventDefault();
  });
  Array.prototype.forEach.call(document.querySelectorAll('.view'), function (view) {
    var drag = null;
    view.addEventListener('mousedown', function (e) {
      drag = [e.clientX, e.clientY, view.scrollLeft, view.scrollTop]; view.classList.add('dragging'); e.preventDefault();
    });
    window.addEventListener('mousemove', function (e) {
      if (!drag) return;
      view.scrollLeft = drag[2] - (e.clientX - drag[0]); view.scrollTop = drag[3] - (e.clientY - drag[1]);
    });
    window.addEventListener('mouseup', function () { drag = null; view.classList.remove('dragging'); });
    view.addEventListener('wheel', function (e) {
      if (!e.ctrlKey || !view.classList.contains('graph')) return;
      e.preventDefault(); setZoom(e.deltaY < 0 ? 1.1 : 0.9);
    }, {passive: false});
  });
  fromHash();
})();
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def report_html(stages: list[Stage], pipeline: str | list[ModulePass]) -> str:
    """The explorer page for recorded stages (see the module docstring)."""
    if not isinstance(pipeline, str):
        pipeline = ",".join(p.name for p in pipeline)
    func = stages[0].func_name if stages else "forward"
    heading = f"hybridize · @{clean(func, 60)}"
    nav = []
    for s in stages:
        sub = f"{s.ops_total} ops · {s.kernels} kernels · {_seconds(s.seconds)}"
        if s.arena is not None:
            sub += f" · arena {human_bytes(s.arena[0])}"
        active = ' class="active" aria-current="page"' if s.index == 0 else ""
        nav.append(
            f'<li><a href="#stage={s.index}" data-stage="{s.index}"{active}>'
            f"{xml(f'{s.index:02d} {clean(s.name, 40)}')}<small>{xml(sub)}</small></a></li>"
        )
    sections = [_section(s, stages[i - 1] if i else None, i == 0) for i, s in enumerate(stages)]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{xml(heading)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{xml(heading)}</h1><p>pipeline <code>{xml(clean(pipeline or '(none)', 200))}</code> · "
        "<kbd>←</kbd> <kbd>→</kbd> stages · <kbd>1</kbd>–<kbd>9</kbd> jump · <kbd>+</kbd> <kbd>−</kbd> zoom, "
        "<kbd>0</kbd> fit · <kbd>i</kbd> IR · drag to pan</p></header>"
        f'<div id="app"><nav aria-label="stages"><ol>{"".join(nav)}</ol></nav>'
        f"<main>{''.join(sections)}</main></div>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
