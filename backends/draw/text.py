"""Text shared by the drawings: escaping, value names, sizes and types.

Every name shown in a picture (SSA name hints, function names, source
locations) may come from a model file, so it is hostile until escaped:
`clean` makes control characters visible and bounds the length, `xml`
escapes for SVG/XML/HTML text and attribute values (and so for Graphviz's
HTML-like labels, which take the same entities).

    >>> xml(clean('a"<b>&\\n]]>'))
    'a&quot;&lt;b&gt;&amp;\\\\n]]&gt;'
"""

from __future__ import annotations

import unicodedata
from io import StringIO

from hybridize.ir.types import DYNAMIC
from xdsl.dialects.builtin import ModuleOp, TensorType, UnknownLoc
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.printer import Printer

_XML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_VISIBLE = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def clean(text: str, limit: int = 80) -> str:
    """`text` on one line: control and format characters shown as escapes
    (`\\n`, `\\x1b`), at most `limit` characters (then `…`)."""
    out = []
    for ch in str(text):
        if ch in _VISIBLE:
            out.append(_VISIBLE[ch])
        elif unicodedata.category(ch)[0] == "C":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    s = "".join(out)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def xml(text: str) -> str:
    """Escape for XML/HTML text and quoted attribute values (`]]>` included:
    its `>` becomes `&gt;`)."""
    return "".join(_XML.get(c, c) for c in str(text))


def value_names(module: ModuleOp) -> dict[SSAValue, str]:
    """Each SSA value's name as `print_module` prints it (`%x`, `%3`), so a
    picture and the IR text name values alike."""
    printer = Printer(stream=StringIO())
    printer.print_op(module)
    # The printer's own table: names depend on print order and scopes, which
    # only the printer knows.
    return {v: "%" + n for v, n in printer._ssa_values.items()}


def shape_text(shape) -> str:
    return "x".join("?" if d == DYNAMIC else str(d) for d in shape) or "scalar"


_DTYPES = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16"}


def type_text(type: Attribute, dtype: bool = True) -> str:
    """`tensor<1x16x32xf32>` -> `1x16x32 f32` (without the dtype if `dtype` is
    False and it is f32)."""
    if not isinstance(type, TensorType):
        return clean(str(type), 40)
    shape = shape_text(type.get_shape())
    elem = clean(str(type.element_type), 12)
    if not dtype and elem == "f32":
        return shape
    return f"{shape} {elem}"


def human_bytes(n: int) -> str:
    """1536 -> `1.5 KiB`; exact below 1 KiB."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            v = n / size
            return f"{v:.0f} {unit}" if v >= 100 or v == int(v) else f"{v:.1f} {unit}"
    return f"{n} B"


def location_text(op: Operation) -> str | None:
    """The op's source location as IR prints it (`loc("model.py":3:7)`), or None."""
    loc = getattr(op, "location", None)
    if loc is None or isinstance(loc, UnknownLoc):
        return None
    return str(loc)


def family(op: Operation) -> str:
    """The op's family: the `hybridize.ir` module defining it (`nn`,
    `elementwise`, ...), or `other` for ops of other dialects."""
    module = type(op).__module__
    if module.startswith("hybridize.ir."):
        return module.rsplit(".", 1)[-1]
    return "other"
