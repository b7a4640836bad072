"""The memory plan as a timeline SVG, written directly (it is rectangles).

x is time in op indices (the plan's half steps: op k writes at 2k+1), y the
arena offset, one rectangle per buffer from its first to its last live step,
labelled with its value and size. Buffers of one in-place chain share a
colour and a dashed outline (one set of bytes, overwritten op after op). A
dashed line marks the lower bound (the peak of bytes live at once: no plan
can use less), a dotted one the time of that peak; the buffers live at the
peak have a bold border: they are the ones to shrink.

    <svg ... class="hy-plan">
      <text ...>arena 10 KiB · lower bound 10 KiB (100% of the bound) ...</text>
      <rect id="buf0" class="buffer" data-offset="0" data-bytes="2048" .../>
      <line class="lower-bound" .../>

With a dynamic batch the plan is drawn for a batch of 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridize.backends.draw.dot import FONT, DrawError
from hybridize.backends.draw.text import clean, human_bytes, value_names, xml
from hybridize.ir.attributes import ARENA, BUF, ArenaAttr, BufferAttr
from hybridize.ir.base import ViewLike
from hybridize.ir.module import forward_func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue

# Chain colours (a colour-blind-safe pastel cycle) and their strokes.
PALETTE = [
    ("#a5d8ff", "#1c7ed6"), ("#ffc078", "#e8590c"), ("#b2f2bb", "#2f9e44"), ("#d0bfff", "#7048e8"),
    ("#ffa8a8", "#e03131"), ("#99e9f2", "#0c8599"), ("#ffec99", "#f08c00"), ("#eebefa", "#ae3ec9"),
    ("#c0eb75", "#66a80f"), ("#fcc2d7", "#d6336c"),
]
LEFT, RIGHT, TOP, BOTTOM = 78, 24, 70, 40
PLOT_HEIGHT = 420


@dataclass
class Buffer:
    index: int
    op: Operation
    name: str
    offset: int
    bytes: int
    start: int
    end: int
    donor: str | None  # name of the value whose bytes this one takes over
    chain: int


def buffers(module: ModuleOp) -> tuple[list[Buffer], ArenaAttr, str]:
    """The planned buffers of `@forward` in program order, its arena and name."""
    func = forward_func(module)
    arena = func.attributes.get(ARENA)
    if not isinstance(arena, ArenaAttr):
        raise DrawError(
            f"@{clean(func.sym_name.data, 40)} has no memory plan: run the plan pass first "
            "(hybridize.optimize(module, \"canonicalize,fuse,plan\"), opt-tool -p ...,plan)"
        )
    names = value_names(module)
    owner: dict[SSAValue, Buffer] = {}
    out: list[Buffer] = []
    chains = 0
    for op in func.body.block.ops:
        buf = op.attributes.get(BUF)
        if not isinstance(buf, BufferAttr) or not op.results:
            continue
        offset, size = buf.at(1)
        donor, chain = None, None
        if 0 <= buf.inplace.data < len(op.operands):
            v = op.operands[buf.inplace.data]
            while v not in owner and isinstance(v.owner, Operation) and v.owner.has_trait(ViewLike):
                v = v.owner.operands[0]  # a view's bytes are its source's
            if v in owner:
                donor, chain = names.get(v, "%?"), owner[v].chain
        if chain is None:
            chain, chains = chains, chains + 1
        b = Buffer(len(out), op, names.get(op.results[0], "%?"), offset, size, buf.start.data, buf.end.data,
                   donor, chain)
        out.append(b)
        owner[op.results[0]] = b
    return out, arena, func.sym_name.data


def _nice_step(span: float, ticks: int = 12) -> int:
    raw = max(span / ticks, 1)
    base = 10 ** (len(str(int(raw))) - 1)
    for m in (1, 2, 5, 10):
        if raw <= m * base:
            return m * base
    return 10 * base


def peak(bufs: list[Buffer]) -> tuple[int, int]:
    """(first half step at which the most bytes are live, those bytes)."""
    events: dict[int, int] = {}
    for b in bufs:
        events[b.start] = events.get(b.start, 0) + b.bytes
        events[b.end + 1] = events.get(b.end + 1, 0) - b.bytes
    best_t, best, live = 0, 0, 0
    for t in sorted(events):
        live += events[t]
        if live > best:
            best_t, best = t, live
    return best_t, best


def plan_svg(module: ModuleOp) -> str:
    """The SVG timeline of `module`'s plan (see the module docstring)."""
    bufs, arena, func_name = buffers(module)
    size, bound, no_reuse = arena.at(1)
    t0 = min((b.start for b in bufs), default=0)
    t1 = max((b.end for b in bufs), default=1) + 1
    steps = max(t1 - t0, 1)
    width = min(max(steps * 6, 640), 3200)
    sx = width / steps
    top_bytes = max(size, bound, 1)
    sy = PLOT_HEIGHT / top_bytes

    def x(t: float) -> float:
        return LEFT + (t - t0) * sx

    def y(off: float) -> float:
        return TOP + PLOT_HEIGHT - off * sy

    peak_t, peak_bytes = peak(bufs)
    at_peak = {b.index for b in bufs if b.start <= peak_t <= b.end}
    total_w, total_h = LEFT + width + RIGHT, TOP + PLOT_HEIGHT + BOTTOM
    ratio = f"{100 * size / bound:.0f}% of the bound" if bound else "no buffers"
    inplace = sum(1 for b in bufs if b.donor)
    batch = " · dynamic batch shown for N = 1" if arena.bytes_n.data else ""
    out = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" class="hy-plan" width="{total_w:.0f}" height="{total_h:.0f}" '
        f'viewBox="0 0 {total_w:.0f} {total_h:.0f}" font-family="{FONT}, Arial, sans-serif" font-size="11">'),
        f"<title>{xml(clean('memory plan of @' + func_name, 80))}</title>",
        f'<rect width="{total_w:.0f}" height="{total_h:.0f}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold">{xml(clean("memory plan of @" + func_name, 80))}</text>',
        (f'<text x="{LEFT}" y="38" class="summary">arena {human_bytes(size)} · lower bound {human_bytes(bound)} '
        f"({xml(ratio)}) · no reuse {human_bytes(no_reuse)} · {len(bufs)} buffers, {inplace} in place{batch}</text>"),
        (f'<text x="{LEFT}" y="54" font-size="10" fill="#495057">x: op index · y: arena offset · '
        "same colour, dashed outline: one in-place chain · bold: live at the peak</text>"),
        f'<rect x="{LEFT}" y="{TOP}" width="{width:.1f}" height="{PLOT_HEIGHT}" fill="#f8f9fa" stroke="#ced4da"/>',
    ]
    # Axes: op-index ticks below, byte ticks on the left.
    k0, k1 = t0 // 2, (t1 + 1) // 2
    step = _nice_step(k1 - k0)
    for k in range(-(-k0 // step) * step, k1 + 1, step):
        xx = x(2 * k + 1)
        out.append(f'<line x1="{xx:.1f}" y1="{TOP + PLOT_HEIGHT}" x2="{xx:.1f}" y2="{TOP + PLOT_HEIGHT + 4}" stroke="#868e96"/>')
        out.append(f'<text x="{xx:.1f}" y="{TOP + PLOT_HEIGHT + 16}" text-anchor="middle" font-size="10">{k}</text>')
    out.append(f'<text x="{LEFT + width / 2:.1f}" y="{total_h - 6:.0f}" text-anchor="middle" font-size="10">op index</text>')
    for i in range(5):
        off = top_bytes * i / 4
        out.append(f'<line x1="{LEFT - 4}" y1="{y(off):.1f}" x2="{LEFT}" y2="{y(off):.1f}" stroke="#868e96"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(off) + 3:.1f}" text-anchor="end" font-size="10">{human_bytes(int(off))}</text>')
    # Buffers, then chain outlines over them.
    chains: dict[int, list[Buffer]] = {}
    for b in bufs:
        chains.setdefault(b.chain, []).append(b)
        fill, stroke = PALETTE[b.chain % len(PALETTE)]
        x0, x1 = x(b.start), x(b.end + 1)
        y0, y1 = y(b.offset + b.bytes), y(b.offset)
        tip = f"{b.name} = {b.op.name}: offset {b.offset}, {b.bytes} bytes, live ops {b.start // 2} to {b.end // 2}"
        if b.donor:
            tip += f", in place of {b.donor}"
        bold = b.index in at_peak
        out.append(
            f'<g class="buffer{" peak" if bold else ""}"><title>{xml(clean(tip, 200))}</title>'
            f'<rect id="buf{b.index}" class="buffer" data-offset="{b.offset}" data-bytes="{b.bytes}" '
            f'data-start="{b.start}" data-end="{b.end}" x="{x0:.1f}" y="{y0:.1f}" width="{max(x1 - x0, 0.5):.1f}" '
            f'height="{max(y1 - y0, 0.5):.1f}" fill="{fill}" stroke="{stroke}" stroke-width="{1.6 if bold else 0.6}"/>'
        )
        label = f"{b.name} {human_bytes(b.bytes)}"
        if x1 - x0 > 6.2 * len(label) and y1 - y0 > 12:
            out.append(f'<text x="{x0 + 3:.1f}" y="{y0 + 11:.1f}" font-size="10">{xml(clean(label, 60))}</text>')
        out.append("</g>")
    for members in chains.values():
        if len(members) < 2:
            continue
        _, stroke = PALETTE[members[0].chain % len(PALETTE)]
        b0 = members[0]
        x0, x1 = x(min(m.start for m in members)), x(max(m.end for m in members) + 1)
        y0, y1 = y(b0.offset + b0.bytes), y(b0.offset)
        out.append(
            f'<rect class="chain" x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
            f'fill="none" stroke="{stroke}" stroke-width="1.2" stroke-dasharray="4 2"/>'
        )
    # The arena's top, the lower bound and the peak.
    out.append(f'<line class="arena" x1="{LEFT}" y1="{y(size):.1f}" x2="{LEFT + width:.1f}" y2="{y(size):.1f}" stroke="#212529"/>')
    out.append(
        f'<line class="lower-bound" x1="{LEFT}" y1="{y(bound):.1f}" x2="{LEFT + width:.1f}" y2="{y(bound):.1f}" '
        'stroke="#e03131" stroke-width="1.5" stroke-dasharray="6 3"/>'
    )
    label_y = y(bound) - 4 if y(bound) - 4 > TOP + 10 else y(bound) + 12  # below the line at the top
    out.append(f'<text x="{LEFT + width - 4:.1f}" y="{label_y:.1f}" text-anchor="end" font-size="10" '
               f'fill="#e03131">lower bound {human_bytes(bound)}</text>')
    if size != bound:
        out.append(f'<text x="{LEFT + 4:.1f}" y="{y(size) - 4:.1f}" font-size="10">arena {human_bytes(size)}</text>')
    if bufs:
        px = x(peak_t)
        out.append(f'<line class="peak" x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{TOP + PLOT_HEIGHT}" '
                   'stroke="#495057" stroke-dasharray="2 2"/>')
        out.append(f'<text x="{px + 3:.1f}" y="{TOP + PLOT_HEIGHT - 4:.1f}" font-size="10" fill="#495057">'
                   f"peak {human_bytes(peak_bytes)} at op {peak_t // 2}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
