"""The Core ATen opset: every core op of the installed torch is converted,
decomposed or refused with a reason; the converters agree with eager
PyTorch; ops with no converter are decomposed without being asked."""

from __future__ import annotations

import numpy as np
import pytest

import hybridize
from hybridize.frontends.torch import CONVERTERS, UnsupportedOpError, supported_ops
from hybridize.frontends.torch.core_aten import DECOMPOSITION_CHECKED, REFUSED, coverage, main

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = pytest.mark.torch


def test_every_core_op_is_converted_decomposed_or_refused_with_a_reason():
    c = coverage()
    assert not c.unclassified, f"core ops with no converter, no decomposition and no refusal: {c.unclassified}"
    assert not c.stale, f"refused in core_aten.REFUSED but converted now (remove the refusal): {c.stale}"
    assert all(len(why) > 20 for why in REFUSED.values())
    assert c.total > 150 and c.covered / c.total > 0.8


def test_supported_ops_come_from_the_converter_table():
    assert supported_ops() == sorted(CONVERTERS)


def test_every_converter_names_a_real_aten_op():
    missing = []
    for name in CONVERTERS:
        if not name.startswith("aten."):
            continue
        _, packet, overload = name.split(".")
        if not hasattr(getattr(torch.ops.aten, packet, None), overload):
            missing.append(name)
    assert not missing


def test_coverage_is_printed(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "Core ATen opset" in out and "covered:" in out
    assert main(["-v"]) == 0
    assert "refused     aten.randn.default: a random op" in capsys.readouterr().out


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _parity(fn, *inputs, backend="numpy", tol=1e-5, c_cache=None, labels=None, **trace):
    model = Fn(fn)
    module = hybridize.trace(model, *inputs, **trace)
    options = {"cache_dir": c_cache} if backend == "c" else {}
    compiled = hybridize.build(hybridize.optimize(module, "canonicalize,fuse,plan"), backend, **options)
    got = compiled(*inputs)
    with torch.no_grad():
        want = model(*inputs)
    got, want = (got, want) if isinstance(want, tuple | list) else ((got,), (want,))
    for k, (g, w) in enumerate(zip(got, want)):
        label = labels[k] if labels else f"output {k}"
        assert g.shape == w.shape and g.dtype == w.dtype, label
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=tol, atol=tol, equal_nan=True, err_msg=label)
    return module


def _f(*shape, low=-3.0, high=3.0, seed=0):
    g = torch.Generator().manual_seed(seed + sum(shape))
    return torch.rand(*shape, generator=g) * (high - low) + low


def _i(*shape, low=-9, high=9, seed=0):
    g = torch.Generator().manual_seed(seed + sum(shape))
    return torch.randint(low, high, shape, generator=g)


_HALVES = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, -3.7, 4.2, 1e8, float("nan"), float("inf")])
_NONZERO_I = (_i(3, 4, seed=1).abs() + 1) * torch.tensor([1, -1, 1, -1])

