"""Attributes of the `hy` dialect: the memory plan as it appears in the IR.

The `plan` pass writes one `#hy.buf` on every op whose result lives in the
arena, and one `#hy.arena` on the function:

    func.func @forward(%x: tensor<1x512xf32>) -> tensor<1x2xf32>
        attributes {hy.arena = #hy.arena<bytes 1536, lower_bound 1536, no_reuse 1536>} {
      %0 = hy.relu %x : tensor<1x512xf32> {hy.buf = #hy.buf<offset 0, bytes 2048, live 1 to 4>}
      %1 = hy.relu %0 : tensor<1x512xf32> {hy.buf = #hy.buf<offset 0, bytes 2048, live 3 to 6, inplace 0>}

With a dynamic batch, sizes and offsets of batch-proportional buffers read
`bytes 1024 * N`, `offset 1536 + 2048 * N`: static buffers come first, then
the batched ones, each placed per batch element.

`live s to e` is the half-step interval in which the buffer holds a value (op k
writes its result at step 2k+1 and reads its operands up to 2k+1, or up to 2k
when it overwrites that operand in place); `inplace i` says the result reuses the
bytes of operand i, which dies at this op.
"""

from __future__ import annotations

from xdsl.dialects.builtin import IntAttr
from xdsl.ir import ParametrizedAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException


def _parse_field(parser: AttrParser, keyword: str) -> int:
    parser.parse_keyword(keyword)
    return parser.parse_integer(allow_boolean=False, allow_negative=False)


def _parse_affine(parser: AttrParser, keyword: str) -> tuple[int, int]:
    """`S`, `B * N` or `S + B * N` (N is the batch size) -> (S, B)."""
    parser.parse_keyword(keyword)
    first = parser.parse_integer(allow_boolean=False, allow_negative=False)
    if parser.parse_optional_punctuation("*"):
        parser.parse_keyword("N")
        return 0, first
    if parser.parse_optional_punctuation("+"):
        per = parser.parse_integer(allow_boolean=False, allow_negative=False)
        parser.parse_punctuation("*")
        parser.parse_keyword("N")
        return first, per
    return first, 0


def affine_text(static: int, per_batch: int) -> str:
    if not per_batch:
        return str(static)
    return f"{per_batch} * N" if not static else f"{static} + {per_batch} * N"


@irdl_attr_definition
class BufferAttr(ParametrizedAttribute):
    """Where one result lives in the arena: byte offset and size (each
    `S + B * N` for a batch of N), and its live interval."""

    name = "hy.buf"

    offset: IntAttr
    offset_n: IntAttr  # bytes per batch element added to the offset
    bytes: IntAttr
    bytes_n: IntAttr  # bytes per batch element
    start: IntAttr
    end: IntAttr
    inplace: IntAttr  # operand index whose bytes are reused, or -1

    def __init__(
        self,
        offset: int | tuple[int, int],
        nbytes: int | tuple[int, int],
        start: int,
        end: int,
        inplace: int = -1,
    ):
        off = offset if isinstance(offset, tuple) else (offset, 0)
        size = nbytes if isinstance(nbytes, tuple) else (nbytes, 0)
        super().__init__(
            IntAttr(off[0]),
            IntAttr(off[1]),
            IntAttr(size[0]),
            IntAttr(size[1]),
            IntAttr(start),
            IntAttr(end),
            IntAttr(inplace),
        )

    @property
    def offsets(self) -> tuple[int, int]:
        return self.offset.data, self.offset_n.data

    @property
    def sizes(self) -> tuple[int, int]:
        return self.bytes.data, self.bytes_n.data

    def at(self, batch: int = 1) -> tuple[int, int]:
        """(offset, bytes) for a batch of `batch`."""
        return self.offset.data + self.offset_n.data * batch, self.bytes.data + self.bytes_n.data * batch

    @classmethod
    def parse_parameters(cls, parser: AttrParser):
        with parser.in_angle_brackets():
            offset = _parse_affine(parser, "offset")
            parser.parse_punctuation(",")
            nbytes = _parse_affine(parser, "bytes")
            parser.parse_punctuation(",")
            start = _parse_field(parser, "live")
            parser.parse_keyword("to")
            end = parser.parse_integer(allow_boolean=False, allow_negative=False)
            inplace = -1
            if parser.parse_optional_punctuation(","):
                inplace = _parse_field(parser, "inplace")
        return [IntAttr(v) for v in (*offset, *nbytes, start, end, inplace)]

    def print_parameters(self, printer: Printer) -> None:
        text = (
            f"<offset {affine_text(*self.offsets)}, bytes {affine_text(*self.sizes)}, "
            f"live {self.start.data} to {self.end.data}"
        )
        if self.inplace.data >= 0:
            text += f", inplace {self.inplace.data}"
        printer.print_string(text + ">")

    def verify(self) -> None:
        if self.start.data > self.end.data:
            raise VerifyException(
                f"hy.buf: live interval {self.start.data} to {self.end.data} is empty"
            )


@irdl_attr_definition
class ArenaAttr(ParametrizedAttribute):
    """The arena of one function: its size, the peak of bytes live at once
    (no plan can use less) and the bytes a plan without reuse would need;
    each `S + B * N` for a batch of N."""

    name = "hy.arena"

    bytes: IntAttr
    bytes_n: IntAttr
    lower_bound: IntAttr
    lower_bound_n: IntAttr
    no_reuse: IntAttr
    no_reuse_n: IntAttr

    def __init__(self, nbytes, lower_bound, no_reuse):
        pairs = [v if isinstance(v, tuple) else (v, 0) for v in (nbytes, lower_bound, no_reuse)]
        super().__init__(*(IntAttr(x) for pair in pairs for x in pair))

    def at(self, batch: int = 1) -> tuple[int, int, int]:
        """(bytes, lower_bound, no_reuse) for a batch of `batch`."""
        return (
            self.bytes.data + self.bytes_n.data * batch,
            self.lower_bound.data + self.lower_bound_n.data * batch,
            self.no_reuse.data + self.no_reuse_n.data * batch,
        )

    @classmethod
    def parse_parameters(cls, parser: AttrParser):
        with parser.in_angle_brackets():
            nbytes = _parse_affine(parser, "bytes")
            parser.parse_punctuation(",")
            lower = _parse_affine(parser, "lower_bound")
            parser.parse_punctuation(",")
            no_reuse = _parse_affine(parser, "no_reuse")
        return [IntAttr(v) for v in (*nbytes, *lower, *no_reuse)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(
            f"<bytes {affine_text(self.bytes.data, self.bytes_n.data)}, "
            f"lower_bound {affine_text(self.lower_bound.data, self.lower_bound_n.data)}, "
            f"no_reuse {affine_text(self.no_reuse.data, self.no_reuse_n.data)}>"
        )

    def verify(self) -> None:
        if self.bytes.data < self.lower_bound.data or self.bytes_n.data < self.lower_bound_n.data:
            raise VerifyException(
                f"hy.arena: {affine_text(self.bytes.data, self.bytes_n.data)} bytes is below the lower bound "
                f"{affine_text(self.lower_bound.data, self.lower_bound_n.data)}"
            )


BUF = "hy.buf"
"""Name of the discardable attribute holding an op's BufferAttr."""
ARENA = "hy.arena"
"""Name of the function attribute holding its ArenaAttr."""
