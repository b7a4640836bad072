"""Modules: parse and print hybridize IR, find the entry function.

A hybridize module holds one `func.func @forward` whose arguments are the
model's inputs and whose results are its outputs.
"""

from __future__ import annotations

from io import StringIO

from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from hybridize.ir.dialect import make_context

ENTRY = "forward"


class IRVerifyError(VerifyException):
    """An op of a parsed file does not verify; the message starts with
    `file:line:col:` of that op."""


class LocatingParser(Parser):
    """A parser that remembers where each op starts, so verifier errors of
    parsed files can name `file:line:col`."""

    def __init__(self, ctx, text, name: str = "<string>"):
        super().__init__(ctx, text, name)
        self.op_starts: dict[Operation, object] = {}

    def parse_operation(self) -> Operation:
        start = self._current_token.span
        op = super().parse_operation()
        self.op_starts[op] = start
        return op


def verify_located(module: ModuleOp, op_starts: dict, line_offset: int = 0) -> None:
    """Verify op by op, innermost first, naming the failing op's position."""
    for op in module.walk(reverse=True):
        try:
            op.verify(verify_nested_ops=False)
        except VerifyException as e:
            span = op_starts.get(op)
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if span is None:
                raise
            loc = span.get_location()
            raise IRVerifyError(f"{loc.file}:{loc.line + line_offset}:{loc.col}: {msg}") from None


def parse_module(text: str | bytes, name: str = "<string>") -> ModuleOp:
    """Parse and verify IR text. Syntax errors raise xDSL's ParseError,
    invalid ops IRVerifyError (`file:line:col: hy.linear: ...`)."""
    parser = LocatingParser(make_context(), text, name)
    module = parser.parse_module()
    verify_located(module, parser.op_starts)
    return module


def print_module(module: ModuleOp) -> str:
    out = StringIO()
    Printer(stream=out).print_op(module)
    return out.getvalue() + "\n"


def forward_func(module: ModuleOp) -> FuncOp:
    """The entry function: `@forward`, or the module's only function."""
    funcs = [op for op in module.ops if isinstance(op, FuncOp)]
    for f in funcs:
        if f.sym_name.data == ENTRY:
            return f
    if len(funcs) == 1:
        return funcs[0]
    names = ", ".join("@" + f.sym_name.data for f in funcs) or "none"
    raise ValueError(f"module has no @{ENTRY} function (functions: {names})")


def direct_outputs(func: FuncOp) -> dict:
    """Returned values written straight into their output array: map value ->
    output index. A value qualifies the first time it is returned, when a
    computing op of the function body (not a constant, not a view) makes it;
    every other returned value is copied into its output at the end."""
    from hybridize.ir.base import ViewLike
    from hybridize.ir.structure import ConstantOp

    block = func.body.block
    ret = block.last_op
    direct: dict = {}
    for i, v in enumerate(ret.operands if ret is not None else ()):
        owner = v.owner
        if (
            v not in direct
            and isinstance(owner, Operation)
            and owner.parent_block() is block
            and not isinstance(owner, ConstantOp)
            and not owner.has_trait(ViewLike)
        ):
            direct[v] = i
    return direct


def name_hint(name: str) -> str | None:
    """A safe SSA name hint for a name from a model file: letters, digits and
    `_` only, starting with a letter, at most 40 characters; None if nothing
    is left. (Hints only make IR readable: generated code never uses them.)"""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in name)
    if not cleaned or not cleaned[0].isalpha():
        return None
    return cleaned[:40]
