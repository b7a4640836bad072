"""Converters for nn ops: convolution, pooling, normalization, reductions, attention."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.ir import SSAValue

from hybridize.frontends.torch.lowering import (
    CONVERTERS,
    Converter,
    Lowering,
    Unavailable,
    bind,
    refuse,
    torch_dtype_to_numpy,
)
from hybridize.ir.nn import (
    AdaptiveAvgPool2dOp,
    AttentionOp,
    AvgPool2dOp,
    BatchNormOp,
    Conv2dOp,
    LayerNormOp,
    LogSoftmaxOp,
    MaxPool2dOp,
    SoftmaxOp,
)
from hybridize.ir.reduce import ReduceAnyOp, ReduceMaxOp, ReduceMeanOp, ReduceMinOp, ReduceSumOp
from hybridize.ir.shape import ReshapeOp
from hybridize.ir.types import numpy_dtype, shape_of


# --- nn ops: convolution, pooling, normalization, reductions, attention ---
# Arguments are bound by name from the op's schema (defaults included), and
# output sizes come from torch's own shapes (`node.meta["val"]`), so pooling
# rounding (ceil_mode) agrees with torch exactly.


def _pair(value, default: Sequence[int]) -> list[int]:
    """PyTorch's int-or-list window arguments as [h, w] ([] means `default`)."""
    if value is None or (isinstance(value, list | tuple) and len(value) == 0):
        return list(default)
    if isinstance(value, int):
        return [value, value]
    value = [int(v) for v in value]
    return value * 2 if len(value) == 1 else value


def _out_hw(node) -> list[int]:
    val = node.meta["val"]
    val = val[0] if isinstance(val, list | tuple) else val
    return [int(d) for d in val.shape[-2:]]


def _spatial(lo: Lowering, node, x: SSAValue, build) -> SSAValue:
    """Run `build(x4)` on NCHW; an unbatched [C, H, W] input gets a batch of 1."""
    shape = shape_of(x)
    if len(shape) == 3:
        y = build(lo.emit(ReshapeOp(x, (1, *shape))))
        return lo.emit(ReshapeOp(y, shape_of(y)[1:]))
    if len(shape) != 4:
        raise refuse(node, f"expects a 3-D or 4-D input, got rank {len(shape)}")
    return build(x)


