"""Converters for nn ops: convolution (1-D, 2-D, transposed), pooling,
normalization (batch, layer, group, instance), resize, reductions, attention."""

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
    ConvTranspose2dOp,
    GroupNormOp,
    LayerNormOp,
    LogSoftmaxOp,
    MaxPool2dOp,
    ResizeOp,
    SoftmaxOp,
)
from hybridize.frontends.torch.shape import slice_along
from hybridize.ir.reduce import ReduceAnyOp, ReduceMaxOp, ReduceMeanOp, ReduceMinOp, ReduceSumOp
from hybridize.ir.shape import BroadcastOp, ConcatOp, ReshapeOp, TransposeOp
from hybridize.ir.types import DYNAMIC, broadcast_shapes, numpy_dtype, shape_of


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


def _same_padding(node, kernel: Sequence[int], dilation: Sequence[int], mode: str) -> list[int]:
    """padding="valid" or "same" as [top, left, bottom, right] (torch puts
    the odd element of a "same" padding at the far end)."""
    if mode == "valid":
        return [0] * (2 * len(kernel))
    if mode != "same":
        raise refuse(node, f"padding='{mode}' is not supported (expected 'same', 'valid' or sizes)")
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return [t // 2 for t in total] + [t - t // 2 for t in total]


def _conv(lo: Lowering, node, args, kwargs):
    """conv1d/conv2d and aten.convolution (transposed too). A 1-D
    convolution is the 2-D one over a height of 1 (the C kernel runs it as
    one row per output channel block), its weight reshaped [O, C, 1, K]."""
    p = bind(node, args, kwargs)
    x, w = p["input"], p["weight"]
    rank = len(shape_of(w))
    if rank not in (3, 4):
        raise refuse(node, f"only 1-D and 2-D convolutions are supported, got a weight of rank {rank}")
    spatial = rank - 2
    one = (1,) * spatial
    stride = _pair(p["stride"], one)[-spatial:] if spatial == 1 else _pair(p["stride"], one)
    dilation = _pair(p["dilation"], one)[-spatial:] if spatial == 1 else _pair(p["dilation"], one)
    kernel = shape_of(w)[2:]
    if isinstance(p["padding"], str):
        padding = _same_padding(node, kernel, dilation, p["padding"])
    else:
        padding = _pair(p["padding"], (0,) * spatial)[-spatial:] if spatial == 1 else _pair(p["padding"], (0, 0))
    groups = int(p["groups"])
    transposed = bool(p.get("transposed")) or "conv_transpose" in str(node.target)
    if spatial == 1:  # [N, C, L] as [N, C, 1, L]
        w = lo.emit(ReshapeOp(w, (*shape_of(w)[:2], 1, shape_of(w)[2])))
        stride, dilation = [1, *stride], [1, *dilation]
        padding = [0, padding[0], 0, padding[1]] if len(padding) == 2 and isinstance(p["padding"], str) else [0, *padding]
    if transposed:
        if isinstance(p["padding"], str):
            raise refuse(node, "a transposed convolution takes explicit padding sizes")
        out_pad = _pair(p.get("output_padding"), (0,) * spatial)
        out_pad = [0, out_pad[-1]] if spatial == 1 else out_pad
        build = lambda x4: lo.emit(  # noqa: E731
            ConvTranspose2dOp(
                x4, w, p["bias"], stride=stride, padding=padding, output_padding=out_pad, dilation=dilation, groups=groups
            )
        )
    else:
        if len(padding) == 4 and padding[:2] == padding[2:]:
            padding = padding[:2]
        build = lambda x4: lo.emit(  # noqa: E731
            Conv2dOp(x4, w, p["bias"], stride=stride, padding=padding, dilation=dilation, groups=groups)
        )
    if spatial == 1:
        return _spatial1d(lo, node, x, build)
    return _spatial(lo, node, x, build)


def _spatial1d(lo: Lowering, node, x: SSAValue, build) -> SSAValue:
    """Run the 2-D `build` on [N, C, L] (or unbatched [C, L]) as [N, C, 1, L]."""
    shape = shape_of(x)
    if len(shape) not in (2, 3):
        raise refuse(node, f"expects a 2-D or 3-D input, got rank {len(shape)}")
    x4 = lo.emit(ReshapeOp(x, (*((1,) if len(shape) == 2 else ()), *shape[:-1], 1, shape[-1])))
    y = build(x4)
    ys = shape_of(y)
    return lo.emit(ReshapeOp(y, (*ys[:2], ys[3]) if len(shape) == 3 else (ys[1], ys[3])))


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
    if p.get("training") and p["running_mean"] is None and p["running_var"] is None:
        # F.batch_norm(w, None, None, training=True): batch statistics, no state (BiT's weight standardization)
        return _batch_statistics_norm(lo, node, p["input"], p["weight"], p["bias"], float(p["eps"]))
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


def _group_norm(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    x, weight, bias = p["input"], p["weight"], p["bias"]
    if "native" in str(node.target):
        groups = int(p["group"])
    else:
        groups = int(p["num_groups"])
    if bias is not None and weight is None:
        weight = lo.constant(np.ones(shape_of(x)[1], numpy_dtype(x)))
    y = lo.emit(GroupNormOp(x, weight, bias, groups=groups, eps=float(p["eps"])))
    if "native" in str(node.target):
        return y, Unavailable(node, "mean"), Unavailable(node, "inverse std")
    return y


def _instance_norm(lo: Lowering, node, args, kwargs):
    """Each (sample, channel) plane normalized over itself: group norm with
    one group per channel; with running statistics (use_input_stats=False),
    an inference batch norm."""
    p = bind(node, args, kwargs)
    x, weight, bias = p["input"], p["weight"], p["bias"]
    if not p["use_input_stats"]:
        if p["running_mean"] is None or p["running_var"] is None:
            raise refuse(node, "instance norm without input statistics needs running statistics")
        return lo.emit(BatchNormOp(x, p["running_mean"], p["running_var"], weight, bias, eps=float(p["eps"])))
    if bias is not None and weight is None:
        weight = lo.constant(np.ones(shape_of(x)[1], numpy_dtype(x)))
    return lo.emit(GroupNormOp(x, weight, bias, groups=shape_of(x)[1], eps=float(p["eps"])))


def _batch_norm_no_stats(lo: Lowering, node, args, kwargs):
    """`_native_batch_norm_legit.no_stats`: batch statistics, which is what
    instance norm decomposes to (a batch norm of [1, N*C, H, W]): over a
    batch of one, each channel normalized over its plane is group norm."""
    p = bind(node, args, kwargs)
    y = _batch_statistics_norm(lo, node, p["input"], p["weight"], p["bias"], float(p["eps"]))
    return y, Unavailable(node, "mean"), Unavailable(node, "inverse std")


def _batch_statistics_norm(lo: Lowering, node, x: SSAValue, weight, bias, eps: float) -> SSAValue:
    """Each channel (dim 1) normalized over all its elements in the batch:
    group norm with one group per channel of x moved to [1, C, N * rest]
    (no move for a batch of 1)."""
    shape = list(shape_of(x))
    if len(shape) < 2 or shape[1] == DYNAMIC:
        raise refuse(node, "batch norm with batch statistics needs a static channel dim 1")
    channels = shape[1]
    if bias is not None and weight is None:
        weight = lo.constant(np.ones(channels, numpy_dtype(x)))
    if shape[0] == 1:
        return lo.emit(GroupNormOp(x, weight, bias, groups=channels, eps=eps))
    perm = [1, 0, *range(2, len(shape))]
    moved = lo.emit(TransposeOp(x, perm))
    flat = lo.emit(ReshapeOp(moved, [1, channels, DYNAMIC if DYNAMIC in shape else int(np.prod(shape) // channels)]))
    y = lo.emit(GroupNormOp(flat, weight, bias, groups=channels, eps=eps))
    y = lo.emit(ReshapeOp(y, [shape[i] for i in perm]))
    return lo.emit(TransposeOp(y, perm))


# --- resize: upsample_{nearest,bilinear,bicubic}{1d,2d} (.vec and .default) ---

_RESIZE_MODES = {
    "upsample_nearest": "nearest",
    "_upsample_nearest_exact": "nearest-exact",
    "upsample_linear": "linear",
    "upsample_bilinear": "linear",
    "upsample_bicubic": "cubic",
}


def _resize(lo: Lowering, node, args, kwargs):
    """Output sizes come from torch's shapes; the scale factors, when the
    model passed them, are kept: torch reads sources at 1/scale, not H/OH."""
    p = bind(node, args, kwargs)
    op_name = str(node.target).removeprefix("aten.").split(".")[0]
    x = p["input"] if "input" in p else p["self"]
    mode = _RESIZE_MODES[op_name.rstrip("123d")]
    shape = shape_of(x)
    spatial = 1 if op_name.endswith("1d") else 2
    if len(shape) != spatial + 2:
        raise refuse(node, f"expects a {spatial + 2}-D input, got rank {len(shape)}")
    val = node.meta["val"]
    out = [int(d) for d in val.shape[2:]]
    if "scale_factors" in p:
        scale = p["scale_factors"]
    else:
        scale = [p.get(k) for k in ("scales_h", "scales_w", "scales", "scale_h", "scale_w") if k in p]
    scale = None if not scale or all(v is None for v in scale) else [float(v or 0.0) for v in scale]
    align = bool(p.get("align_corners"))
    return lo.emit(ResizeOp(x, out, mode, align_corners=align, scale=scale))


def _antialiased(lo: Lowering, node, args, kwargs):
    raise refuse(
        node, "antialiased resize (F.interpolate(..., antialias=True)) is not supported; use antialias=False"
    )


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
    # resize stays one op (its decomposition is a dozen gathers and products per tap)
    aten = torch.ops.aten
    for packet in (aten.upsample_nearest1d, aten.upsample_nearest2d, aten._upsample_nearest_exact1d,
                   aten._upsample_nearest_exact2d, aten.upsample_linear1d, aten.upsample_bilinear2d,
                   aten.upsample_bicubic2d):  # fmt: skip
        for overload in ("vec", "default"):
            table.pop(getattr(packet, overload), None)
    table.pop(aten.roll.default, None)  # two slices and a concat, not an iota, fmod and gather
    return table


def _attention(lo: Lowering, node, args, kwargs):
    """PyTorch's SDPA: batch dims broadcast (multi-query attention passes one
    key/value head for all query heads), and with enable_gqa each key/value head
    serves Hq / Hk consecutive query heads; both are spread to the query's heads
    here, so `hy.attention` keeps equal batch dims."""
    p = bind(node, args, kwargs)
    if p["dropout_p"]:
        raise refuse(node, "attention dropout is not supported (trace in eval mode with dropout_p=0)")
    q, k, v = p["query"], p["key"], p["value"]
    rank = len(shape_of(q))
    if rank < 2 or len(shape_of(k)) != rank or len(shape_of(v)) != rank:
        raise refuse(node, "query, key and value of different ranks are not supported")
    if p["enable_gqa"]:
        k, v = (_repeat_heads(lo, node, t, shape_of(q)) for t in (k, v))
    batch = broadcast_shapes(shape_of(q)[:-2], broadcast_shapes(shape_of(k)[:-2], shape_of(v)[:-2]) or ())
    if batch is None:
        raise refuse(node, "the batch dims of query, key and value do not broadcast")
    q, k, v = (_broadcast_batch(lo, t, batch) for t in (q, k, v))
    scale = p["scale"] if p["scale"] is not None else 1.0 / float(np.sqrt(shape_of(q)[-1]))
    return lo.emit(AttentionOp(q, k, v, p["attn_mask"], scale=scale, causal=bool(p["is_causal"])))


def _repeat_heads(lo: Lowering, node, x: SSAValue, q_shape: Sequence[int]) -> SSAValue:
    # repeat_interleave(x, G, dim=-3) = reshape(broadcast(reshape(x, [.., Hk, 1, S, E]), [.., Hk, G, S, E]))
    shape = list(shape_of(x))
    if len(shape) < 3:
        raise refuse(node, "grouped-query attention needs a heads dimension (rank >= 3)")
    hq, hk = q_shape[-3], shape[-3]
    if hq == hk:
        return x
    if DYNAMIC in (hq, hk) or hq % hk:
        raise refuse(node, f"grouped-query attention: {hq} query heads are not a multiple of {hk} key/value heads")
    spread = lo.emit(ReshapeOp(x, [*shape[:-2], 1, *shape[-2:]]))
    tiled = lo.emit(BroadcastOp(spread, [*shape[:-2], hq // hk, *shape[-2:]]))
    return lo.emit(ReshapeOp(tiled, [*shape[:-3], hq, *shape[-2:]]))


def _broadcast_batch(lo: Lowering, x: SSAValue, batch: Sequence[int]) -> SSAValue:
    shape = tuple(shape_of(x))
    target = (*batch, *shape[-2:])
    return x if shape == target else lo.emit(BroadcastOp(x, target))


CONVERTERS.update(
    {
        "aten.conv1d.default": _conv,
        "aten.conv1d.padding": _conv,
        "aten.conv2d.default": _conv,
        "aten.conv2d.padding": _conv,
        "aten.convolution.default": _conv,
        "aten.conv_transpose1d.default": _conv,
        "aten.conv_transpose2d.input": _conv,
        "aten.max_pool2d.default": _max_pool2d,
        "aten.max_pool2d_with_indices.default": _max_pool2d_with_indices,
        "aten.avg_pool2d.default": _avg_pool2d,
        "aten.adaptive_avg_pool2d.default": _adaptive_avg_pool2d,
        "aten._adaptive_avg_pool2d.default": _adaptive_avg_pool2d,
        "aten.batch_norm.default": _batch_norm,
        "aten._native_batch_norm_legit_no_training.default": _native_batch_norm,
        "aten.layer_norm.default": _layer_norm,
        "aten.native_layer_norm.default": _native_layer_norm,
        "aten.group_norm.default": _group_norm,
        "aten.native_group_norm.default": _group_norm,
        "aten.instance_norm.default": _instance_norm,
        "aten._native_batch_norm_legit.no_stats": _batch_norm_no_stats,
        **{
            f"aten.{name}.{overload}": _resize
            for name in (
                "upsample_nearest1d",
                "upsample_nearest2d",
                "_upsample_nearest_exact1d",
                "_upsample_nearest_exact2d",
                "upsample_linear1d",
                "upsample_bilinear2d",
                "upsample_bicubic2d",
            )
            for overload in ("vec", "default")
        },
        "aten._upsample_bilinear2d_aa.default": _antialiased,
        "aten._upsample_bilinear2d_aa.vec": _antialiased,
        "aten._upsample_bicubic2d_aa.default": _antialiased,
        "aten._upsample_bicubic2d_aa.vec": _antialiased,
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


# --- 3-D convolution and pooling, on the 2-D ops ---
# A volumetric window is a box, so pooling is separable: a 2-D pool over
# (H, W) of [N, C*D, H, W], then one over (D, 1) of [N, C, D, H'*W'] (the
# average's divisor, padding counted or not, is the product of the per-axis
# counts). A 3-D convolution is one 2-D convolution over the depth taps
# stacked as channels (`hybridize.frontends.volumetric`).


def _triple(value, default: Sequence[int]) -> list[int]:
    if value is None or (isinstance(value, list | tuple) and len(value) == 0):
        return list(default)
    if isinstance(value, int):
        return [value] * 3
    value = [int(v) for v in value]
    return value * 3 if len(value) == 1 else value


def _volumetric(lo: Lowering, node, x: SSAValue, build) -> SSAValue:
    """Run `build(x5)` on NCDHW; an unbatched [C, D, H, W] input gets a batch of 1."""
    shape = shape_of(x)
    if len(shape) == 4:
        y = build(lo.emit(ReshapeOp(x, (1, *shape))))
        return lo.emit(ReshapeOp(y, shape_of(y)[1:]))
    if len(shape) != 5:
        raise refuse(node, f"expects a 4-D or 5-D input, got rank {len(shape)}")
    if DYNAMIC in shape[1:]:
        raise refuse(node, "3-D convolution and pooling need static channel and spatial sizes")
    return build(x)


def _conv3d(lo: Lowering, node, p: dict) -> SSAValue:
    from hybridize.frontends.volumetric import conv3d_as_2d

    kernel = shape_of(p["weight"])[2:]
    stride, dilation = _triple(p["stride"], (1, 1, 1)), _triple(p["dilation"], (1, 1, 1))
    if isinstance(p["padding"], str):
        pads = _same_padding(node, kernel, dilation, p["padding"])
        low, high = pads[:3], pads[3:]
    else:
        low = high = _triple(p["padding"], (0, 0, 0))
    return _volumetric(
        lo, node, p["input"],
        lambda x: conv3d_as_2d(lo.emit, x, p["weight"], p["bias"], stride=stride, low=low, high=high,
                               dilation=dilation, groups=int(p["groups"])),
    )  # fmt: skip


def _separable_pool(lo: Lowering, node, x: SSAValue, pool_hw, pool_d) -> SSAValue:
    """pool_hw(x4 [N, C*D, H, W]) then pool_d(x4 [N, C, D, H'*W'] -> [N, C, D', H'*W']), back to 5-D."""
    out = node.meta["val"]
    out = out[0] if isinstance(out, list | tuple) else out
    od, oh, ow = (int(s) for s in out.shape[-3:])

    def build(x5):
        n, c, d, h, w = shape_of(x5)
        y = pool_hw(lo.emit(ReshapeOp(x5, (n, c * d, h, w))), (oh, ow))
        y = pool_d(lo.emit(ReshapeOp(y, (n, c, d, oh * ow))), (od, oh * ow))
        return lo.emit(ReshapeOp(y, (n, c, od, oh, ow)))

    return _volumetric(lo, node, x, build)


def _pool3d_args(node, p: dict) -> tuple[list[int], list[int], list[int]]:
    kernel = _triple(p["kernel_size"], ())
    if _triple(p.get("dilation"), (1, 1, 1)) != [1, 1, 1]:
        raise refuse(node, "dilated pooling is not supported")
    return kernel, _triple(p["stride"], kernel), _triple(p["padding"], (0, 0, 0))


def _max_pool3d(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    k, s, pad = _pool3d_args(node, p)
    y = _separable_pool(
        lo, node, p["self"],
        lambda x, hw: lo.emit(MaxPool2dOp(x, k[1:], s[1:], pad[1:], hw)),
        lambda x, dhw: lo.emit(MaxPool2dOp(x, [k[0], 1], [s[0], 1], [pad[0], 0], dhw)),
    )  # fmt: skip
    return (y, Unavailable(node, "indices")) if "with_indices" in str(node.target) else y


def _avg_pool3d(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    if p["divisor_override"] is not None:
        raise refuse(node, "divisor_override is not supported")
    k, s, pad = _pool3d_args(node, p)
    include = bool(p["count_include_pad"])
    return _separable_pool(
        lo, node, p["self"],
        lambda x, hw: lo.emit(AvgPool2dOp(x, k[1:], s[1:], pad[1:], hw, include)),
        lambda x, dhw: lo.emit(AvgPool2dOp(x, [k[0], 1], [s[0], 1], [pad[0], 0], dhw, include)),
    )  # fmt: skip


def _adaptive_avg_pool3d(lo: Lowering, node, args, kwargs):
    return _separable_pool(
        lo, node, args[0],
        lambda x, hw: lo.emit(AdaptiveAvgPool2dOp(x, hw)),
        lambda x, dhw: lo.emit(AdaptiveAvgPool2dOp(x, dhw)),
    )  # fmt: skip


def _adaptive_max_pool2d(lo: Lowering, node, args, kwargs):
    """Adaptive max pooling: output cell i of an axis of n takes the max of
    [floor(i*n/o), ceil((i+1)*n/o)); separable, so one axis after the other
    (a max pool when o divides n, else one slice and max per output cell)."""
    x = args[0]
    out = _out_hw(node)

    def build(x4):
        y = x4
        for axis, o in zip((2, 3), out):
            n = shape_of(y)[axis]
            if n == DYNAMIC:
                raise refuse(node, "adaptive max pooling over a dynamic size is not supported")
            y = _adaptive_max_axis(lo, y, axis, n, o)
        return y

    y = _spatial(lo, node, x, build)
    return y, Unavailable(node, "indices")


def _adaptive_max_axis(lo: Lowering, x: SSAValue, axis: int, n: int, o: int) -> SSAValue:
    if n == o:
        return x
    if n % o == 0:
        k = n // o
        kernel, out = [k, 1] if axis == 2 else [1, k], list(shape_of(x)[2:])
        out[axis - 2] = o
        return lo.emit(MaxPool2dOp(x, kernel, kernel, [0, 0], out))
    cells = []
    for i in range(o):
        start, end = (i * n) // o, -((-(i + 1) * n) // o)
        cells.append(lo.emit(ReduceMaxOp(slice_along(lo, x, axis, start, end - start), [axis], keepdim=True)))
    return lo.emit(ConcatOp(cells, axis))


def _conv_any(lo: Lowering, node, args, kwargs):
    """conv1d/2d/3d and aten.convolution: 3-D (weight of rank 5, not transposed) on the 2-D op."""
    p = bind(node, args, kwargs)
    transposed = bool(p.get("transposed")) or "conv_transpose" in str(node.target)
    if len(shape_of(p["weight"])) == 5 and not transposed:
        return _conv3d(lo, node, p)
    return _conv(lo, node, args, kwargs)


CONVERTERS.update(
    {
        "aten.conv1d.default": _conv_any,
        "aten.conv1d.padding": _conv_any,
        "aten.conv2d.default": _conv_any,
        "aten.conv2d.padding": _conv_any,
        "aten.conv3d.default": _conv_any,
        "aten.conv3d.padding": _conv_any,
        "aten.convolution.default": _conv_any,
        "aten.max_pool3d.default": _max_pool3d,
        "aten.max_pool3d_with_indices.default": _max_pool3d,
        "aten.avg_pool3d.default": _avg_pool3d,
        "aten.adaptive_avg_pool3d.default": _adaptive_avg_pool3d,
        "aten._adaptive_avg_pool3d.default": _adaptive_avg_pool3d,
        "aten.adaptive_max_pool2d.default": _adaptive_max_pool2d,
    }
)
