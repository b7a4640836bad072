"""Converters for convolutions whose padding is a mode ("same", "valid")
rather than sizes: the pads are computed here, asymmetric where the kernel
needs it (hy.conv2d takes [top, left, bottom, right]), and 1-D convolutions
run as 2-D ones over a height of 1.

    nn.Conv2d(3, 8, 4, padding="same")  ->  hy.conv2d %x, %w, %b stride [1, 1] padding [1, 1, 2, 2]
"""

from __future__ import annotations

from hybridize.frontends.torch.lowering import CONVERTERS, Lowering, bind, refuse
from hybridize.ir.nn import Conv2dOp
from hybridize.ir.shape import ReshapeOp
from hybridize.ir.types import DYNAMIC, shape_of


def same_pads(kernel: list[int], dilation: list[int]) -> tuple[list[int], list[int]]:
    """PyTorch's "same": total = dilation * (k - 1) per dim, the odd one
    extra at the end: ([low, ...], [high, ...])."""
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return [t // 2 for t in total], [t - t // 2 for t in total]


def _ints(value, rank: int) -> list[int]:
    if isinstance(value, int):
        return [value] * rank
    value = [int(v) for v in value]
    return value * rank if len(value) == 1 else value


def _conv_padding_mode(lo: Lowering, node, args, kwargs):
    p = bind(node, args, kwargs)
    x, w, b, mode = p["input"], p["weight"], p["bias"], p["padding"]
    spatial = len(shape_of(w)) - 2
    if spatial not in (1, 2):
        raise refuse(node, f"{spatial}-D convolution is not supported (1-D and 2-D are)")
    stride, dilation = _ints(p["stride"], spatial), _ints(p["dilation"], spatial)
    kernel = list(shape_of(w)[2:])
    if mode == "valid":
        low, high = [0] * spatial, [0] * spatial
    elif mode == "same":
        if any(s != 1 for s in stride):
            raise refuse(node, 'padding="same" needs stride 1 (as in PyTorch)')
        low, high = same_pads(kernel, dilation)
    else:
        raise refuse(node, f"padding={mode!r} is not 'same' or 'valid'")
    if spatial == 1:  # [N, C, L] as [N, C, 1, L]
        stride, dilation, low, high = [1, *stride], [1, *dilation], [0, *low], [0, *high]
        w = lo.emit(ReshapeOp(w, [shape_of(w)[0], shape_of(w)[1], 1, kernel[0]]))
    shape = shape_of(x)
    batched = len(shape) == spatial + 2
    if DYNAMIC in shape[1:]:
        raise refuse(node, "convolution over dynamic spatial sizes is not supported")
    x4 = x
    if spatial == 1 or not batched:
        x4 = lo.emit(ReshapeOp(x, [shape[0] if batched else 1, shape[-spatial - 1], *([1] if spatial == 1 else []),
                                   *shape[-spatial:]]))
    padding = low if low == high else [*low, *high]
    y = lo.emit(Conv2dOp(x4, w, b, stride=stride, padding=padding, dilation=dilation, groups=int(p["groups"])))
    out = list(shape_of(y))
    if spatial == 1:
        out = [out[0], out[1], out[3]]
    if not batched:
        out = out[1:]
    return lo.emit(ReshapeOp(y, out)) if out != list(shape_of(y)) else y


CONVERTERS.update(
    {
        "aten.conv2d.padding": _conv_padding_mode,
        "aten.conv1d.padding": _conv_padding_mode,
        "aten._convolution_mode.default": _conv_padding_mode,
    }
)
