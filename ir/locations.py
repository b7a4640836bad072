"""Source locations of ops: where in the user's model each op came from.

Frontends set `op.location` (xDSL's location attributes, MLIR's syntax):
the user's file, line and column, inside the name of the layer or model node
when there is one; printed with `print_module(m, debuginfo=True)` or
`opt-tool --print-debuginfo`, parsed back by `parse_module`:

    %0 = hy.linear %x, %w, %b : (...) -> tensor<1x2xf32> loc("fc"("model.py":12:8))
    %1 = hy.relu %0 : tensor<1x2xf32> loc("relu0")          // an MXNet node name

Errors name the op's location with `where(op)`. Passes keep locations: a
rewrite's new ops take the location of the op they replace
(`keep_location`), a fused region the fused locations of its members.
"""

from __future__ import annotations

from collections.abc import Iterable

from xdsl.dialects.builtin import FileLineColLoc, FusedLoc, IntAttr, NameLoc, NoneAttr, StringAttr, UnknownLoc
from xdsl.ir import Attribute, Operation
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern

MAX_NAME = 200
"""Longer names from model files are cut (they only label ops)."""


def clean_name(name: str) -> str:
    """A name from a model file made safe to carry: printable, no control
    characters, at most MAX_NAME characters. (Printed IR escapes quotes
    itself; locations never reach generated code.)"""
    text = "".join(c if c.isprintable() else "?" for c in str(name))
    return text[:MAX_NAME]


def source_location(file: str, line: int, col: int = 0, name: str | None = None) -> Attribute:
    """`loc("name"("file":line:col))`, or `loc("file":line:col)` without a name."""
    loc = FileLineColLoc(StringAttr(clean_name(file)), IntAttr(max(int(line), 0)), IntAttr(max(int(col), 0)))
    return NameLoc(StringAttr(clean_name(name)), loc) if name else loc


def name_location(name: str) -> Attribute:
    """`loc("name")`: a layer or graph node name with no file position."""
    return NameLoc(StringAttr(clean_name(name)), NoneAttr())


def is_known(loc: Attribute | None) -> bool:
    return loc is not None and not isinstance(loc, UnknownLoc)


def location_text(loc: Attribute | None) -> str | None:
    """`file:line:col (name)` of a location, None if unknown."""
    if isinstance(loc, FileLineColLoc):
        return f"{loc.filename.data}:{loc.line.data}:{loc.column.data}"
    if isinstance(loc, NameLoc):
        inner = location_text(loc.location) if not isinstance(loc.location, NoneAttr) else None
        return f"{inner} ({loc.desc.data})" if inner else loc.desc.data
    if isinstance(loc, FusedLoc):
        parts = [t for t in (location_text(x) for x in loc.locations.data) if t]
        if not parts:
            return None
        return parts[0] + (f" and {len(parts) - 1} more" if len(parts) > 1 else "")
    return None


def where(op: Operation | None) -> str:
    """` at file:line:col (name)` for an error message, or "" when unknown."""
    text = location_text(getattr(op, "location", None)) if op is not None else None
    return f" at {text}" if text else ""


def fused_location(ops: Iterable[Operation]) -> Attribute:
    """The locations of `ops` (known ones, each once) as one location."""
    seen: list[Attribute] = []
    for op in ops:
        if is_known(op.location) and op.location not in seen:
            seen.append(op.location)
    if not seen:
        return UnknownLoc()
    return seen[0] if len(seen) == 1 else FusedLoc(tuple(seen), NoneAttr())


class KeepLocation(RewritePattern):
    """`pattern`, with every op it inserts that has no location given the
    location of the op it was matched on (MLIR's rewriters do the same)."""

    def __init__(self, pattern: RewritePattern):
        self.pattern = pattern

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /):
        if not is_known(op.location):
            return self.pattern.match_and_rewrite(op, rewriter)

        def stamp(new: Operation) -> None:
            if not is_known(new.location):
                new.location = op.location

        rewriter.operation_insertion_handler.append(stamp)
        try:
            return self.pattern.match_and_rewrite(op, rewriter)
        finally:
            rewriter.operation_insertion_handler.remove(stamp)


def keep_location(patterns: Iterable[RewritePattern]) -> tuple[RewritePattern, ...]:
    return tuple(KeepLocation(p) for p in patterns)


__all__ = [
    "KeepLocation",
    "clean_name",
    "fused_location",
    "is_known",
    "keep_location",
    "location_text",
    "name_location",
    "source_location",
    "where",
]
