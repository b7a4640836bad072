"""Neural-network ops: convolution (direct and transposed), pooling,
normalization (batch, layer, group), resize, softmax, attention.

NCHW layout, except the `_nhwc` ops the `layout` pass makes (channels last); window sizes, strides and paddings are `[h, w]` pairs.

    %y = hy.conv2d %x, %w, %b stride [1, 1] padding [1, 1] : (tensor<1x3x8x8xf32>, tensor<16x3x3x3xf32>, tensor<16xf32>) -> tensor<1x16x8x8xf32>
    %p = hy.max_pool2d %y kernel [2, 2] stride [2, 2] padding [0, 0] : tensor<1x16x8x8xf32> -> tensor<1x16x4x4xf32>
    %n = hy.batch_norm %x, %mean, %var weight %g bias %b eps 1.000000e-05 : tensor<1x3x8x8xf32>, tensor<3xf32>
    %s = hy.softmax %t axis 1 : tensor<2x10xf32>
    %a = hy.attention %q, %k, %v scale 1.250000e-01 causal : (tensor<1x4x16x64xf32>, ...) -> tensor<1x4x16x64xf32>

Window semantics shared by the pooling ops, per spatial dim of size H, for
output index o: `start = o*s - p`, `end = start + k`; the data window is
`[max(start, 0), min(end, H))`. The output size is the result type, anywhere
between the floor and the ceil formula, and at least 1 (frontends pick their framework's
rounding). A window of padding only (a padding of at least the kernel size,
or ceil rounding with a stride larger than the kernel) gives -inf for max and
0 for avg.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    Float64Type,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    UnitAttr,
    f64,
    i64,
)
from xdsl.ir import Operation, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from hybridize.errors import excerpt
from hybridize.ir.base import (
    Canonical,
    FusionAnchor,
    HyOp,
    check_result_shape,
    op_error,
    same_element_type,
    shapes_match,
    tensor_shape,
)
from hybridize.ir.types import DYNAMIC, broadcast_shapes, format_shape, is_float, shape_of


def int_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def float_attr(value: float) -> FloatAttr:
    return FloatAttr(float(value), f64)


def float_tensor(op: Operation, value: SSAValue, what: str) -> tuple[int, ...]:
    """The shape of `value`, which must be a floating-point tensor."""
    shape = tensor_shape(op, value, what)
    if not is_float(value):
        raise op_error(op, f"{what} must be a floating-point tensor, got {value.type}")
    return shape


def check_rank(op: Operation, shape: Sequence[int], rank: int, what: str, layout: str) -> None:
    if len(shape) != rank:
        raise op_error(op, f"{what} must be {rank}-D {layout}, got {format_shape(shape)}")


def check_pair(op: Operation, name: str, values: Sequence[int], minimum: int) -> None:
    if len(values) != 2 or any(v < minimum for v in values):
        raise op_error(op, f"{name} must be two integers >= {minimum}, got {list(values)}")


def window_count(size: int, window: int, stride: int, pad: int, ceil: bool = False) -> int:
    """Positions of a window over `size` padded by `pad` on both sides:
    floor((size + 2*pad - window) / stride) + 1, or ceil(...) + 1."""
    if size == DYNAMIC:
        return DYNAMIC
    span = size + 2 * pad - window
    return (-(-span // stride) if ceil else span // stride) + 1


def conv_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """OH = (H + 2*ph - dh*(KH-1) - 1) // sh + 1."""
    return window_count(size, dilation * (kernel - 1) + 1, stride, pad)


def conv_out_size_ends(size: int, kernel: int, stride: int, before: int, after: int, dilation: int) -> int:
    """OH = (H + top + bottom - dh*(KH-1) - 1) // sh + 1."""
    if size == DYNAMIC:
        return DYNAMIC
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def to_nchw(shape: Sequence[int], nhwc: bool) -> tuple[int, ...]:
    """A 4-D shape in the op's layout, reordered as [N, C, H, W]."""
    return (shape[0], shape[3], shape[1], shape[2]) if nhwc else tuple(shape)


def from_nchw(shape: Sequence[int], nhwc: bool) -> tuple[int, ...]:
    """A [N, C, H, W] shape reordered into the op's layout."""
    return (shape[0], shape[2], shape[3], shape[1]) if nhwc else tuple(shape)


# --- convolution ---


