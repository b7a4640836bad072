"""Shape and indexing ops (concat, slice, pad, broadcast, take, gather,
cumsum): both backends against NumPy, bounds errors, a dynamic batch, and the
PyTorch converters that produce them."""

from __future__ import annotations

import numpy as np
import pytest
from op_helpers import Lambda, build_module, run, trace_and_compare

import hybridize
from hybridize.ir.elementwise import AddOp
from hybridize.ir.indexing import CumsumOp, GatherOp, TakeOp
from hybridize.ir.module import parse_module, print_module
from hybridize.ir.shape import BroadcastOp, ConcatOp, PadOp, SliceOp
from hybridize.ir.structure import FusedOp
from hybridize.ir.types import tensor_type

BACKENDS = ["numpy", "c"]
RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4, 5)).astype(np.float32)
Y = RNG.standard_normal((3, 2, 5)).astype(np.float32)
IDS = np.array([[4, 0, 2], [1, 1, 3]], np.int64)  # take along axis 2 (size 5)
ROWS = np.array([2, 0, 2], np.int32)  # take along axis 0 (size 3), i32 indices
G = np.array([[[0, 1, 2, 3], [3, 0, 0, 1]]] * 3, np.int64)  # gather along axis 1, smaller in dim 2


def shape_ops(emit, x, y, ids, rows, g):
    return [
        emit(ConcatOp([x, y, x], 1)),
        emit(ConcatOp([x, x], 2)),
        emit(SliceOp(x, [1, 0, 1], [1, 2, 2], (2, 2, 2))),
        emit(SliceOp(x, [0, 3, 0], [1, 1, 1], (3, 1, 5))),
        emit(PadOp(x, [0, 1, 2], [1, 0, 3], -np.inf)),
        emit(BroadcastOp(y, (2, 3, 2, 5))),
        emit(TakeOp(x, ids, 2)),
        emit(TakeOp(x, rows, 0)),
        emit(GatherOp(x, g, 1)),
        emit(CumsumOp(x, 1)),
        emit(CumsumOp(ids, 1)),
    ]


EXPECTED = [
    np.concatenate([X, Y, X], 1),
    np.concatenate([X, X], 2),
    X[1:3, 0:3:2, 1:4:2],
    X[:, 3:4],
    np.pad(X, [(0, 1), (1, 0), (2, 3)], constant_values=-np.inf),
    np.broadcast_to(Y, (2, 3, 2, 5)),
    np.take(X, IDS, axis=2),
    np.take(X, ROWS, axis=0),
    np.take_along_axis(X[:, :, :4], G, axis=1),
    np.cumsum(X.astype(np.float64), axis=1).astype(np.float32),  # accumulated in double
    np.cumsum(IDS, axis=1),
]


