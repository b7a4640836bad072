"""In-place ATen ops (the trailing-underscore overloads the training dialect
keeps: `div_`, `mul_`, `masked_fill_`, `copy_`, ...) lowered by the
converter of their functional form.

That reading is only right when nothing else sees the mutated tensor;
`decompose.observable_mutations` finds the other cases (a view, a tensor
read again, a graph input) and the graph is functionalized first.

    y = conv(x); y.relu_()      ->  hy.relu (the conv output has no other reader)
"""

from __future__ import annotations

from hybridize.frontends.torch.lowering import CONVERTERS

FUNCTIONAL = {
    "aten.copy_.default": "aten.copy.default",
    "aten.zero_.default": "aten.zeros_like.default",
    "aten.index_put_.default": "aten.index_put.default",
    "aten.pow_.Scalar": "aten.pow.Tensor_Scalar",
    "aten.pow_.Tensor": "aten.pow.Tensor_Tensor",
    "aten.floor_divide_.Tensor": "aten.floor_divide.default",
}
"""In-place ops whose functional form is not the name without `_`."""

_FAMILIES = {
    "add": ("Tensor", "Scalar"), "sub": ("Tensor", "Scalar"), "mul": ("Tensor", "Scalar"),
    "div": ("Tensor", "Scalar", "Tensor_mode", "Scalar_mode"),
    "fmod": ("Tensor", "Scalar"), "remainder": ("Tensor", "Scalar"), "floor_divide": ("Scalar",),
    "masked_fill": ("Scalar", "Tensor"), "fill": ("Scalar", "Tensor"), "clamp": ("default", "Tensor"),
    "atan2": ("default",), "round": ("default", "decimals"),
    **{name: ("default",) for name in (
        "neg", "abs", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt", "reciprocal", "erf",
        "sigmoid", "tanh", "sin", "cos", "tan", "floor", "ceil", "trunc", "sign", "clamp_min", "clamp_max",
        "relu", "gelu", "silu", "hardtanh", "leaky_relu", "elu", "hardswish", "hardsigmoid", "square",
        "logical_not", "bitwise_not",
    )},
}
for _name, _overloads in _FAMILIES.items():
    for _overload in _overloads:
        FUNCTIONAL.setdefault(f"aten.{_name}_.{_overload}", f"aten.{_name}.{_overload}")

CONVERTERS.update(
    {inplace: CONVERTERS[functional] for inplace, functional in FUNCTIONAL.items()
     if functional in CONVERTERS and inplace not in CONVERTERS}
)