class Conv2dBase(HyOp, abc.ABC):
    """2-D cross-correlation (PyTorch's conv2d) with zero padding:

        y[n, o, i, j] = b[o] + sum_{c, u, v} w[o, c, u, v] *
                        x[n, g*C/G + c, i*sh - ph + u*dh, j*sw - pw + v*dw]

    `padding [ph, pw]` pads both sides; `padding [top, left, bottom, right]`
    pads each side on its own (a zero `hy.pad` folded in: TF's "same").

    for o in group g = o // (O/G). `dilation` and `groups` print only when
    they differ from [1, 1] and 1. An anchor: `fuse` runs bias/relu/residual
    epilogues on its finished output rows.
    """

    NHWC: ClassVar[bool] = False
    LAYOUT: ClassVar[str] = "[N, C, H, W]"

    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    result = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    dilation = prop_def(DenseArrayBase[I64], default_value=int_array([1, 1]))
    groups = prop_def(IntegerAttr[I64], default_value=IntegerAttr(1, 64))

    traits = traits_def(Pure(), FusionAnchor(), Canonical())
    assembly_format = (
        "$input `,` $weight (`,` $bias^)? `stride` $stride `padding` $padding "
        "(`dilation` $dilation^)? (`groups` $groups^)? attr-dict `:` functional-type(operands, results)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue,
        bias: SSAValue | None = None,
        *,
        stride: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0),
        dilation: Sequence[int] = (1, 1),
        groups: int = 1,
    ):
        n, _, h, w = to_nchw(shape_of(input), self.NHWC)
        o, _, kh, kw = shape_of(weight)
        ends = tuple(padding[2:]) if len(padding) == 4 else tuple(padding)
        shape = [
            n,
            o,
            conv_out_size_ends(h, kh, stride[0], padding[0], ends[0], dilation[0]),
            conv_out_size_ends(w, kw, stride[1], padding[1], ends[1], dilation[1]),
        ]
        super().__init__(
            operands=[input, weight, bias],
            result_types=[TensorType(input.type.element_type, list(from_nchw(shape, self.NHWC)))],
            properties={
                "stride": int_array(stride),
                "padding": int_array(padding),
                "dilation": int_array(dilation),
                "groups": IntegerAttr(groups, 64),
            },
        )

    @property
    def strides(self) -> tuple[int, int]:
        return tuple(self.stride.get_values())

    @property
    def paddings(self) -> tuple[int, int]:
        """(top, left): the padding before the first row and column."""
        return tuple(self.padding.get_values())[:2]

    @property
    def padding_ends(self) -> tuple[int, int]:
        """(bottom, right): the padding after the last row and column."""
        values = tuple(self.padding.get_values())
        return values[2:] if len(values) == 4 else values

    @property
    def padding_values(self) -> tuple[int, ...]:
        """The padding as written: [ph, pw] or [top, left, bottom, right]."""
        return tuple(self.padding.get_values())

    @property
    def dilations(self) -> tuple[int, int]:
        return tuple(self.dilation.get_values())

    @property
    def group_count(self) -> int:
        return self.groups.value.data

    def verify_(self) -> None:
        x = float_tensor(self, self.input, "input")
        w = float_tensor(self, self.weight, "weight")
        check_rank(self, x, 4, "input", self.LAYOUT)
        check_rank(self, w, 4, "weight", "[O, C/groups, KH, KW]")
        x = to_nchw(x, self.NHWC)
        check_pair(self, "stride", self.strides, 1)
        pads = self.padding_values
        if len(pads) not in (2, 4) or any(v < 0 for v in pads):
            raise op_error(self, f"padding must be two or four integers >= 0, got {list(pads)}")
        check_pair(self, "dilation", self.dilations, 1)
        g = self.group_count
        values = [self.input, self.weight, self.result]
        if g < 1:
            raise op_error(self, f"groups must be >= 1, got {g}")
        if x[1] != DYNAMIC and x[1] % g:
            raise op_error(self, f"input channels {x[1]} are not divisible by groups {g}")
        if w[0] % g:
            raise op_error(self, f"output channels {w[0]} are not divisible by groups {g}")
        if x[1] != DYNAMIC and w[1] * g != x[1]:
            raise op_error(
                self, f"weight {format_shape(w)} expects {w[1] * g} input channels ({w[1]} x {g} groups), got {x[1]}"
            )
        if self.bias is not None:
            b = tensor_shape(self, self.bias, "bias")
            values.append(self.bias)
            if not shapes_match([w[0]], b):
                raise op_error(self, f"bias must have shape {w[0]}, got {format_shape(b)}")
        same_element_type(self, *values)
        out = [
            conv_out_size_ends(x[2 + d], w[2 + d], self.strides[d], self.paddings[d], self.padding_ends[d], self.dilations[d])
            for d in (0, 1)
        ]
        if any(o != DYNAMIC and o < 1 for o in out):
            raise op_error(
                self, f"the dilated kernel {format_shape(w[2:])} does not fit the padded input {format_shape(x[2:])}"
            )
        check_result_shape(self, from_nchw((x[0], w[0], *out), self.NHWC))


@irdl_op_definition
class Conv2dOp(Conv2dBase):
    """2-D cross-correlation over [N, C, H, W] (see `Conv2dBase`)."""

    name = "hy.conv2d"


@irdl_op_definition
class Conv2dNhwcOp(Conv2dBase):
    """`hy.conv2d` over channels-last activations: input [N, H, W, C],
    result [N, OH, OW, O]; the weight stays [O, C/groups, KH, KW]. The
    `layout` pass puts it where a conv2d was, between transposes:

        %t = hy.transpose %x perm [0, 2, 3, 1] : tensor<1x3x8x8xf32> -> tensor<1x8x8x3xf32>
        %y = hy.conv2d_nhwc %t, %w stride [1, 1] padding [1, 1] : (tensor<1x8x8x3xf32>, tensor<16x3x3x3xf32>) -> tensor<1x8x8x16xf32>
    """

    name = "hy.conv2d_nhwc"
    NHWC: ClassVar[bool] = True
    LAYOUT: ClassVar[str] = "[N, H, W, C]"