@pytest.mark.parametrize("pipeline", ["plan", "canonicalize,fuse,plan"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_shape_and_indexing_ops_match_numpy(backend, pipeline, c_cache):
    inputs = [X, Y, IDS, ROWS, G]
    module = build_module([tensor_type(a.shape, a.dtype) for a in inputs], shape_ops)
    got = run(module, backend, c_cache, *inputs, pipeline=pipeline)
    for k, (g, e) in enumerate(zip(got, EXPECTED)):
        assert g.shape == e.shape and g.dtype == e.dtype, k
        np.testing.assert_allclose(g, e, rtol=1e-6, err_msg=f"output {k}")


def test_broadcast_fuses_into_its_consumer(c_cache):
    types = [tensor_type((5,), "float32"), tensor_type((4, 5), "float32")]
    module = build_module(types, lambda emit, a, b: [emit(AddOp(emit(BroadcastOp(a, (4, 5))), b))])
    fused = hybridize.optimize(module, "canonicalize,fuse,plan")
    (group,) = [op for op in fused.walk() if isinstance(op, FusedOp)]
    assert [op.name for op in group.ops] == ["hy.broadcast", "hy.add"]
    a, b = np.arange(5, dtype=np.float32), np.ones((4, 5), np.float32)
    for backend in BACKENDS:
        (got,) = run(fused, backend, c_cache, a, b, pipeline="")
        np.testing.assert_array_equal(got, a + b)


OUT_OF_RANGE = """
func.func @forward(%x: tensor<4x3xf32>, %i: tensor<2xi64>, %g: tensor<2x3xi64>) -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = hy.take %x, %i axis 0 : (tensor<4x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
  %1 = hy.gather %x, %g axis 0 : (tensor<4x3xf32>, tensor<2x3xi64>) -> tensor<2x3xf32>
  func.return %0, %1 : tensor<2x3xf32>, tensor<2x3xf32>
}
"""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("bad", [-1, 4, 1 << 40])
@pytest.mark.parametrize("which", ["take", "gather"])
def test_out_of_range_indices_raise_index_error(which, bad, backend, c_cache):
    module = hybridize.optimize(parse_module(OUT_OF_RANGE), "canonicalize,fuse,plan")
    build = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
    x = np.zeros((4, 3), np.float32)
    i, g = np.array([0, 3]), np.array([[0, 1, 2], [3, 0, 1]])
    assert [o.shape for o in build(x, i, g)] == [(2, 3), (2, 3)]  # in range: fine
    if which == "take":
        i = np.array([0, bad])
    else:
        g = g.copy()
        g[1, 2] = bad
    match = f"hy.{which}: index out of range" if backend == "numpy" else "index out of range"
    with pytest.raises(IndexError, match=match):
        build(x, i, g)


def test_pad_with_an_integer_value_and_int_tensors(c_cache):
    text = """
func.func @forward(%x: tensor<2x2xi32>) -> tensor<3x4xi32> {
  %0 = hy.pad %x low [1, 0] high [0, 2] value 7.0 : tensor<2x2xi32> -> tensor<3x4xi32>
  func.return %0 : tensor<3x4xi32>
}"""
    x = np.array([[1, 2], [3, 4]], np.int32)
    for backend in BACKENDS:
        (got,) = run(parse_module(text), backend, c_cache, x, pipeline="plan")
        np.testing.assert_array_equal(got, np.pad(x, [(1, 0), (0, 2)], constant_values=7))


def test_kernels_serve_a_dynamic_batch(c_cache):
    text = """
func.func @forward(%x: tensor<?x6xf32>, %i: tensor<?x2xi64>) -> (tensor<?x9xf32>, tensor<?x2xf32>, tensor<?x6xf32>, tensor<2x?x6xf32>) {
  %0 = hy.slice %x starts [0, 1] steps [1, 2] : tensor<?x6xf32> -> tensor<?x3xf32>
  %1 = hy.concat %x, %0 axis 1 : (tensor<?x6xf32>, tensor<?x3xf32>) -> tensor<?x9xf32>
  %2 = hy.gather %x, %i axis 1 : (tensor<?x6xf32>, tensor<?x2xi64>) -> tensor<?x2xf32>
  %3 = hy.cumsum %x axis 1 : tensor<?x6xf32>
  %4 = hy.pad %0 low [0, 1] high [0, 2] value 1.0 : tensor<?x3xf32> -> tensor<?x6xf32>
  %5 = hy.add %4, %3 : (tensor<?x6xf32>, tensor<?x6xf32>) -> tensor<?x6xf32>
  %6 = hy.broadcast %x : tensor<?x6xf32> -> tensor<2x?x6xf32>
  func.return %1, %2, %5, %6 : tensor<?x9xf32>, tensor<?x2xf32>, tensor<?x6xf32>, tensor<2x?x6xf32>
}"""
    module = hybridize.optimize(parse_module(text), "canonicalize,fuse,plan")
    models = {b: hybridize.build(module, b, **({"cache_dir": c_cache} if b == "c" else {})) for b in BACKENDS}
    for n in (1, 3, 8):
        x = RNG.standard_normal((n, 6)).astype(np.float32)
        i = RNG.integers(0, 6, (n, 2))
        s = x[:, 1::2]
        expected = [
            np.concatenate([x, s], 1),
            np.take_along_axis(x, i, 1),
            np.pad(s, [(0, 0), (1, 2)], constant_values=1) + np.cumsum(x, 1),
            np.broadcast_to(x, (2, n, 6)),
        ]
        for backend, model in models.items():
            for g, e in zip(model(x, i), expected):
                np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=backend)


# --- PyTorch converters ---


@pytest.mark.torch
def test_cat_split_slice_select_from_torch(c_cache):
    torch = pytest.importorskip("torch")
    x = torch.randn(3, 8, 5)
    model = Lambda(
        lambda x: (
            torch.cat([x[:, 1:], x[:, :1]], 1), torch.cat([x, x.int().float()], -1),
            *torch.split(x, 3, dim=1), *torch.split(x, [2, 1, 5], 1), *torch.chunk(x, 2, -1),
            *torch.unbind(x[:, :2], 1), x[:, -3:-1], x[..., ::2], x[1:100], x[:, 2:1], x[:, -100:3:3],
            x.select(1, -1), x[:, 4], x[2],
        )
    )  # fmt: skip
    trace_and_compare(model, x, c_cache=c_cache)


@pytest.mark.torch
def test_reshapes_expand_repeat_transpose_pad_from_torch(c_cache):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.randn(3, 1, 4)
    model = Lambda(
        lambda x: (
            x.squeeze(1), x.squeeze(), x.unsqueeze(0), x.unsqueeze(-1), x.expand(2, 3, 5, 4),
            x.expand_as(x.repeat(1, 6, 1)), x.repeat(2, 3, 1), x.transpose(0, 2), x.T, F.pad(x, (1, 2)),
            F.pad(x, (1, 1, 0, 2), value=-1.5),
            F.pad(x, (-1, 2, 0, 0, 1, -1)), x.view(12) + 1,
        )
    )  # fmt: skip
    trace_and_compare(model, x, c_cache=c_cache)


@pytest.mark.torch
def test_embedding_index_gather_cumsum_from_torch(c_cache):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10, 4)

        def forward(self, ids, x, g):
            rows, cols = torch.tensor([[0], [-1]]), torch.tensor([1, -2, 4])
            return (
                self.emb(ids),
                x[torch.tensor([0, -1, 2, -3])],  # negative indices wrap, as in PyTorch
                x[:, ids[0]],
                x[rows, cols],  # two index tensors broadcast together: [2, 3]
                x[g[:, :1], g],
                torch.diff(x, dim=1),
                torch.diff(x > 0, n=2, dim=0, prepend=x[:1] > 1),
                torch.index_select(x, 1, torch.tensor([3, 0, 0])),
                torch.gather(x, 1, g),
                x.cumsum(1),
                ids.cumsum(-1),
                (x > 0).cumsum(0),
                ids.int().cumsum(1),
            )

    ids = torch.tensor([[1, 2, 3], [0, 9, 4]])
    x = torch.randn(3, 5)
    g = torch.tensor([[0, 4], [2, 2], [1, 3]])
    (default, _) = trace_and_compare(Net(), ids, x, g, c_cache=c_cache, rtol=1e-6)
    text = print_module(default)
    assert "hy.take" in text and "hy.gather" in text and "hy.cumsum" in text


