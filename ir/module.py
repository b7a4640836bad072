"""Modules: parse and print hybridize IR, find the entry function.

A hybridize module holds one `func.func @forward` whose arguments are the
model's inputs and whose results are its outputs.
"""

from __future__ import annotations

from io import StringIO

from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError, VerifyException

from hybridize.errors import IRError
from hybridize.ir.checks import CheckError, verify_module
from hybridize.ir.dialect import make_context
from hybridize.ir.parser import DEFAULT_LIMITS, HardenedParser, Limits

ENTRY = "forward"


class IRVerifyError(VerifyException, IRError):
    """An op of a parsed file does not verify; the message starts with
    `file:line:col:` of that op."""


class IRParseError(ParseError, IRError):
    """IR text that does not parse: xDSL's `ParseError` (its `span` and `msg`)
    as a `hybridize.errors.IRError`."""


LocatingParser = HardenedParser
"""The parser of IR files (kept under its old name): remembers where each op
starts, and holds against hostile text (see `hybridize.ir.parser`)."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def verify_located(
    module: ModuleOp, op_starts: dict, line_offset: int = 0, limits: Limits = DEFAULT_LIMITS
) -> None:
    """Verify op by op, innermost first, then the module-level checks
    (`hybridize.ir.checks`: structure, dominance, types and sizes, memory
    plans), naming the failing op's position."""

    def fail(op: Operation | None, msg: str):
        from hybridize.ir.locations import where

        msg += where(op)  # the model's line, when the IR carries it
        span = op_starts.get(op)
        if span is None:
            span = next(iter(op_starts.values()), None)
        if span is None:
            raise IRVerifyError(msg) from None
        loc = span.get_location()
        raise IRVerifyError(f"{loc.file}:{loc.line + line_offset}:{loc.col}: {msg}") from None

    for op in module.walk(reverse=True):
        try:
            op.verify(verify_nested_ops=False)
        except VerifyException as e:
            fail(op, _first_line(e))
        except Exception as e:  # a verifier tripping over IR it did not expect
            fail(op, f"{op.name}: invalid op ({type(e).__name__}: {_first_line(e)})")
    try:
        verify_module(module, limits)
    except CheckError as e:
        fail(e.op, _first_line(e))


def verify_with_locations(module: ModuleOp) -> None:
    """`module.verify()`, with the failing op's source location (when it has
    one) in the message: `hy.reshape: ... at model.py:12:8 (encoder.fc)`."""
    from hybridize.ir.locations import where

    for op in module.walk(reverse=True):
        try:
            op.verify(verify_nested_ops=False)
        except VerifyException as e:
            raise VerifyException(f"{_first_line(e)}{where(op)}") from None
    module.verify()


def parse_module(text: str | bytes, name: str = "<string>", *, limits: Limits = DEFAULT_LIMITS) -> ModuleOp:
    """Parse and verify IR text. Syntax errors raise IRParseError (an xDSL
    ParseError), invalid ops IRVerifyError (`file:line:col: hy.linear: ...`);
    any input ends in a module or one of these two (see `hybridize.ir.parser`),
    both `hybridize.errors.IRError`s."""
    check_not_elided(text, name)
    parser = HardenedParser(make_context(), text, name, limits)
    try:
        module = parser.parse_module()
    except IRParseError:
        raise
    except ParseError as e:
        raise IRParseError(e.span, e.msg) from None
    verify_located(module, parser.op_starts, limits=limits)
    return module


ELIDED = "__elided__"
"""The resource name printed for an elided constant, as MLIR does:
`dense_resource<__elided__> : tensor<256x512xf32>`. Parsing it is an error."""

DEFAULT_ELIDE = 16
"""Constants of more elements than this are elided in IR printed for people
(opt-tool on a terminal, its --print-ir-* dumps); -o files keep them."""


class ElidingPrinter(Printer):
    """xDSL's printer, with dense constants of more than `elide_larger_than`
    elements printed as `dense_resource<__elided__> : type` (None: never)."""

    def __init__(self, *args, elide_larger_than: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.elide_larger_than = elide_larger_than

    def print_attribute(self, attribute) -> None:
        from xdsl.dialects.builtin import DenseIntOrFPElementsAttr

        limit = self.elide_larger_than
        if limit is not None and isinstance(attribute, DenseIntOrFPElementsAttr) and len(attribute) > limit:
            self.print_string(f"dense_resource<{ELIDED}> : ")
            super().print_attribute(attribute.get_type())
            return
        super().print_attribute(attribute)


def print_module(module: ModuleOp, debuginfo: bool = False, *, elide_larger_than: int | None = None) -> str:
    """The module's text; `debuginfo=True` adds each op's source location
    (`loc("model.py":12:8)`), which `parse_module` reads back. With
    `elide_larger_than=N`, constants of more than N elements are elided (for
    reading; such text does not parse)."""
    out = StringIO()
    ElidingPrinter(stream=out, print_debuginfo=debuginfo, elide_larger_than=elide_larger_than).print_op(module)
    return out.getvalue() + "\n"


def print_op(op: Operation, *, elide_larger_than: int | None = None) -> str:
    """One op (with its regions) as IR text."""
    out = StringIO()
    ElidingPrinter(stream=out, elide_larger_than=elide_larger_than).print_op(op)
    return out.getvalue()


def check_not_elided(text: str | bytes, name: str = "<string>") -> None:
    """Refuse IR printed with elided constants (IRParseError at the first
    `__elided__`): its weights are gone, so it must not run as a model."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else bytes(text)
    marker = f"dense_resource<{ELIDED}>".encode()
    at = data.find(marker)
    while at >= 0 and data[data.rfind(b"\n", 0, at) + 1 : at].lstrip().startswith(b"//"):
        at = data.find(marker, at + 1)  # in a comment
    if at < 0:
        return
    line = data.count(b"\n", 0, at) + 1
    col = at - (data.rfind(b"\n", 0, at) + 1) + 1
    raise IRVerifyError(
        f"{name}:{line}:{col}: this constant was elided when the IR was printed (dense_resource<{ELIDED}>): "
        "its values are not in the file. Print IR meant to be read back with `opt-tool -o FILE` "
        "(or --elide-constants-larger-than=-1)"
    )


def forward_func(module: ModuleOp) -> FuncOp:
    """The entry function: `@forward`, or the module's only function."""
    funcs = [op for op in module.ops if isinstance(op, FuncOp)]
    for f in funcs:
        if f.sym_name.data == ENTRY:
            return f
    if len(funcs) == 1:
        return funcs[0]
    names = ", ".join("@" + f.sym_name.data for f in funcs) or "none"
    raise IRError(f"module has no @{ENTRY} function (functions: {names})")


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