def conv_transpose_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int, output_pad: int) -> int:
    """OH = (H - 1)*sh - 2*ph + dh*(KH - 1) + oph + 1."""
    if size == DYNAMIC:
        return DYNAMIC
    return (size - 1) * stride - 2 * pad + dilation * (kernel - 1) + output_pad + 1


@irdl_op_definition
class ConvTranspose2dOp(HyOp):
    """2-D transposed convolution (PyTorch's conv_transpose2d), the gradient
    of conv2d with respect to its input: each input pixel scatters its
    weighted kernel into the output,

        y[n, g*O/G + o, ih*sh - ph + u*dh, iw*sw - pw + v*dw] +=
            x[n, g*C/G + c, ih, iw] * w[g*C/G + c, o, u, v]

    plus b[o]; the weight is [C, O/groups, KH, KW] and the output
    `OH = (H - 1)*sh - 2*ph + dh*(KH - 1) + oph + 1` (`output_padding`
    [oph, opw] adds rows and columns at the far end, each below the stride
    or the dilation). Optional fields print only when they differ from
    their defaults.

        %y = hy.conv_transpose2d %x, %w stride [2, 2] padding [1, 1] output_padding [1, 1] : (tensor<1x8x4x4xf32>, tensor<8x3x3x3xf32>) -> tensor<1x3x8x8xf32>
    """

    name = "hy.conv_transpose2d"

    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    result = result_def(TensorType)
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])
    output_padding = prop_def(DenseArrayBase[I64], default_value=int_array([0, 0]))
    dilation = prop_def(DenseArrayBase[I64], default_value=int_array([1, 1]))
    groups = prop_def(IntegerAttr[I64], default_value=IntegerAttr(1, 64))

    traits = traits_def(Pure(), Canonical())
    assembly_format = (
        "$input `,` $weight (`,` $bias^)? `stride` $stride `padding` $padding "
        "(`output_padding` $output_padding^)? (`dilation` $dilation^)? (`groups` $groups^)? "
        "attr-dict `:` functional-type(operands, results)"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue,
        bias: SSAValue | None = None,
        *,
        stride: Sequence[int] = (1, 1),
        padding: Sequence[int] = (0, 0),
        output_padding: Sequence[int] = (0, 0),
        dilation: Sequence[int] = (1, 1),
        groups: int = 1,
    ):
        n, _, h, w = shape_of(input)
        _, og, kh, kw = shape_of(weight)
        shape = [
            n,
            og * groups,
            conv_transpose_out_size(h, kh, stride[0], padding[0], dilation[0], output_padding[0]),
            conv_transpose_out_size(w, kw, stride[1], padding[1], dilation[1], output_padding[1]),
        ]
        super().__init__(
            operands=[input, weight, bias],
            result_types=[TensorType(input.type.element_type, shape)],
            properties={
                "stride": int_array(stride),
                "padding": int_array(padding),
                "output_padding": int_array(output_padding),
                "dilation": int_array(dilation),
                "groups": IntegerAttr(groups, 64),
            },
        )

    @property
    def strides(self) -> tuple[int, int]:
        return tuple(self.stride.get_values())

    @property
    def paddings(self) -> tuple[int, int]:
        return tuple(self.padding.get_values())

    @property
    def output_paddings(self) -> tuple[int, int]:
        return tuple(self.output_padding.get_values())

    @property
    def dilations(self) -> tuple[int, int]:
        return tuple(self.dilation.get_values())

    @property
    def group_count(self) -> int:
        return self.groups.value.data

    def verify_(self) -> None:
        x = float_tensor(self, self.input, "input")
        w = float_tensor(self, self.weight, "weight")
        check_rank(self, x, 4, "input", "[N, C, H, W]")
        check_rank(self, w, 4, "weight", "[C, O/groups, KH, KW]")
        check_pair(self, "stride", self.strides, 1)
        check_pair(self, "padding", self.paddings, 0)
        check_pair(self, "dilation", self.dilations, 1)
        check_pair(self, "output_padding", self.output_paddings, 0)
        for d in (0, 1):
            if self.output_paddings[d] >= max(self.strides[d], self.dilations[d]):
                raise op_error(
                    self,
                    f"output_padding {list(self.output_paddings)} must be smaller than the stride "
                    f"{list(self.strides)} or the dilation {list(self.dilations)}",
                )
        g = self.group_count
        if g < 1:
            raise op_error(self, f"groups must be >= 1, got {g}")
        if w[0] % g:
            raise op_error(self, f"weight {format_shape(w)}: its {w[0]} input channels are not divisible by groups {g}")
        if not shapes_match([w[0]], [x[1]]):
            raise op_error(self, f"weight {format_shape(w)} expects {w[0]} input channels, got {x[1]}")
        values = [self.input, self.weight, self.result]
        if self.bias is not None:
            b = tensor_shape(self, self.bias, "bias")
            values.append(self.bias)
            if not shapes_match([w[1] * g], b):
                raise op_error(self, f"bias must have shape {w[1] * g}, got {format_shape(b)}")
        same_element_type(self, *values)
        out = [
            conv_transpose_out_size(x[2 + d], w[2 + d], self.strides[d], self.paddings[d], self.dilations[d], self.output_paddings[d])
            for d in (0, 1)
        ]
        if any(o != DYNAMIC and o < 1 for o in out):
            raise op_error(self, f"the padding {list(self.paddings)} leaves no output for input {format_shape(x[2:])}")
        check_result_shape(self, (x[0], w[1] * g, *out))