@pytest.mark.torch
def test_scatter_by_an_index_tensor_from_torch(c_cache):
    # a one-hot compare of the index with the positions, reduced over the index's dim
    torch = pytest.importorskip("torch")

    def scatters(x, src, idx, perm):
        hard = torch.zeros_like(x).scatter_(1, x.argmax(1, keepdim=True), 1.0)  # GroupViT's hard one-hot
        return (
            hard,
            x.scatter(0, perm, src[:3]),  # unique positions along dim 0
            x.scatter_add(1, idx, src),  # repeated positions add up
            x.scatter_reduce(1, idx, src, "amax"),
            x.scatter_reduce(1, idx, src, "amin", include_self=False),
            x.scatter_reduce(1, idx, src, "sum", include_self=False),
            torch.zeros(3, 5, dtype=torch.int64).scatter_add(1, idx, idx),
        )

    torch.manual_seed(0)
    x, src = torch.randn(3, 5), torch.randn(4, 6)
    idx = torch.tensor([[0, 4, 4, 1, 0, 2], [3, 3, 3, 3, 3, 3], [1, 2, 0, 4, 2, 1]])
    perm = torch.tensor([[2, 0, 1, 1, 0], [0, 1, 2, 0, 2], [1, 2, 0, 2, 1]])
    trace_and_compare(Lambda(scatters), x, src, idx, perm, c_cache=c_cache)