CASES = {
    # sign, rounding, NaN/inf
    "sign": (torch.sign, [torch.tensor([-2.0, -0.0, 0.0, 3.0, float("nan"), float("-inf")])]),
    "sign_int": (torch.sign, [_i(3, 4)]),
    "ceil": (torch.ceil, [_f(3, 4)]),
    "trunc": (torch.trunc, [_f(3, 4)]),
    "round": (torch.round, [_HALVES]),
    "round_decimals": (lambda x: torch.round(x, decimals=2), [_f(3, 4)]),
    "round_negative_decimals": (lambda x: torch.round(x * 1000, decimals=-2), [_f(3, 4)]),
    "isnan_isinf": (lambda x: (torch.isnan(x), torch.isinf(x)), [_HALVES]),
    # division modes
    "floor_divide": (torch.floor_divide, [_f(3, 4), _f(4) + 5]),
    "floor_divide_int": (torch.floor_divide, [_i(3, 4), _NONZERO_I]),
    "div_trunc_int": (lambda a, b: torch.div(a, b, rounding_mode="trunc"), [_i(3, 4), _NONZERO_I]),
    "div_floor_scalar": (lambda a: torch.div(a, 0.7, rounding_mode="floor"), [_f(3, 4)]),
    "fmod": (torch.fmod, [_f(3, 4), _f(3, 4, seed=2).abs() + 0.5]),
    "fmod_int": (torch.fmod, [_i(3, 4), _NONZERO_I]),
    "remainder": (torch.remainder, [_f(3, 4), torch.tensor([1.5, -1.5, 2.0, -0.75])]),
    "remainder_int": (lambda a, b: a % b, [_i(3, 4), _NONZERO_I]),
    "remainder_scalar": (lambda a: a % 3, [_i(3, 4)]),
    # logs, trigonometric, hyperbolic
    "log2_log10": (lambda x: (torch.log2(x), torch.log10(x)), [_f(3, 4, low=0.1, high=100)]),
    "exp2": (torch.exp2, [_f(3, 4)]),
    "tan": (torch.tan, [_f(3, 4, low=-1.4, high=1.4)]),
    "atan": (torch.atan, [torch.cat([_f(20, low=-50, high=50), _HALVES])]),
    "asin_acos": (lambda x: (torch.asin(x), torch.acos(x)), [torch.cat([_f(20, low=-1, high=1), torch.tensor([1.0, -1.0, 0.0])])]),
    "atan2": (torch.atan2, [torch.tensor([1.0, -1.0, 1.0, -1.0, 0.0, 0.0, 2.0, -3.0]), torch.tensor([1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 0.0, 0.0])]),
    "sinh_cosh": (lambda x: (torch.sinh(x), torch.cosh(x)), [_f(3, 4)]),
    "asinh_atanh": (lambda x: (torch.asinh(x), torch.atanh(x * 0.3)), [_f(3, 4)]),
    "acosh": (torch.acosh, [_f(3, 4, low=1.0, high=30.0)]),
    # reductions and statistics
    "var_std": (lambda x: (x.var(1), x.std(dim=(0, 2), keepdim=True), torch.var(x, 1, correction=0)), [_f(2, 3, 4)]),
    "var_all": (lambda x: (x.var(), x.std(unbiased=False)), [_f(2, 3, 4)]),
    "prod": (lambda x: (x.prod(), x.prod(1), x.prod(2, keepdim=True)), [_f(2, 5, 3, low=0.5, high=1.5)]),
    "prod_int": (lambda x: x.prod(0), [_i(3, 4)]),
    "max_min_dim_values": (lambda x: (x.max(1).values, x.min(dim=0, keepdim=True)[0]), [_f(3, 4)]),
    "min_max_other": (lambda x, y: (torch.min(x, y), torch.max(x, y)), [_f(3, 4), _f(4, seed=3)]),
    "logsumexp": (lambda x: torch.logsumexp(x, 1), [_f(3, 4)]),
    "vector_norm": (lambda x: (torch.linalg.vector_norm(x, dim=1), torch.linalg.vector_norm(x, ord=3),
                               torch.linalg.vector_norm(x, ord=float("inf"), dim=0)), [_f(3, 4)]),
    "norm": (lambda x: (x.norm(dim=-1, keepdim=True), x.norm(p=1)), [_f(3, 4)]),
    "cdist": (lambda a, b: (torch.cdist(a, b), torch.cdist(a, b, p=1)), [_f(2, 3, 4), _f(2, 5, 4, seed=1)]),
    "pdist": (lambda x: nn.functional.pdist(x), [_f(5, 3)]),
    "instance_norm": (lambda x: nn.functional.instance_norm(x), [_f(2, 3, 4, 4)]),
    # matrix products
    "baddbmm": (lambda b, x, y: torch.baddbmm(b, x, y, beta=0.5, alpha=2.0), [_f(2, 3, 5), _f(2, 3, 4), _f(2, 4, 5)]),
    "addmv_addr": (lambda b, m, v: (torch.addmv(b, m, v), torch.addr(m, b, v)), [_f(3), _f(3, 4), _f(4)]),
    # layout, views, scatter
    "diagonal": (lambda x: (x.diagonal(), x.diagonal(1, 1, 2), x.diagonal(-1, 0, 2)), [_f(3, 4, 4)]),
    "flip": (lambda x: (x.flip(0), x.flip([1, 2])), [_f(2, 3, 4)]),
    "unflatten_reshape_as_view_as": (lambda x, y: (x.unflatten(1, (3, 4)), x.reshape_as(y), x.view_as(y)), [_f(2, 12), _f(4, 6)]),
    "repeat_interleave": (lambda x: (x.repeat_interleave(2, dim=1), x.repeat_interleave(3)), [_f(2, 3)]),
    "slice_scatter": (lambda x, s: torch.slice_scatter(x, s, 1, 1, 6, 2), [_f(2, 7), _f(2, 3)]),
    "slice_scatter_step1": (lambda x, s: torch.slice_scatter(x, s, 0, 2), [_f(5, 3), _f(3, 3)]),
    "select_scatter": (lambda x, s: torch.select_scatter(x, s, 1, -1), [_f(2, 3, 4), _f(2, 4)]),
    "setitem": (lambda x, v: _setitem(x, v), [_f(4, 5), _f(4)]),
    "masked_fill_by_index_put": (lambda x: _mask_put(x), [_f(3, 4)]),
    "masked_scatter": (lambda x, m, s: x.masked_scatter(m, s), [_f(3, 4), _f(3, 4) > 0, _f(12, seed=5)]),
    "copy_into_slice": (lambda x: _copy_into(x), [_f(3, 4)]),
    "inplace_on_views": (lambda x: _inplace(x), [_f(2, 4)]),
    "new_empty_filled": (lambda x: x.new_empty(3, 2).fill_(1.5) + torch.empty_like(x[:3, :2]).fill_(0.5), [_f(4, 4)]),
    "reflection_replication_pad": (lambda x: (nn.functional.pad(x, (1, 2, 2, 1), mode="reflect"),
                                              nn.functional.pad(x[0], (2, 1), mode="replicate")), [_f(1, 2, 4, 5)]),
    "pool1d": (lambda x: (nn.functional.avg_pool1d(x, 3, 2), nn.functional.adaptive_avg_pool1d(x, 4)), [_f(2, 3, 9)]),
    "embedding_bag": (lambda i: _bags(i), [_i(3, 4, low=0, high=10)]),
    "bitwise_bool_scalar": (lambda m: (m & True, m | False, m ^ True), [_f(3, 4) > 0]),
}