# --- pooling ---


class Pool2dOp(HyOp, abc.ABC):
    """`%y = hy.<pool> %x kernel [kh, kw] stride [sh, sw] padding [ph, pw]`:
    a window op over the spatial dims of NCHW; the result type gives the
    output size (between the floor and the ceil formula)."""

    NHWC: ClassVar[bool] = False
    LAYOUT: ClassVar[str] = "[N, C, H, W]"

    input = operand_def(TensorType)
    result = result_def(TensorType)
    kernel = prop_def(DenseArrayBase[I64])
    stride = prop_def(DenseArrayBase[I64])
    padding = prop_def(DenseArrayBase[I64])

    traits = traits_def(Pure(), Canonical())
    assembly_format = (
        "$input `kernel` $kernel `stride` $stride `padding` $padding attr-dict `:` type($input) `->` type($result)"
    )

    def __init__(
        self,
        input: SSAValue,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        out_size: Sequence[int],
        **properties,
    ):
        n, c = to_nchw(shape_of(input), self.NHWC)[:2]
        super().__init__(
            operands=[input],
            result_types=[TensorType(input.type.element_type, list(from_nchw((n, c, *out_size), self.NHWC)))],
            properties={
                "kernel": int_array(kernel),
                "stride": int_array(stride),
                "padding": int_array(padding),
                **properties,
            },
        )

    @property
    def kernels(self) -> tuple[int, int]:
        return tuple(self.kernel.get_values())

    @property
    def strides(self) -> tuple[int, int]:
        return tuple(self.stride.get_values())

    @property
    def paddings(self) -> tuple[int, int]:
        return tuple(self.padding.get_values())

    def verify_(self) -> None:
        x = float_tensor(self, self.input, "input")
        check_rank(self, x, 4, "input", self.LAYOUT)
        check_pair(self, "kernel", self.kernels, 1)
        check_pair(self, "stride", self.strides, 1)
        check_pair(self, "padding", self.paddings, 0)
        same_element_type(self, self.input, self.result)
        y = shape_of(self.result)
        if len(y) != 4:
            raise op_error(self, f"result must be 4-D {self.LAYOUT.replace('H, W', 'OH, OW')}, got {format_shape(y)}")
        x, y = to_nchw(x, self.NHWC), to_nchw(y, self.NHWC)
        check_result_shape(self, from_nchw((x[0], x[1], y[2], y[3]), self.NHWC))
        for d, what in ((0, "height"), (1, "width")):
            size, k, s, p = x[2 + d], self.kernels[d], self.strides[d], self.paddings[d]
            if size == DYNAMIC:
                continue
            # ceil rounding gives a window to a kernel larger than the padded
            # input (PyTorch's AvgPool2d(7, ceil_mode=True) on 5x5: one window)
            lo, hi = max(window_count(size, k, s, p), 1), window_count(size, k, s, p, ceil=True)
            if hi < 1:
                raise op_error(self, f"kernel {list(self.kernels)} does not fit the padded input {format_shape(x[2:])}")
            if not lo <= y[2 + d] <= hi:
                span = f"{lo}" if lo == hi else f"between {lo} and {hi}"
                raise op_error(self, f"output {what} {y[2 + d]} must be {span} for input {what} {size}")


@irdl_op_definition
class MaxPool2dOp(Pool2dOp):
    """The maximum over each data window; padding never wins."""

    name = "hy.max_pool2d"


class AvgPool2dBase(Pool2dOp, abc.ABC):
    """The mean over each window. The divisor is the window clipped to the
    padded input, `prod(min(end, H + p) - start)`, with `count_include_pad`;
    else the number of data elements in the window."""

    count_include_pad = opt_prop_def(UnitAttr)
    assembly_format = (
        "$input `kernel` $kernel `stride` $stride `padding` $padding "
        "(`count_include_pad` $count_include_pad^)? attr-dict `:` type($input) `->` type($result)"
    )

    def __init__(
        self,
        input: SSAValue,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        out_size: Sequence[int],
        count_include_pad: bool = False,
    ):
        props = {"count_include_pad": UnitAttr()} if count_include_pad else {}
        super().__init__(input, kernel, stride, padding, out_size, **props)

    @property
    def include_pad(self) -> bool:
        return self.count_include_pad is not None


@irdl_op_definition
class AvgPool2dOp(AvgPool2dBase):
    """The mean over each window of [N, C, H, W] (see `AvgPool2dBase`)."""

    name = "hy.avg_pool2d"


@irdl_op_definition
class MaxPool2dNhwcOp(Pool2dOp):
    """`hy.max_pool2d` over channels-last [N, H, W, C] (the `layout` pass)."""

    name = "hy.max_pool2d_nhwc"
    NHWC: ClassVar[bool] = True
    LAYOUT: ClassVar[str] = "[N, H, W, C]"


