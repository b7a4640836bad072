"""A parser for hybridize IR that holds against hostile text.

xDSL's parser is written for trusted input. `HardenedParser` keeps its grammar
but closes the holes found by fuzzing, without forking xDSL:

1. Bytes are decoded as strict UTF-8 first; a bad byte is a `ParseError` at
   its `line:col`.
2. A pre-scan refuses brackets nested deeper than `Limits.max_nesting` before
   the recursive-descent parser can exhaust Python's stack.
3. The lexer's string-literal regex uses possessive quantifiers: xDSL's
   `"(?:[^"\\\\\\n]+|...)*"` backtracks exponentially on an unterminated string
   (a truncated weight literal hung `opt-tool` forever).
4. A dense literal's type is checked against `Limits.max_tensor_bytes` before
   xDSL expands a splat into a Python list (`dense<0.0> : tensor<2147483648xf32>`
   took more than 8 GB); values that do not fit their element type are a
   `ParseError`, not a `struct.error`.
5. A hex integer in a float dense literal is the element's bit pattern, as
   in MLIR and as xDSL prints NaN and infinities (`dense<[0x7fc00000, 1.0]>`);
   xDSL's parser read it as the integer 2143289344, so printed IR holding a
   NaN or an infinity did not parse back to the same module.
6. Any other exception raised while parsing an op (xDSL's asserts, verifier
   errors of attribute constructors, `OverflowError`, deep recursion) becomes a
   `ParseError` at the token where it happened.

It also remembers where each op starts, so verifier errors can name
`file:line:col` (`op_starts`).

    >>> parser = HardenedParser(make_context(), text, "model.mlir")
    >>> module = parser.parse_module()
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass

from xdsl.dialects.builtin import AnyFloat, ModuleOp
from xdsl.ir import Operation
from xdsl.parser import Parser
from xdsl.parser.generic_parser import ParserState
from xdsl.utils.exceptions import ParseError
from xdsl.utils.lexer import Input, Span
from xdsl.utils.mlir_lexer import MLIRLexer


@dataclass(frozen=True)
class Limits:
    """Resource limits for untrusted IR, checked before anything is allocated.

    `max_tensor_bytes` bounds every constant, every tensor type in a function
    and the memory plan's arena (default 4 GiB; the machine this was written
    on has 23 GB). Shapes whose byte count does not fit in 63 bits are refused
    whatever the limit, so no C loop bound can overflow.
    """

    max_tensor_bytes: int = 4 << 30
    max_nesting: int = 100


DEFAULT_LIMITS = Limits()

INT63 = (1 << 63) - 1


class _Lexer(MLIRLexer):
    # xDSL's pattern with possessive quantifiers (`++`, `*+`, Python >= 3.11):
    # the alternatives cannot match the same text, so nothing is lost, and a
    # string without its closing quote fails in linear time.
    _unescaped_characters_regex = re.compile(r'"(?:[^"\\\n\v\f]++|\\(?:["nt\\]|[0-9A-Fa-f]{2}))*+"')


# Strings, comments and brackets; `->` is skipped so its `>` closes nothing.
_BRACKETS = re.compile(r'"(?:[^"\\\n]++|\\.)*+"|//[^\n]*+|->|[\[\](){}<>]')
_OPEN = {"[": "]", "(": ")", "{": "}", "<": ">"}


def decode(text: str | bytes, name: str) -> str:
    """`text` as str; invalid UTF-8 is a ParseError at the bad byte."""
    if isinstance(text, str):
        return text
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as e:
        good = text[: e.start].decode("utf-8")
        shown = text.decode("utf-8", errors="replace")
        span = Span(len(good), len(good) + 1, Input(shown, name))
        raise ParseError(span, f"invalid UTF-8 byte 0x{text[e.start]:02x} (IR files are UTF-8 text)") from None


def check_nesting(text: str, name: str, limit: int) -> None:
    """Refuse brackets nested deeper than `limit` (ParseError at the one too deep)."""
    depth = 0
    for m in _BRACKETS.finditer(text):
        c = m.group()
        if c in _OPEN:
            depth += 1
            if depth > limit:
                span = Span(m.start(), m.end(), Input(text, name))
                raise ParseError(span, f"brackets nested deeper than {limit} levels")
        elif c in ")]}>":
            depth = max(depth - 1, 0)


def type_bytes(shape, element_type) -> int | None:
    """Bytes of a static shape of `element_type` (None if its size is unknown)."""
    width = getattr(element_type, "bitwidth", None)
    if width is None:
        try:
            width = element_type.compile_time_size * 8
        except Exception:
            return None
    return math.prod(shape) * max(1, -(-width // 8))


class HardenedParser(Parser):
    """xDSL's `Parser` with the hardening described in the module docstring,
    and `op_starts`: where each parsed op begins."""

    def __init__(self, ctx, text: str | bytes, name: str = "<string>", limits: Limits = DEFAULT_LIMITS):
        text = decode(text, name)
        check_nesting(text, name, limits.max_nesting)
        super().__init__(ctx, "", name)
        self._parser_state = ParserState(_Lexer(Input(text, name)))
        self.limits = limits
        self.op_starts: dict[Operation, Span] = {}
        self._dense_start: Span | None = None

    def parse_module(self, allow_implicit_module: bool = True) -> ModuleOp:
        return self._guarded(lambda: super(HardenedParser, self).parse_module(allow_implicit_module))

    def parse_operation(self) -> Operation:
        start = self._current_token.span
        op = self._guarded(super().parse_operation)
        self.op_starts[op] = start
        return op

    def _guarded(self, parse):
        try:
            return parse()
        except ParseError:
            raise
        except RecursionError:
            self.raise_error("input nested too deeply")
        except (struct.error, OverflowError) as e:
            self.raise_error(f"value out of range: {e}")
        except Exception as e:  # xDSL asserts, VerifyException from attribute constructors, ...
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            self.raise_error(msg)

    # --- dense literals: size first, then values that fit their type ---

    def _parse_tensor_literal_element(self):
        hexadecimal = self._current_token.text[:2] in ("0x", "0X")
        element = super()._parse_tensor_literal_element()
        if hexadecimal and isinstance(element.value, int):
            element.__class__ = _BitPatternElement
        return element

    def _check_dense_type(self, type) -> None:
        shape = list(type.get_shape())
        if any(d < 0 for d in shape):
            return  # xDSL refuses dynamic shapes itself
        nbytes = type_bytes(shape, type.element_type)
        if nbytes is not None and nbytes > min(INT63, self.limits.max_tensor_bytes):
            self.raise_error(
                f"dense literal of {type} is {nbytes} bytes, above the limit of "
                f"{self.limits.max_tensor_bytes} bytes (Limits.max_tensor_bytes)",
                self._dense_start,
            )

    def _parse_dense_literal_type(self):
        type = super()._parse_dense_literal_type()
        self._check_dense_type(type)
        return type

    def parse_dense_int_or_fp_elements_attr(self, type):
        start = self._dense_start = self._current_token.span
        if type is not None:
            self._check_dense_type(type)
        try:
            return super().parse_dense_int_or_fp_elements_attr(type)
        except (struct.error, OverflowError) as e:
            raise ParseError(start, f"dense literal value out of range for its element type: {e}") from None


class _BitPatternElement(Parser._TensorLiteralElement):
    """A hex literal: the bits of a float element, a number for an integer one."""

    def to_type(self, parser, type):
        if isinstance(type, AnyFloat):
            raw = int(self.value).to_bytes(type.compile_time_size, "little")
            return next(type.iter_unpack(raw))
        return super().to_type(parser, type)


__all__ = ["DEFAULT_LIMITS", "INT63", "HardenedParser", "Limits", "check_nesting", "decode", "type_bytes"]