_BAGS = {mode: nn.EmbeddingBag(10, 3, mode=mode) for mode in ("sum", "mean", "max")}
_PADDED_BAG = nn.EmbeddingBag(10, 3, mode="sum", padding_idx=2)


def _bags(i):
    flat, offsets = i.reshape(-1), torch.tensor([0, 2, 2, 7])  # an empty bag, unequal sizes
    return (*(bag(i) for bag in _BAGS.values()), _BAGS["mean"](flat, offsets), _BAGS["max"](flat, offsets),
            _PADDED_BAG(i), _BAGS["sum"](flat, offsets, per_sample_weights=torch.linspace(0.5, 2, 12)))


def _setitem(x, v):
    y = x.clone()
    y[:, 2] = v
    y[1:3, 0] += 1.0
    return y


def _mask_put(x):
    y = x.clone()
    y[y > 1.0] = -5.0
    return y


def _copy_into(x):
    y = torch.zeros(5, 4)
    y[1:4].copy_(x)
    return y


def _inplace(x):
    y = x * 1
    v = y.view(-1)
    v.div_(2)
    y.sub_(1)
    y.mul_(3)
    return y + x, v


GROUPS = {
    "rounding": ["sign", "sign_int", "ceil", "trunc", "round", "round_decimals", "round_negative_decimals",
                 "isnan_isinf", "bitwise_bool_scalar"],
    "division": ["floor_divide", "floor_divide_int", "div_trunc_int", "div_floor_scalar", "fmod", "fmod_int",
                 "remainder", "remainder_int", "remainder_scalar"],
    "transcendental": ["log2_log10", "exp2", "tan", "atan", "asin_acos", "atan2", "sinh_cosh", "asinh_atanh", "acosh"],
    "statistics": ["var_std", "var_all", "prod", "prod_int", "max_min_dim_values", "min_max_other", "logsumexp",
                   "vector_norm", "norm", "cdist", "pdist", "instance_norm"],
    "layout": ["baddbmm", "addmv_addr", "diagonal", "flip", "unflatten_reshape_as_view_as", "repeat_interleave",
               "new_empty_filled", "reflection_replication_pad", "pool1d", "embedding_bag"],
    "scatter": ["slice_scatter", "slice_scatter_step1", "select_scatter", "setitem", "masked_fill_by_index_put",
                "masked_scatter", "copy_into_slice", "inplace_on_views"],
}
"""CASES traced together, one model per group (one export each keeps the suite fast)."""


def test_every_case_is_in_one_group():
    grouped = [c for cases in GROUPS.values() for c in cases]
    assert sorted(grouped) == sorted(CASES)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_converters_match_eager(group):
    cases = [(name, *CASES[name]) for name in GROUPS[group]]
    inputs = [x for _, _, xs in cases for x in xs]
    labels = []

    def fn(*xs):
        out, at = [], 0
        labels.clear()
        for name, f, case_inputs in cases:
            y = f(*xs[at : at + len(case_inputs)])
            at += len(case_inputs)
            y = list(y) if isinstance(y, tuple | list) else [y]
            out += y
            labels.extend(f"{name}[{i}]" for i in range(len(y)))
        return tuple(out)

    _parity(fn, *inputs, labels=labels)