@irdl_op_definition
class AvgPool2dNhwcOp(AvgPool2dBase):
    """`hy.avg_pool2d` over channels-last [N, H, W, C] (the `layout` pass)."""

    name = "hy.avg_pool2d_nhwc"
    NHWC: ClassVar[bool] = True
    LAYOUT: ClassVar[str] = "[N, H, W, C]"


def adaptive_window(i: int, size: int, out: int) -> tuple[int, int]:
    """PyTorch's adaptive window [floor(i*H/OH), ceil((i+1)*H/OH))."""
    return i * size // out, -(-(i + 1) * size // out)


@irdl_op_definition
class AdaptiveAvgPool2dOp(HyOp):
    """The mean over PyTorch's adaptive windows `[floor(i*H/OH), ceil((i+1)*H/OH))`;
    the output size is the result type."""

    name = "hy.adaptive_avg_pool2d"

    input = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue, out_size: Sequence[int]):
        n, c = shape_of(input)[:2]
        super().__init__(operands=[input], result_types=[TensorType(input.type.element_type, [n, c, *out_size])])

    def verify_(self) -> None:
        x = float_tensor(self, self.input, "input")
        check_rank(self, x, 4, "input", "[N, C, H, W]")
        same_element_type(self, self.input, self.result)
        y = shape_of(self.result)
        if len(y) != 4 or any(d != DYNAMIC and d < 1 for d in y[2:]):
            raise op_error(self, f"result must be [N, C, OH, OW] with OH, OW >= 1, got {format_shape(y)}")
        check_result_shape(self, (x[0], x[1], y[2], y[3]))


# --- normalization ---


@irdl_op_definition
class BatchNormOp(HyOp):
    """Inference batch norm over channel axis 1:
    `y = (x - mean) / sqrt(var + eps) * weight + bias`, the parameters of
    shape [C] (weight and bias optional). With constant statistics it
    canonicalizes to `x * a + b`."""

    name = "hy.batch_norm"

    T: ClassVar = VarConstraint("T", base(TensorType))
    P: ClassVar = VarConstraint("P", base(TensorType))
    input = operand_def(T)
    mean = operand_def(P)
    var = operand_def(P)
    weight = opt_operand_def(P)
    bias = opt_operand_def(P)
    result = result_def(T)
    eps = prop_def(FloatAttr[Float64Type])

    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(Pure(), Canonical())
    assembly_format = (
        "$input `,` $mean `,` $var (`weight` $weight^)? (`bias` $bias^)? `eps` $eps "
        "attr-dict `:` type($input) `,` type($mean)"
    )

    def __init__(
        self,
        input: SSAValue,
        mean: SSAValue,
        var: SSAValue,
        weight: SSAValue | None = None,
        bias: SSAValue | None = None,
        *,
        eps: float = 1e-5,
    ):
        super().__init__(
            operands=[input, mean, var, weight, bias],
            result_types=[input.type],
            properties={"eps": float_attr(eps)},
        )

    @property
    def epsilon(self) -> float:
        return self.eps.value.data

    def verify_(self) -> None:
        x = float_tensor(self, self.input, "input")
        if len(x) < 2:
            raise op_error(self, f"input must be [N, C, ...], got {format_shape(x)}")
        p = shape_of(self.mean)
        if not shapes_match([x[1]], p):
            raise op_error(self, f"mean, var, weight and bias must have shape [{x[1]}] (the channels), got {format_shape(p)}")
        same_element_type(self, self.input, self.mean)
        if self.epsilon < 0:
            raise op_error(self, f"eps must be >= 0, got {self.epsilon}")


@irdl_op_definition
class LayerNormOp(HyOp):
    """`y = (x - mean) / sqrt(var + eps) * weight + bias`, the statistics over
    dims [axis, rank) and weight/bias of shape x.shape[axis:]. A bias needs a
    weight (frontends pass ones)."""

    name = "hy.layer_norm"

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    weight = opt_operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    result = result_def(T)
    axis = prop_def(IntegerAttr[I64])
    eps = prop_def(FloatAttr[Float64Type])

    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(Pure(), Canonical())
    assembly_format = (
        "$input (`weight` $weight^)? (`bias` $bias^)? `axis` $axis `eps` $eps "
        "attr-dict `:` type($input) (`,` type($weight)^)? (`,` type($bias)^)?"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue | None = None,
        bias: SSAValue | None = None,
        *,
        axis: int,
        eps: float = 1e-5,
    ):
        super().__init__(
            operands=[input, weight, bias],
            result_types=[input.type],
            properties={"axis": IntegerAttr(axis, 64), "eps": float_attr(eps)},
        )

    @property
    def first_axis(self) -> int:
        return self.axis.value.data

    @property
    def epsilon(self) -> float:
        return self.eps.value.data

    def verify_(self) -> None:
        x = float_tensor(self, self.input, "input")
        a = self.first_axis
        if not 0 <= a < len(x):
            raise op_error(self, f"axis {a} is out of range for rank {len(x)} (must be in [0, {len(x)}))")
        if self.bias is not None and self.weight is None:
            raise op_error(self, "a bias needs a weight (pass a weight of ones)")
        for param in (self.weight, self.bias):
            if param is None:
                continue
            p = tensor_shape(self, param, "weight and bias")
            if not shapes_match(x[a:], p):
                raise op_error(self, f"weight and bias must have shape {format_shape(x[a:])}, got {format_shape(p)}")
            same_element_type(self, self.input, param)
        if self.epsilon < 0:
            raise op_error(self, f"eps must be >= 0, got {self.epsilon}")


