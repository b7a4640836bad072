"""Tensor types of the `hy` dialect and their bridges to NumPy and C.

Every value in a hybridize graph is a builtin ranked tensor, for example
`tensor<1x512xf32>`; a dynamic dimension prints as `?` (`tensor<?x512xf32>`).
This module is the one place that knows which element types exist and how they
map to NumPy dtypes and C scalar types.

    >>> t = tensor_type((1, 512), "float32")
    >>> str(t)
    'tensor<1x512xf32>'
    >>> numpy_dtype(t)
    dtype('float32')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    Float32Type,
    Float64Type,
    IntegerType,
    TensorType,
    f32,
    f64,
    i1,
    i32,
    i64,
)
from xdsl.ir import Attribute, SSAValue

DYNAMIC = DYNAMIC_INDEX
"""The value of a dynamic (`?`) dimension in a shape tuple."""


@dataclass(frozen=True)
class ElementKind:
    """One element type: its IR type, NumPy dtype and C scalar type."""

    ir: Attribute
    numpy: str
    c: str


ELEMENT_KINDS: tuple[ElementKind, ...] = (
    ElementKind(f32, "float32", "float"),
    ElementKind(f64, "float64", "double"),
    ElementKind(i64, "int64", "int64_t"),
    ElementKind(i32, "int32", "int32_t"),
    ElementKind(i1, "bool", "_Bool"),
)
_BY_IR = {str(k.ir): k for k in ELEMENT_KINDS}
_BY_NUMPY = {k.numpy: k for k in ELEMENT_KINDS}


def element_kind(type_or_value: Attribute | SSAValue) -> ElementKind:
    """The element kind of a tensor type (or of a value of tensor type)."""
    t = type_or_value.type if isinstance(type_or_value, SSAValue) else type_or_value
    elem = t.element_type if isinstance(t, TensorType) else t
    kind = _BY_IR.get(str(elem))
    if kind is None:
        supported = ", ".join(_BY_IR)
        raise ValueError(f"unsupported element type {elem} (supported: {supported})")
    return kind


def is_supported_element(elem: Attribute) -> bool:
    return str(elem) in _BY_IR


def numpy_dtype(type_or_value: Attribute | SSAValue) -> np.dtype:
    return np.dtype(element_kind(type_or_value).numpy)


def element_from_numpy(dtype: np.dtype | str) -> Attribute:
    kind = _BY_NUMPY.get(np.dtype(dtype).name)
    if kind is None:
        supported = ", ".join(_BY_NUMPY)
        raise ValueError(f"unsupported dtype {np.dtype(dtype).name} (supported: {supported})")
    return kind.ir


def tensor_type(shape: Sequence[int], dtype: np.dtype | str | Attribute) -> TensorType:
    """`tensor_type((2, 3), "float32")` is `tensor<2x3xf32>`; -1 (DYNAMIC) is `?`."""
    elem = dtype if isinstance(dtype, Attribute) else element_from_numpy(dtype)
    return TensorType(elem, [int(d) for d in shape])


def shape_of(type_or_value: Attribute | SSAValue) -> tuple[int, ...]:
    t = type_or_value.type if isinstance(type_or_value, SSAValue) else type_or_value
    assert isinstance(t, TensorType), f"expected a tensor type, got {t}"
    return tuple(t.get_shape())


def is_float(type_or_value: Attribute | SSAValue) -> bool:
    t = type_or_value.type if isinstance(type_or_value, SSAValue) else type_or_value
    elem = t.element_type if isinstance(t, TensorType) else t
    return isinstance(elem, Float32Type | Float64Type)


def is_int(type_or_value: Attribute | SSAValue) -> bool:
    t = type_or_value.type if isinstance(type_or_value, SSAValue) else type_or_value
    elem = t.element_type if isinstance(t, TensorType) else t
    return isinstance(elem, IntegerType)


def num_elements(shape: Sequence[int]) -> int | None:
    """The element count, or None when a dimension is dynamic."""
    n = 1
    for d in shape:
        if d == DYNAMIC:
            return None
        n *= d
    return n


def broadcast_shapes(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...] | None:
    """NumPy broadcasting of two shapes, or None if they do not broadcast.

    A dynamic dimension broadcasts with 1 and with itself; against a static
    size other than 1 it takes that size.
    """
    out: list[int] = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        elif x == DYNAMIC:
            out.append(y)
        elif y == DYNAMIC:
            out.append(x)
        else:
            return None
    return tuple(reversed(out))


def format_shape(shape: Sequence[int]) -> str:
    return "x".join("?" if d == DYNAMIC else str(d) for d in shape) or "scalar"


__all__ = [
    "DYNAMIC",
    "ELEMENT_KINDS",
    "ElementKind",
    "broadcast_shapes",
    "element_from_numpy",
    "element_kind",
    "f32",
    "f64",
    "format_shape",
    "is_float",
    "is_int",
    "is_supported_element",
    "num_elements",
    "numpy_dtype",
    "shape_of",
    "tensor_type",
]
