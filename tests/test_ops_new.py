"""The ops added for model coverage against eager PyTorch on both backends:
1-D, "same"-padded and transposed convolutions, group and instance norm,
resize (nearest, nearest-exact, bilinear, bicubic; align_corners; sizes and
scale factors), sort/topk/argmax/argmin and max/min over a dim, roll and
triu/tril, cumprod; PyTorch's order for NaN and ties; the ceil-mode pooling window
larger than its input; verifier errors raised while lowering name the op and
the user's source line."""

from __future__ import annotations

import numpy as np
import pytest
from op_helpers import Lambda, build_module, run, trace_and_compare

import hybridize
from hybridize.errors import FrontendError
from hybridize.ir.sort import ArgMaxOp, ArgMinOp, ArgsortOp, SortOp
from hybridize.ir.types import tensor_type


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def test_resize_matches_torch(torch, c_cache):
    F = torch.nn.functional

    def fn(x, v):
        return (
            F.interpolate(x, scale_factor=2, mode="nearest"),
            F.interpolate(x, scale_factor=1.7, mode="nearest"),
            F.interpolate(x, size=(3, 11), mode="nearest"),
            F.interpolate(x, scale_factor=1.5, mode="nearest-exact"),
            F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=True),
            F.interpolate(x, scale_factor=2, mode="bilinear"),
            F.interpolate(x, size=(3, 4), mode="bilinear"),
            F.interpolate(x, scale_factor=1.3, mode="bilinear"),
            F.interpolate(x, scale_factor=1.7, mode="bicubic"),
            F.interpolate(x, size=(9, 4), mode="bicubic", align_corners=True),
            F.interpolate(v, scale_factor=2.5, mode="linear"),
            F.interpolate(v, size=9, mode="nearest"),
        )

    torch.manual_seed(0)
    # bicubic weights differ from torch's (FMA-contracted) ones in the last bit
    trace_and_compare(Lambda(fn), torch.randn(2, 3, 5, 6), torch.randn(1, 4, 6), c_cache=c_cache, atol=1e-5, rtol=1e-5)


def test_antialiased_resize_is_refused(torch):
    model = Lambda(lambda x: torch.nn.functional.interpolate(x, size=(3, 3), mode="bilinear", antialias=True))
    from hybridize.frontends.torch import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match="antialiased resize.*not supported.*test_ops_new.py"):
        hybridize.trace(model, torch.randn(1, 2, 6, 6))


def test_convolutions_match_torch(torch, c_cache):
    torch.manual_seed(0)
    layers = torch.nn.ModuleList(
        [
            torch.nn.Conv1d(4, 8, 3, padding=1, stride=2),
            torch.nn.Conv1d(4, 8, 5, padding=2, dilation=2, groups=2),
            torch.nn.Conv1d(4, 8, 4, padding="same"),
            torch.nn.ConvTranspose1d(4, 6, 3, stride=2, output_padding=1),
        ]
    )
    planes = torch.nn.ModuleList(
        [
            torch.nn.Conv2d(4, 8, (4, 3), padding="same"),
            torch.nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1),
            torch.nn.ConvTranspose2d(4, 6, 3, stride=(1, 2), padding=(0, 2), dilation=(2, 1), bias=False),
            torch.nn.ConvTranspose2d(4, 6, 3, stride=3, output_padding=2, groups=2),
        ]
    )

    def fn(v, x):
        return (*[m(v) for m in layers], *[m(x) for m in planes])

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "same" with an even kernel copies its input
        trace_and_compare(Lambda(fn), torch.randn(2, 4, 9), torch.randn(2, 4, 5, 6), c_cache=c_cache, atol=1e-5, rtol=1e-5)


def test_group_and_instance_norm_match_torch(torch, c_cache):
    torch.manual_seed(0)
    gn, inorm = torch.nn.GroupNorm(2, 4), torch.nn.InstanceNorm2d(4, affine=True)
    with torch.no_grad():
        for p in (*gn.parameters(), *inorm.parameters()):
            p.copy_(torch.randn_like(p))

    def fn(x):
        return torch.nn.functional.group_norm(x, 2), gn(x), torch.nn.functional.instance_norm(x), inorm(x)

    trace_and_compare(Lambda(fn), torch.randn(2, 4, 5, 6) * 3 + 1, c_cache=c_cache, atol=1e-5, rtol=1e-5)