@irdl_op_definition
class GroupNormOp(HyOp):
    """Group norm (PyTorch's group_norm; instance norm is `groups` = C):
    the channels of x [N, C, ...] split into `groups` groups, each
    normalized over its channels and spatial positions,
    `y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]` (biased
    variance), weight and bias of shape [C] (optional; a bias needs a weight).

        %y = hy.group_norm %x weight %g bias %b groups 2 eps 1.000000e-05 : tensor<1x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>
    """

    name = "hy.group_norm"

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    weight = opt_operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    result = result_def(T)
    groups = prop_def(IntegerAttr[I64])
    eps = prop_def(FloatAttr[Float64Type])

    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(Pure(), Canonical())
    assembly_format = (
        "$input (`weight` $weight^)? (`bias` $bias^)? `groups` $groups `eps` $eps "
        "attr-dict `:` type($input) (`,` type($weight)^)? (`,` type($bias)^)?"
    )

    def __init__(
        self,
        input: SSAValue,
        weight: SSAValue | None = None,
        bias: SSAValue | None = None,
        *,
        groups: int,
        eps: float = 1e-5,
    ):
        super().__init__(
            operands=[input, weight, bias],
            result_types=[input.type],
            properties={"groups": IntegerAttr(groups, 64), "eps": float_attr(eps)},
        )

    @property
    def group_count(self) -> int:
        return self.groups.value.data

    @property
    def epsilon(self) -> float:
        return self.eps.value.data

    def verify_(self) -> None:
        x = float_tensor(self, self.input, "input")
        if len(x) < 2:
            raise op_error(self, f"input must be [N, C, ...], got {format_shape(x)}")
        g = self.group_count
        if g < 1:
            raise op_error(self, f"groups must be >= 1, got {g}")
        if x[1] == DYNAMIC or x[1] % g:
            raise op_error(self, f"channels {x[1]} are not divisible by groups {g}")
        if self.bias is not None and self.weight is None:
            raise op_error(self, "a bias needs a weight (pass a weight of ones)")
        for param in (self.weight, self.bias):
            if param is None:
                continue
            p = tensor_shape(self, param, "weight and bias")
            if not shapes_match([x[1]], p):
                raise op_error(self, f"weight and bias must have shape [{x[1]}] (the channels), got {format_shape(p)}")
            same_element_type(self, self.input, param)
        if self.epsilon < 0:
            raise op_error(self, f"eps must be >= 0, got {self.epsilon}")


# --- resize ---

RESIZE_MODES = ("nearest", "nearest-exact", "linear", "cubic")
CUBIC_A = -0.75
"""PyTorch's bicubic convolution coefficient (Keys' kernel with a = -0.75)."""


def resize_taps(mode: str, size: int, out: int, align_corners: bool, scale: float | None, dtype=None):
    """The source indices [out, taps] (int64) and weights [out, taps] of one
    resized dim: output i reads `sum_t w[i, t] * x[idx[i, t]]`. The
    arithmetic is PyTorch's CPU kernel's (UpSample.h), in float32 (linear
    and cubic: in `dtype`, float64 for double tensors):

    - scale: `1 / scale_factor` when the frontend passed one (> 0), else
      `H / OH`; with align_corners `(H - 1) / (OH - 1)` (0 when OH = 1);
    - nearest: `min(floor(i * scale), H - 1)`; nearest-exact:
      `min(floor((i + 0.5) * scale), H - 1)`;
    - linear: the source `scale * (i + 0.5) - 0.5` clamped at 0 (`scale * i`
      with align_corners), taps floor and floor + 1 (clamped to H - 1),
      weights 1 - t and t;
    - cubic: the same source unclamped, taps floor - 1 ... floor + 2 clamped
      to [0, H - 1], Keys' weights of t (a = -0.75).
    """
    import numpy as np

    f = np.float32
    i = np.arange(out)
    if mode in ("nearest", "nearest-exact"):
        s = f(1.0 / scale) if scale else f(f(size) / f(out))
        if mode == "nearest-exact":
            src = np.floor(((i + 0.5) * np.float64(s)).astype(f))
        else:
            src = np.floor(i.astype(f) * s)
        return np.minimum(src.astype(np.int64), size - 1).reshape(out, 1), np.ones((out, 1), f)
    f = np.dtype(dtype or np.float32).type
    if align_corners:
        s = f(f(size - 1) / f(out - 1)) if out > 1 else f(0)
        real = i.astype(f) * s
    else:
        s = f(1.0 / scale) if scale else f(f(size) / f(out))
        real = s * (i.astype(f) + f(0.5)) - f(0.5)
    if mode == "linear":
        if out == size:
            return np.stack([i, i], 1).astype(np.int64), np.stack([np.ones(out, f), np.zeros(out, f)], 1)
        real = np.maximum(real, f(0))
        base = np.minimum(np.floor(real).astype(np.int64), size - 1)
        t = np.clip(real - base.astype(f), f(0), f(1)).astype(f)
        nxt = np.where(base < size - 1, base + 1, base)
        return np.stack([base, nxt], 1), np.stack([f(1) - t, t], 1)
    base = np.minimum(np.floor(real).astype(np.int64), size - 1)
    t = np.clip(real - base.astype(f), f(0), f(1)).astype(f)
    a = f(CUBIC_A)

    def near(x):  # |x| <= 1
        return ((a + f(2)) * x - (a + f(3))) * x * x + f(1)

    def far(x):  # 1 < |x| < 2
        return ((a * x - f(5) * a) * x + f(8) * a) * x - f(4) * a

    t2 = f(1) - t
    weights = np.stack([far(t + f(1)), near(t), near(t2), far(t2 + f(1))], 1).astype(f)
    idx = np.clip(base[:, None] + np.arange(-1, 3)[None, :], 0, size - 1)
    return idx.astype(np.int64), weights