def _conv2d(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    if p.get("transposed"):
        raise refuse(node, "transposed convolution is not supported")
    x, w = p["input"], p["weight"]
    if len(shape_of(w)) != 4:
        raise refuse(node, f"only 2-D convolution is supported, got a weight of rank {len(shape_of(w))}")
    if isinstance(p["padding"], str):
        raise refuse(node, f"padding='{p['padding']}' is not supported; pass explicit sizes")
    conv = {
        "stride": _pair(p["stride"], (1, 1)),
        "padding": _pair(p["padding"], (0, 0)),
        "dilation": _pair(p["dilation"], (1, 1)),
        "groups": int(p["groups"]),
    }
    return _spatial(lo, node, x, lambda x4: lo.emit(Conv2dOp(x4, w, p["bias"], **conv)))


def _pool_args(node, p: dict) -> tuple[list[int], list[int], list[int]]:
    kernel = _pair(p["kernel_size"], ())
    if _pair(p.get("dilation"), (1, 1)) != [1, 1]:
        raise refuse(node, "dilated pooling is not supported")
    return kernel, _pair(p["stride"], kernel), _pair(p["padding"], (0, 0))


def _max_pool2d(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    window = _pool_args(node, p)
    return _spatial(lo, node, p["self"], lambda x: lo.emit(MaxPool2dOp(x, *window, _out_hw(node))))


def _max_pool2d_with_indices(lo: Lowering, node, args, kwargs):
    return _max_pool2d(lo, node, args, kwargs), Unavailable(node, "indices")


def _avg_pool2d(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    if p["divisor_override"] is not None:
        raise refuse(node, "divisor_override is not supported")
    window = _pool_args(node, p)
    include = bool(p["count_include_pad"])
    return _spatial(lo, node, p["self"], lambda x: lo.emit(AvgPool2dOp(x, *window, _out_hw(node), include)))


def _adaptive_avg_pool2d(lo: Lowering, node, args, kwargs):
    x = args[0]
    return _spatial(lo, node, x, lambda x4: lo.emit(AdaptiveAvgPool2dOp(x4, _out_hw(node))))


def _batch_norm(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    if p.get("training"):
        raise refuse(node, "batch norm in training mode is not supported (hybridize traces in eval mode)")
    params = (p["running_mean"], p["running_var"], p["weight"], p["bias"])
    if any(v is None for v in params[:2]):
        raise refuse(node, "batch norm without running statistics is not supported")
    return lo.emit(BatchNormOp(p["input"], *params, eps=float(p["eps"])))


def _native_batch_norm(lo: Lowering, node, args, kwargs):
    y = _batch_norm(lo, node, args, kwargs)
    return y, Unavailable(node, "saved mean"), Unavailable(node, "saved inverse std")


def _layer_norm(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    x, weight, bias = p["input"], p["weight"], p["bias"]
    shape = shape_of(x)
    axis = len(shape) - len(p["normalized_shape"])
    if bias is not None and weight is None:
        from hybridize.ir.types import numpy_dtype

        weight = lo.constant(np.ones(shape[axis:], numpy_dtype(x)))
    return lo.emit(LayerNormOp(x, weight, bias, axis=axis, eps=float(p["eps"])))


def _native_layer_norm(lo: Lowering, node, args, kwargs):
    y = _layer_norm(lo, node, args, kwargs)
    return y, Unavailable(node, "mean"), Unavailable(node, "inverse std")


def _same_dtype(node, x: SSAValue) -> None:
    """Refuse ops whose torch result changes the element type (no cast here)."""
    from hybridize.ir.types import numpy_dtype

    want = torch_dtype_to_numpy(node.meta["val"].dtype)
    if want != numpy_dtype(x):
        raise refuse(node, f"a {numpy_dtype(x).name} input with a {want.name} result is not supported")


def _axis_op(op_cls) -> Converter:
    def convert(lo: Lowering, node, args, kwargs):
        x, dim = args[0], args[1]
        _same_dtype(node, x)
        return lo.emit(op_cls(x, dim % len(shape_of(x))))

    return convert


def _reduce(op_cls) -> Converter:
    def convert(lo: Lowering, node, args, kwargs):
        p = bind(node, args, kwargs)
        x = p["self"]
        _same_dtype(node, x)
        rank = len(shape_of(x))
        dims = p.get("dim")
        dims = [dims] if isinstance(dims, int) else dims
        axes = sorted({d % rank for d in dims}) if dims else list(range(rank))  # none or [] = all dims
        if not axes:  # a 0-d tensor
            return x
        return lo.emit(op_cls(x, axes, keepdim=bool(p.get("keepdim"))))

    return convert


def decompositions():
    """torch.export's core-ATen table, except that scaled dot-product attention
    stays whole: in C one `hy.attention` kernel measured 1.5x (full) to 3x
    (causal) faster than the decomposition's 15 kernels, and needs no [L, S]
    scores in the arena (4 MB for ViT-base's 12 heads x 197 tokens)."""
    import torch

    table = torch.export.default_decompositions()
    del table[torch.ops.aten.scaled_dot_product_attention.default]
    return table


def _attention(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    if p["dropout_p"]:
        raise refuse(node, "attention dropout is not supported (trace in eval mode with dropout_p=0)")
    if p["enable_gqa"]:
        raise refuse(node, "grouped-query attention (enable_gqa=True) is not supported")
    q = p["query"]
    scale = p["scale"] if p["scale"] is not None else 1.0 / float(np.sqrt(shape_of(q)[-1]))
    return lo.emit(AttentionOp(q, p["key"], p["value"], p["attn_mask"], scale=scale, causal=bool(p["is_causal"])))


CONVERTERS.update(
    {
        "aten.conv2d.default": _conv2d,
        "aten.convolution.default": _conv2d,
        "aten.max_pool2d.default": _max_pool2d,
        "aten.max_pool2d_with_indices.default": _max_pool2d_with_indices,
        "aten.avg_pool2d.default": _avg_pool2d,
        "aten.adaptive_avg_pool2d.default": _adaptive_avg_pool2d,
        "aten._adaptive_avg_pool2d.default": _adaptive_avg_pool2d,
        "aten.batch_norm.default": _batch_norm,
        "aten._native_batch_norm_legit_no_training.default": _native_batch_norm,
        "aten.layer_norm.default": _layer_norm,
        "aten.native_layer_norm.default": _native_layer_norm,
        "aten.softmax.int": _axis_op(SoftmaxOp),
        "aten._softmax.default": _axis_op(SoftmaxOp),
        "aten.log_softmax.int": _axis_op(LogSoftmaxOp),
        "aten._log_softmax.default": _axis_op(LogSoftmaxOp),
        "aten.mean.dim": _reduce(ReduceMeanOp),
        "aten.mean.default": _reduce(ReduceMeanOp),
        "aten.sum.dim_IntList": _reduce(ReduceSumOp),
        "aten.sum.default": _reduce(ReduceSumOp),
        "aten.amax.default": _reduce(ReduceMaxOp),
        "aten.amin.default": _reduce(ReduceMinOp),
        "aten.any.dim": _reduce(ReduceAnyOp),
        "aten.any.dims": _reduce(ReduceAnyOp),
        "aten.any.default": _reduce(ReduceAnyOp),
        "aten.scaled_dot_product_attention.default": _attention,
    }
)
