"""Attributes of the `hy` dialect: the memory plan as it appears in the IR.

The `plan` pass writes one `#hy.buf` on every op whose result lives in the
arena, and one `#hy.arena` on the function:

    func.func @forward(%x: tensor<1x512xf32>) -> tensor<1x2xf32>
        attributes {hy.arena = #hy.arena<bytes 1536, lower_bound 1536, no_reuse 1536>} {
      %0 = hy.relu %x : tensor<1x512xf32> {hy.buf = #hy.buf<offset 0, bytes 2048, live 1 to 4>}
      %1 = hy.relu %0 : tensor<1x512xf32> {hy.buf = #hy.buf<offset 0, bytes 2048, live 3 to 6, inplace 0>}

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


@irdl_attr_definition
class BufferAttr(ParametrizedAttribute):
    """Where one result lives in the arena: byte offset, size, live interval."""

    name = "hy.buf"

    offset: IntAttr
    bytes: IntAttr
    start: IntAttr
    end: IntAttr
    inplace: IntAttr  # operand index whose bytes are reused, or -1

    def __init__(self, offset: int, nbytes: int, start: int, end: int, inplace: int = -1):
        super().__init__(IntAttr(offset), IntAttr(nbytes), IntAttr(start), IntAttr(end), IntAttr(inplace))

    @classmethod
    def parse_parameters(cls, parser: AttrParser):
        with parser.in_angle_brackets():
            offset = _parse_field(parser, "offset")
            parser.parse_punctuation(",")
            nbytes = _parse_field(parser, "bytes")
            parser.parse_punctuation(",")
            start = _parse_field(parser, "live")
            parser.parse_keyword("to")
            end = parser.parse_integer(allow_boolean=False, allow_negative=False)
            inplace = -1
            if parser.parse_optional_punctuation(","):
                inplace = _parse_field(parser, "inplace")
        return [IntAttr(offset), IntAttr(nbytes), IntAttr(start), IntAttr(end), IntAttr(inplace)]

    def print_parameters(self, printer: Printer) -> None:
        text = (
            f"<offset {self.offset.data}, bytes {self.bytes.data}, "
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
    (no plan can use less), and the bytes a plan without reuse would need."""

    name = "hy.arena"

    bytes: IntAttr
    lower_bound: IntAttr
    no_reuse: IntAttr

    def __init__(self, nbytes: int, lower_bound: int, no_reuse: int):
        super().__init__(IntAttr(nbytes), IntAttr(lower_bound), IntAttr(no_reuse))

    @classmethod
    def parse_parameters(cls, parser: AttrParser):
        with parser.in_angle_brackets():
            nbytes = _parse_field(parser, "bytes")
            parser.parse_punctuation(",")
            lower = _parse_field(parser, "lower_bound")
            parser.parse_punctuation(",")
            no_reuse = _parse_field(parser, "no_reuse")
        return [IntAttr(nbytes), IntAttr(lower), IntAttr(no_reuse)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(
            f"<bytes {self.bytes.data}, lower_bound {self.lower_bound.data}, "
            f"no_reuse {self.no_reuse.data}>"
        )

    def verify(self) -> None:
        if self.bytes.data < self.lower_bound.data:
            raise VerifyException(
                f"hy.arena: {self.bytes.data} bytes is below the lower bound "
                f"{self.lower_bound.data}"
            )


BUF = "hy.buf"
"""Name of the discardable attribute holding an op's BufferAttr."""
ARENA = "hy.arena"
"""Name of the function attribute holding its ArenaAttr."""