@irdl_op_definition
class ResizeOp(HyOp):
    """Interpolated resize of the spatial dims of [N, C, W] or [N, C, H, W]
    (PyTorch's upsample_* / F.interpolate): the output size is the result
    type; `mode` is "nearest", "nearest-exact", "linear" (bilinear in 2-D)
    or "cubic" (bicubic); `align_corners` maps corner pixels onto corner
    pixels; `scale` holds the frontend's scale factors per spatial dim
    (PyTorch reads sources at 1/scale, not H/OH). Each output is
    separable: rows first, then columns; `resize_taps` is the exact rule.

        %y = hy.resize %x mode "linear" align_corners : tensor<1x3x4x4xf32> -> tensor<1x3x8x8xf32>
        %z = hy.resize %x mode "nearest" scale [2.0, 2.0] : tensor<1x3x4x4xf32> -> tensor<1x3x8x8xf32>
    """

    name = "hy.resize"

    input = operand_def(TensorType)
    result = result_def(TensorType)
    mode = prop_def(StringAttr)
    align_corners = opt_prop_def(UnitAttr)
    scale = opt_prop_def(DenseArrayBase[Float64Type])

    traits = traits_def(Pure(), Canonical())
    assembly_format = (
        "$input `mode` $mode (`align_corners` $align_corners^)? (`scale` $scale^)? "
        "attr-dict `:` type($input) `->` type($result)"
    )

    def __init__(
        self,
        input: SSAValue,
        out_size: Sequence[int],
        mode: str,
        *,
        align_corners: bool = False,
        scale: Sequence[float] | None = None,
    ):
        props: dict = {"mode": StringAttr(mode)}
        if align_corners:
            props["align_corners"] = UnitAttr()
        if scale is not None:
            props["scale"] = DenseArrayBase.from_list(f64, [float(v) for v in scale])
        shape = [*shape_of(input)[:2], *out_size]
        super().__init__(
            operands=[input], result_types=[TensorType(input.type.element_type, shape)], properties=props
        )

    @property
    def mode_name(self) -> str:
        return self.mode.data

    @property
    def corners(self) -> bool:
        return self.align_corners is not None

    @property
    def scales(self) -> tuple[float | None, ...]:
        """The scale factor of each spatial dim (None: the sizes' ratio)."""
        spatial = len(shape_of(self.input)) - 2
        if self.scale is None:
            return (None,) * spatial
        return tuple(v if v > 0 else None for v in self.scale.get_values())

    def taps(self, d: int):
        """`resize_taps` of spatial dim d, weights in the element type."""
        from hybridize.ir.types import numpy_dtype

        x, y = shape_of(self.input), shape_of(self.result)
        return resize_taps(self.mode_name, x[2 + d], y[2 + d], self.corners, self.scales[d], numpy_dtype(self.input))

    def verify_(self) -> None:
        x = float_tensor(self, self.input, "input")
        if len(x) not in (3, 4):
            raise op_error(self, f"input must be [N, C, W] or [N, C, H, W], got {format_shape(x)}")
        same_element_type(self, self.input, self.result)
        if self.mode_name not in RESIZE_MODES:
            raise op_error(self, f"mode must be one of {', '.join(RESIZE_MODES)}, got \"{excerpt(self.mode_name)}\"")
        if self.corners and self.mode_name not in ("linear", "cubic"):
            raise op_error(self, f"align_corners applies to linear and cubic modes, not {self.mode_name}")
        y = shape_of(self.result)
        if len(y) != len(x):
            raise op_error(self, f"result must have the input's rank {len(x)}, got {format_shape(y)}")
        check_result_shape(self, (x[0], x[1], *y[2:]))
        if any(d == DYNAMIC or d < 1 for d in (*x[2:], *y[2:])):
            raise op_error(self, f"spatial sizes must be static and >= 1, got {format_shape(x)} -> {format_shape(y)}")
        if self.scale is not None:
            values = self.scale.get_values()
            if len(values) != len(x) - 2 or any(not v >= 0 for v in values):
                raise op_error(self, f"scale must hold {len(x) - 2} factors >= 0 (0: none), got {list(values)}")