def test_ordering_ops_match_torch(torch, c_cache):
    def fn(x):
        return (
            *torch.sort(x, dim=1),
            *torch.sort(x, dim=-1, descending=True, stable=True),
            *torch.topk(x, 3, dim=1),
            *torch.topk(x, 2, largest=False),
            x.argmax(1),
            x.argmin(-1, keepdim=True),
            x.argmax(),
            *x.max(dim=1),
            *x.min(dim=2, keepdim=True),
            torch.roll(x, 2, 1),
            torch.roll(x, (-1, 5), (0, 2)),
            torch.roll(x, 3),
            torch.triu(x),
            torch.tril(x, -1),
            torch.triu(x, 2),
            x.cumprod(2),
            (x > 0).cumprod(1),
        )

    torch.manual_seed(0)
    trace_and_compare(Lambda(fn), torch.randn(2, 7, 5), c_cache=c_cache)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_sort_order_of_ties_and_nan(torch, c_cache, dtype):
    """Stable; NaN largest (last ascending, first descending); -0.0 equals
    0.0; argmax/argmin give the first extreme, or the first NaN."""
    if np.dtype(dtype).kind == "f":
        row = [3.0, np.nan, -0.0, 1.0, 0.0, np.nan, 1.0, -np.inf, 3.0, np.inf]
    else:
        row = [3, np.iinfo(dtype).min, 0, 1, 0, np.iinfo(dtype).max, 1, -7, 3, 2]
    x = np.array([row, row[::-1]], dtype)
    t = tensor_type(x.shape, dtype)
    module = build_module(
        [t],
        lambda emit, a: [
            emit(SortOp(a, 1)),
            emit(SortOp(a, 1, descending=True)),
            emit(ArgsortOp(a, 1)),
            emit(ArgsortOp(a, 1, descending=True)),
            emit(ArgsortOp(a, 0, descending=True)),
            emit(ArgMaxOp(a, 1)),
            emit(ArgMinOp(a, 1, keepdim=True)),
        ],
    )
    tx = torch.from_numpy(x)
    expected = [
        torch.sort(tx, dim=1, stable=True)[0],
        torch.sort(tx, dim=1, descending=True, stable=True)[0],
        torch.sort(tx, dim=1, stable=True)[1],
        torch.sort(tx, dim=1, descending=True, stable=True)[1],
        torch.sort(tx, dim=0, descending=True, stable=True)[1],
        tx.argmax(1),
        tx.argmin(1, keepdim=True),
    ]
    for backend in ("numpy", "c"):
        for got, ref in zip(run(module, backend, c_cache, x), expected, strict=True):
            np.testing.assert_array_equal(got, ref.numpy(), err_msg=backend)
            assert got.dtype == ref.numpy().dtype
            if got.dtype.kind == "f":  # the sign of zero is kept with its position
                np.testing.assert_array_equal(np.signbit(got), np.signbit(ref.numpy()), err_msg=backend)


def test_ceil_mode_pool_window_larger_than_input(torch, c_cache):
    """EfficientNet's pooler: AvgPool2d(7, ceil_mode=True) on a 5x5 map is one
    window (torch averages the 25 pixels); it used to fail verification."""
    pools = torch.nn.ModuleList(
        [
            torch.nn.AvgPool2d(7, ceil_mode=True),
            torch.nn.AvgPool2d(7, ceil_mode=True, count_include_pad=False),
            torch.nn.AvgPool2d(7, stride=2, padding=2, ceil_mode=True),
            torch.nn.MaxPool2d(7, ceil_mode=True),
        ]
    )
    trace_and_compare(Lambda(lambda x: tuple(p(x) for p in pools)), torch.randn(2, 4, 5, 5), c_cache=c_cache, decompose=(False,))