@pytest.mark.torch
def test_embedding_with_an_out_of_range_id_raises(c_cache):
    torch = pytest.importorskip("torch")
    emb = torch.nn.Embedding(10, 4)
    module = hybridize.optimize(hybridize.trace(emb, torch.tensor([1, 2])), "canonicalize,fuse,plan")
    for backend in BACKENDS:
        model = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
        with pytest.raises(IndexError):
            model(torch.tensor([3, 10]))
        with pytest.raises(IndexError):
            model(torch.tensor([-1, 0]))


@pytest.mark.torch
def test_out_of_range_in_any_of_several_index_tensors_raises(c_cache):
    torch = pytest.importorskip("torch")
    model = Lambda(lambda x, i, j: x[i, j])
    x = torch.randn(3, 4)
    module = hybridize.optimize(
        hybridize.trace(model, x, torch.tensor([0, 2]), torch.tensor([3, -4])), "canonicalize,fuse,plan"
    )
    for backend in BACKENDS:
        build = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
        np.testing.assert_array_equal(build(x, torch.tensor([0, 2]), torch.tensor([3, -4])), x[[0, 2], [3, 0]])
        for i, j in (([0, 3], [0, 0]), ([0, 0], [4, 0]), ([0, -4], [0, 0]), ([0, 0], [0, -5])):
            with pytest.raises(IndexError):  # index 1 * 4 + 4 would land inside x, but is out of its row
                build(x, torch.tensor(i), torch.tensor(j))


@pytest.mark.torch
def test_tensor_factories_become_constants(c_cache):
    torch = pytest.importorskip("torch")
    x = torch.randn(3, 4)
    model = Lambda(
        lambda x: (
            x + torch.full((3, 4), 2.5), x + torch.zeros(3, 4), x + torch.ones_like(x), x + torch.zeros_like(x),
            torch.arange(4) * 2, torch.arange(1, 7, 2), torch.arange(0.5, 2.5, 0.25), x.new_ones(2, 4),
            x.new_zeros(4), x.new_full((2,), 3.0), torch.full_like(x, 7), x + torch.scalar_tensor(3.0),
            x.view(x.size(0), -1) + x.shape[1],
        )
    )  # fmt: skip
    (default, decomposed) = trace_and_compare(model, x, c_cache=c_cache)
    assert "hy.constant" in print_module(default)


@pytest.mark.torch
def test_unsupported_indexing_is_refused_clearly():
    torch = pytest.importorskip("torch")
    from hybridize.frontends.torch import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match="boolean mask indexing"):
        hybridize.trace(Lambda(lambda x, m: x[m]), torch.randn(3), torch.tensor([True, False, True]))
    with pytest.raises(UnsupportedOpError, match="adjacent dimensions"):
        hybridize.trace(Lambda(lambda x, i: x[i, :, i]), torch.randn(3, 3, 3), torch.tensor([0, 2]))

    class OneMoreThanTheBatch(torch.nn.Module):
        def forward(self, x):
            return torch.zeros(x.shape[0] + 1, 3)[1:] + x

    with pytest.raises(UnsupportedOpError, match=r"size of s\w+ \+ 1 is not supported.*multiple of it"):
        hybridize.trace(OneMoreThanTheBatch(), torch.randn(4, 3), dynamic_batch=True)


@pytest.mark.torch
def test_flip_outside_a_dynamic_batch(c_cache):
    torch = pytest.importorskip("torch")
    module = hybridize.optimize(hybridize.trace(Lambda(lambda x: x.flip(1, 2)), torch.randn(1, 3, 4), dynamic_batch=True))
    for backend in BACKENDS:
        fast = hybridize.build(module, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
        x = torch.randn(3, 3, 4)
        np.testing.assert_array_equal(np.asarray(fast(x.numpy())), x.flip(1, 2).numpy())
    from hybridize.frontends.torch import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match="flipping the dynamic batch"):
        hybridize.trace(Lambda(lambda x: x.flip(0)), torch.randn(2, 3), dynamic_batch=True)