# --- softmax ---


class AxisOp(HyOp, abc.ABC):
    """`%y = hy.<op> %x axis a : tensor<...>`: a float op along one axis, same type in and out."""

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    axis = prop_def(IntegerAttr[I64])

    traits = traits_def(Pure(), Canonical())
    assembly_format = "$input `axis` $axis attr-dict `:` type($result)"

    def __init__(self, input: SSAValue, axis: int):
        super().__init__(operands=[input], result_types=[input.type], properties={"axis": IntegerAttr(axis, 64)})

    @property
    def dim(self) -> int:
        return self.axis.value.data

    def verify_(self) -> None:
        x = float_tensor(self, self.input, "input")
        if not 0 <= self.dim < len(x):
            raise op_error(self, f"axis {self.dim} is out of range for rank {len(x)} (must be in [0, {len(x)}))")


@irdl_op_definition
class SoftmaxOp(AxisOp):
    """exp(x - max) / sum(exp(x - max)) along `axis`."""

    name = "hy.softmax"


@irdl_op_definition
class LogSoftmaxOp(AxisOp):
    """(x - max) - log(sum(exp(x - max))) along `axis`."""

    name = "hy.log_softmax"


# --- attention ---


@irdl_op_definition
class AttentionOp(HyOp):
    """Scaled dot-product attention (PyTorch's semantics):

        scores = q @ k^T * scale (+ mask, or -inf where a bool mask is False;
                 -inf above the diagonal when causal)
        y = softmax(scores, -1) @ v          (a fully masked row gives 0)

    q [..., L, E], k [..., S, E], v [..., S, Ev] with equal batch dims, the
    mask broadcastable to [..., L, S]; y [..., L, Ev].
    """

    name = "hy.attention"

    query = operand_def(TensorType)
    key = operand_def(TensorType)
    value = operand_def(TensorType)
    mask = opt_operand_def(TensorType)
    result = result_def(TensorType)
    scale = prop_def(FloatAttr[Float64Type])
    causal = opt_prop_def(UnitAttr)

    traits = traits_def(Pure(), Canonical())
    assembly_format = (
        "$query `,` $key `,` $value (`mask` $mask^)? `scale` $scale (`causal` $causal^)? "
        "attr-dict `:` functional-type(operands, results)"
    )

    def __init__(
        self,
        query: SSAValue,
        key: SSAValue,
        value: SSAValue,
        mask: SSAValue | None = None,
        *,
        scale: float,
        causal: bool = False,
    ):
        shape = (*shape_of(query)[:-1], shape_of(value)[-1])
        props = {"scale": float_attr(scale)}
        if causal:
            props["causal"] = UnitAttr()
        super().__init__(
            operands=[query, key, value, mask],
            result_types=[TensorType(query.type.element_type, list(shape))],
            properties=props,
        )

    @property
    def is_causal(self) -> bool:
        return self.causal is not None

    @property
    def scale_value(self) -> float:
        return self.scale.value.data

    def verify_(self) -> None:
        q = float_tensor(self, self.query, "query")
        k = float_tensor(self, self.key, "key")
        v = float_tensor(self, self.value, "value")
        if len(q) < 2 or len(k) != len(q) or len(v) != len(q):
            raise op_error(
                self,
                f"query, key and value must have one rank >= 2, got {format_shape(q)}, {format_shape(k)}, {format_shape(v)}",
            )
        if not shapes_match(q[:-2], k[:-2]) or not shapes_match(q[:-2], v[:-2]):
            raise op_error(
                self,
                f"batch dims of query {format_shape(q)}, key {format_shape(k)} and value {format_shape(v)} differ",
            )
        if not shapes_match([q[-1]], [k[-1]]):
            raise op_error(self, f"query width {q[-1]} and key width {k[-1]} differ")
        if not shapes_match([k[-2]], [v[-2]]):
            raise op_error(self, f"key length {k[-2]} and value length {v[-2]} differ")
        same_element_type(self, self.query, self.key, self.value, self.result)
        if self.mask is not None:
            m = tensor_shape(self, self.mask, "mask")
            scores = (*q[:-1], k[-2])
            if broadcast_shapes(m, scores) != scores:
                raise op_error(
                    self, f"mask {format_shape(m)} does not broadcast to the scores {format_shape(scores)}"
                )
            elem = self.mask.type.element_type
            is_bool = isinstance(elem, IntegerType) and elem.width.data == 1
            if not is_bool and elem != self.query.type.element_type:
                raise op_error(self, f"mask must be i1 or {self.query.type.element_type}, got {elem}")
        check_result_shape(self, (*q[:-1], v[-1]))


NN_OPS = [
    Conv2dOp,
    Conv2dNhwcOp,
    ConvTranspose2dOp,
    GroupNormOp,
    ResizeOp,
    MaxPool2dOp,
    AvgPool2dOp,
    MaxPool2dNhwcOp,
    AvgPool2dNhwcOp,
    AdaptiveAvgPool2dOp,
    BatchNormOp,
    LayerNormOp,
    SoftmaxOp,
    LogSoftmaxOp,
    AttentionOp,
]
