"""Backends: generated code runs, agrees with the NumPy reference, checks its
arguments, and keeps model names out of the source."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import module

import hybridize
from hybridize.backends import generate_source
from hybridize.ir import parse_module
from hybridize.passes import run_pipeline

X = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)


def reference(m, *inputs):
    return hybridize.build(m, "numpy")(*inputs)


@pytest.mark.parametrize("backend", ["numpy", "c"])
@pytest.mark.parametrize("pipeline", ["", "plan", "fuse,plan", "canonicalize,cse,fuse,plan"])
def test_mlp_like_module_matches_reference(backend, pipeline, c_cache):
    expected = reference(module(), X)
    m = run_pipeline(module(), pipeline) if pipeline else module()
    got = hybridize.build(m, backend, **({"cache_dir": c_cache} if backend == "c" else {}))(X)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


BROADCAST_AND_BATCHED = """
func.func @forward(%x: tensor<2x3x4xf32>, %y: tensor<4x5xf32>, %c: tensor<3x1xf32>) -> (tensor<2x3x5xf32>, tensor<2x3x4xf32>, tensor<3x4x2xf32>) {
  %0 = hy.matmul %x, %y : (tensor<2x3x4xf32>, tensor<4x5xf32>) -> tensor<2x3x5xf32>
  %1 = hy.div %x, %c : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  %2 = hy.sub %1, %c : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
  %3 = hy.transpose %x perm [1, 2, 0] : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  func.return %0, %2, %3 : tensor<2x3x5xf32>, tensor<2x3x4xf32>, tensor<3x4x2xf32>
}
"""


@pytest.mark.parametrize("pipeline", ["plan", "fuse,plan"])
def test_c_handles_batched_matmul_broadcast_and_transpose(pipeline, c_cache):
    rng = np.random.default_rng(1)
    args = [
        rng.standard_normal((2, 3, 4)).astype(np.float32),
        rng.standard_normal((4, 5)).astype(np.float32),
        (rng.random((3, 1)) + 0.5).astype(np.float32),
    ]
    m = parse_module(BROADCAST_AND_BATCHED)
    expected = reference(m, *args)
    got = hybridize.build(run_pipeline(m, pipeline), "c", cache_dir=c_cache)(*args)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_outputs_that_are_inputs_or_views_are_copies(c_cache):
    text = """
func.func @forward(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<6xf32>, tensor<2x3xf32>) {
  %0 = hy.relu %x : tensor<2x3xf32>
  %1 = hy.reshape %0 : tensor<2x3xf32> -> tensor<6xf32>
  func.return %x, %1, %0 : tensor<2x3xf32>, tensor<6xf32>, tensor<2x3xf32>
}"""
    x = np.arange(-3, 3, dtype=np.float32).reshape(2, 3)
    for backend in ("numpy", "c"):
        m = run_pipeline(parse_module(text), "plan")
        a, b, c = hybridize.build(m, backend, **({"cache_dir": c_cache} if backend == "c" else {}))(x)
        assert a is not x and np.shares_memory(a, x) is False
        np.testing.assert_array_equal(a, x)
        np.testing.assert_array_equal(b, np.maximum(x, 0).ravel())
        np.testing.assert_array_equal(c, np.maximum(x, 0))


@pytest.mark.parametrize("backend", ["numpy", "c"])
def test_wrong_shape_or_dtype_names_the_signature(backend, c_cache):
    model = hybridize.build(module(), backend, **({"cache_dir": c_cache} if backend == "c" else {}))
    with pytest.raises(ValueError, match=r"expected tensor<2x8> of float32, got shape \(3, 8\).*forward\(x0: tensor<2x8xf32>\)"):
        model(np.zeros((3, 8), np.float32))
    with pytest.raises(ValueError, match="float64"):
        model(np.zeros((2, 8), np.float64))
    with pytest.raises(ValueError, match="expected 1 argument"):
        model(X, X)
    with pytest.raises(ValueError, match="NumPy array or torch tensor"):
        model("not a tensor")


def test_non_contiguous_input_is_accepted(c_cache):
    model = hybridize.build(module(), "c", cache_dir=c_cache)
    xt = np.asfortranarray(X)
    np.testing.assert_allclose(model(xt), reference(module(), X), rtol=1e-5)


@pytest.mark.parametrize("enabled", [True, False])
def test_build_leaves_the_collector_as_it_found_it(enabled, c_cache):
    import gc

    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(ValueError):
            hybridize.build(module(), "fortran")
        assert gc.isenabled() == enabled
        hybridize.build(module(), "c", cache_dir=c_cache)
        assert gc.isenabled() == enabled
    finally:
        gc.enable()


def test_c_source_is_cached_by_content(c_cache):
    m = run_pipeline(module(), "fuse,plan")
    a = hybridize.build(m, "c", cache_dir=c_cache)
    before = sorted(p.name for p in c_cache.iterdir())
    b = hybridize.build(m.clone(), "c", cache_dir=c_cache)
    assert sorted(p.name for p in c_cache.iterdir()) == before
    np.testing.assert_array_equal(a(X), b(X))


def test_generated_sources_use_generated_names_only():
    text = module().__str__()
    m = parse_module(text.replace("%x", "%evil_name"))
    for backend in ("numpy", "c"):
        src = generate_source(m, backend)
        assert "evil" not in src
    py = generate_source(run_pipeline(module(), "fuse,plan"), "numpy")
    compile(py, "<test>", "exec")
    assert "np.matmul(x0, c0.T, out=v0)" in py


def test_numpy_backend_is_thread_safe():
    from concurrent.futures import ThreadPoolExecutor

    model = hybridize.build(run_pipeline(module(), "fuse,plan"), "numpy")
    xs = [X * i for i in range(32)]
    expected = [reference(module(), x) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(model, xs))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6)