EINSUM = {
    "ij,jk->ik": [(3, 4), (4, 5)],
    "bij,bjk->bik": [(2, 3, 4), (2, 4, 5)],
    "bhqd,bhkd->bhqk": [(2, 2, 3, 4), (2, 2, 5, 4)],
    "...ij,...jk->...ik": [(2, 3, 4), (2, 4, 2)],
    "i,j->ij": [(3,), (4,)],
    "ij,ij->": [(3, 4), (3, 4)],
    "ii->i": [(4, 4)],
    "bii->b": [(2, 3, 3)],
    "ij->ji": [(3, 4)],
    "ijk,ikl->jl": [(2, 3, 4), (2, 4, 5)],
    "bn,anm,bm->ba": [(2, 3), (4, 3, 5), (2, 5)],
}


def test_einsum_is_decomposed_to_matmul_transpose_reshape():
    equations = sorted(EINSUM)
    inputs = [_f(*s, seed=i) for e in equations for i, s in enumerate(EINSUM[e])]

    def fn(*xs):
        out, at = [], 0
        for e in equations:
            k = len(EINSUM[e])
            out.append(torch.einsum(e, *xs[at : at + k]))
            at += k
        return tuple(out)

    module = _parity(fn, *inputs, tol=1e-4, labels=equations)
    assert "hy.matmul" in str(module)


class SameConvs(nn.Module):
    """padding="same" and "valid" in 1-D and 2-D, even kernels (asymmetric pads), dilation, groups."""

    def __init__(self):
        super().__init__()
        self.c2 = nn.ModuleList([nn.Conv2d(3, 4, 4, padding="same"),
                                 nn.Conv2d(3, 4, (3, 2), padding="same", dilation=(1, 2), bias=False),
                                 nn.Conv2d(3, 4, 3, padding="valid", groups=1)])
        self.c1 = nn.ModuleList([nn.Conv1d(3, 5, 4, padding="same"), nn.Conv1d(3, 6, 3, padding="same", dilation=3, groups=3)])

    def forward(self, image, signal):
        return tuple(c(image) for c in self.c2) + tuple(c(signal) for c in self.c1) + (self.c2[0](image[0]),)


def test_conv_padding_modes_compute_explicit_pads():
    torch.manual_seed(0)
    module = _parity(SameConvs().eval(), _f(2, 3, 7, 6), _f(2, 3, 9))
    assert "padding [1, 1, 2, 2]" in str(module)


def test_core_ops_on_the_c_backend(c_cache):
    def fn(x, i, j):
        return torch.sign(x) * torch.atan2(x, x.flip(0)) + torch.round(x * 3) - x.var(1, keepdim=True), i // j

    _parity(fn, _f(4, 6), _i(4, 6), (_i(4, 6, seed=3).abs() + 1), backend="c", c_cache=c_cache)


def test_unmapped_ops_are_decomposed_without_decompose_true():
    def fn(x):
        return torch.einsum("abij->abji", x.unflatten(1, (2, 3))).logsumexp(-1)

    module = _parity(fn, _f(2, 6, 4))
    assert "hy.transpose" in str(module)


def test_decompose_true_still_works():
    _parity(lambda x: nn.functional.gelu(x).mean(1).unflatten(0, (1, 2)), _f(2, 4), decompose=True)


class GridSample(nn.Module):
    def forward(self, x, grid):
        return nn.functional.grid_sample(x, grid, align_corners=False)  # the line the error names


def test_an_op_left_unmapped_names_itself_and_the_users_line():
    with pytest.raises(UnsupportedOpError) as e:
        hybridize.trace(GridSample(), _f(1, 2, 3, 3), _f(1, 2, 2, 2))
    message = str(e.value)
    assert "aten.grid_sampler_2d.default" in message and "test_core_aten.py" in message
    assert "grid_sample(x, grid" in message and "no sampling op" in message and len(message) < 600


def test_a_refusing_converter_lets_torch_decompose_its_op():
    module = _parity(lambda x: nn.functional.pad(x, (1, 1), mode="reflect"), _f(2, 3, 5))
    assert "hy.take" in str(module) or "hy.concat" in str(module)


def test_decomposition_checked_ops_are_the_decomposed_ones():
    assert set(DECOMPOSITION_CHECKED) <= set(coverage().decomposed)


def test_inplace_ops_nobody_else_sees_lower_without_functionalization():
    from hybridize.frontends.torch.decompose import needs_decomposition, observable_mutations

    def fresh(x):
        y = x * 2
        y.div_(3).clamp_(min=0.1).pow_(2)
        return y.exp_()

    x = _f(3, 4)
    assert not needs_decomposition(torch.export.export(Fn(fresh), (x,)).graph_module.graph)
    _parity(fresh, x)
    seen = torch.export.export(Fn(_inplace), (x[:2],)).graph_module.graph
    assert [str(n.target) for n in observable_mutations(seen)] == ["aten.div_.Tensor", "aten.sub_.Tensor"]