def test_verifier_error_while_lowering_names_op_and_source_line(torch, monkeypatch):
    """An op its own verifier rejects is reported with the ATen op and the
    model's line, not as a dump of the IR."""
    from hybridize.frontends.torch import CONVERTERS
    from hybridize.ir.nn import AvgPool2dOp

    def bad_pool(lo, node, args, kwargs):
        return lo.emit(AvgPool2dOp(args[0], (9, 9), (1, 1), (0, 0), (1, 1)))

    monkeypatch.setitem(CONVERTERS, "aten.avg_pool2d.default", bad_pool)
    model = Lambda(lambda x: torch.nn.functional.avg_pool2d(x, 2))  # the user's line is this one
    with pytest.raises(FrontendError) as info:
        hybridize.trace(model, torch.randn(1, 2, 4, 4))
    message = str(info.value)
    assert "hy.avg_pool2d: kernel [9, 9] does not fit the padded input 4x4" in message
    assert "aten.avg_pool2d.default" in message and "test_ops_new.py" in message
    assert "func.func" not in message


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear", "cubic"])
def test_resize_taps_are_torchs(torch, mode):
    """The tap rule against PyTorch's kernel on one-hot inputs (1-D, every
    pair of sizes up to 12 -> 24, by size and by scale factor, both corner
    rules): nearest picks exactly torch's source; linear and cubic weights
    agree to float rounding."""
    from hybridize.ir.nn import resize_taps

    F = torch.nn.functional
    tmode = {"nearest": "nearest", "nearest-exact": "nearest-exact", "linear": "linear", "cubic": "bicubic"}[mode]
    corners = (False, True) if mode in ("linear", "cubic") else (False,)
    for size in range(1, 13):
        eye = torch.eye(size).reshape(size, 1, size)
        if mode == "cubic":  # bicubic is 2-D only: a height of 1 reads its one row with weight 1
            eye = eye.reshape(size, 1, 1, size)
        for align in corners:
            requests = [(out, None) for out in range(1, 25)] + [
                (int(size * s), s) for s in (0.5, 0.7, 1.3, 1.5, 1.7, 2.0, 2.5, 3.1) if int(size * s) >= 1
            ]
            for out, scale in requests:
                kw = {"align_corners": align} if mode in ("linear", "cubic") else {}
                if scale is None:
                    got = F.interpolate(eye, size=(1, out) if mode == "cubic" else out, mode=tmode, **kw)
                else:
                    got = F.interpolate(eye, scale_factor=(1, scale) if mode == "cubic" else scale, mode=tmode, **kw)
                ref = got.reshape(size, out).T.numpy()  # [out, in]: the weight of each source
                idx, wts = resize_taps(mode, size, out, align, scale)
                dense = np.zeros((out, size), np.float64)
                for k in range(idx.shape[1]):
                    np.add.at(dense, (np.arange(out), idx[:, k]), wts[:, k])
                what = f"{mode} {size} -> {out} scale {scale} align_corners {align}"
                if mode.startswith("nearest"):
                    np.testing.assert_array_equal(dense, ref, err_msg=what)
                else:
                    np.testing.assert_allclose(dense, ref, atol=2e-6 if mode == "cubic" else 1e-6, err_msg=what)


def test_bilinear_and_trilinear_match_torch(torch, c_cache):
    # nn.Bilinear's _trilinear is one matmul; other expand/sum patterns multiply and sum
    torch.manual_seed(0)
    bilinear = torch.nn.Bilinear(4, 3, 5)
    aten = torch.ops.aten

    def fn(x1, x2, a, b, c):
        return bilinear(x1, x2), aten._trilinear(a, b, c, [2], [0], [1], [1, 2])

    inputs = (torch.randn(2, 4), torch.randn(2, 3), torch.randn(2, 6), torch.randn(6, 7), torch.randn(2, 7))
    trace_and_compare(Lambda(fn), *inputs, c_cache=c_cache, rtol=1e-5, atol=1e-5)
