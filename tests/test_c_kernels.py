"""The C kernel library against the NumPy reference: GEMM and convolution
shapes that are not multiples of the register tile (M, N, K = 1 included),
every kind of fused epilogue, at 1 and 2 threads; the packed-weight layout;
the compile cache's validation and bounds; the per-CPU cache key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hybridize
from hybridize.backends import generate_source
from hybridize.backends.c.isa import Target, target
from hybridize.backends.c.pack import aligned, pack_a, pack_b

pytestmark = pytest.mark.torch

EPILOGUES = {
    "none": lambda t, y, r: y,
    "relu": lambda t, y, r: t.relu(y),
    "relu6": lambda t, y, r: t.nn.functional.relu6(y),
    "gelu": lambda t, y, r: t.nn.functional.gelu(y),
    "residual": lambda t, y, r: t.relu(y + r),
    "sigmoid-mul": lambda t, y, r: y * t.sigmoid(y),
}


def compare(model, inputs, c_cache, threads=(1, 2), rtol=2e-5, atol=2e-5, pipeline=hybridize.DEFAULT_PIPELINE):
    """C at each thread count against the NumPy backend and eager PyTorch."""
    import torch

    module = hybridize.optimize(hybridize.trace(model, *inputs), pipeline)
    xs = [x.numpy() for x in inputs]
    reference = hybridize.build(module, "numpy")(*xs)
    reference = reference if isinstance(reference, tuple) else (reference,)
    with torch.no_grad():
        eager = model(*inputs)
    eager = eager if isinstance(eager, tuple) else (eager,)
    for t in threads:
        got = hybridize.build(module, "c", threads=t, cache_dir=c_cache, progress=False)(*xs)
        got = got if isinstance(got, tuple) else (got,)
        for i, (g, r, e) in enumerate(zip(got, reference, eager)):
            np.testing.assert_allclose(g, r, rtol=rtol, atol=atol, err_msg=f"output {i}, {t} threads vs numpy")
            np.testing.assert_allclose(g, e.numpy(), rtol=rtol, atol=atol, err_msg=f"output {i}, {t} threads vs torch")
    return module


# (rows M, out features N, in features K): ragged against every tile (6x16, 12x32, 6x8), ones, and one big enough for threads
# M <= 4 takes the in-place GEMV path (M 3 and 4, K odd, N across panels and split over threads);
# K 1300 runs in two K blocks against the pre-packed weights (blocks of up to 1024 there)
LINEAR_SHAPES = [(1, 1, 1), (1, 33, 7), (2, 17, 64), (3, 70, 13), (4, 600, 512), (5, 3, 300), (9, 100, 33),
                 (33, 32, 16), (70, 45, 129), (64, 256, 512), (40, 50, 1300)]


@pytest.mark.parametrize("epilogue", list(EPILOGUES))
def test_linear_ragged_shapes_and_epilogues(epilogue, c_cache):
    import torch

    torch.manual_seed(0)
    fn = EPILOGUES[epilogue]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(torch.nn.Linear(k, n, bias=i % 2 == 0) for i, (m, n, k) in enumerate(LINEAR_SHAPES))

        def forward(self, *xs):
            outs = []
            for layer, x in zip(self.layers, xs):
                y = layer(x)
                outs.append(fn(torch, y, torch.ones_like(y) * 0.25))
            return tuple(outs)

    inputs = [torch.randn(m, k) for m, n, k in LINEAR_SHAPES]
    compare(Net().eval(), inputs, c_cache)


def test_matmul_batched_broadcast_and_transposed(c_cache):
    import torch

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def forward(self, a, b, c, q, k):
            return (
                a @ b,                                  # batched, ragged
                a @ c,                                  # broadcast B over the batch
                torch.relu(q @ k.transpose(-1, -2)),    # attention scores: B read transposed
                q[0, 0] @ k[0, 0].T,                    # plain 2-D
            )  # fmt: skip

    inputs = [torch.randn(3, 5, 7), torch.randn(3, 7, 33), torch.randn(7, 2), torch.randn(2, 4, 19, 16), torch.randn(2, 4, 23, 16)]
    compare(Net().eval(), inputs, c_cache)


def test_linear_with_constant_matmul_weight(c_cache):
    import torch

    torch.manual_seed(0)
    w = torch.randn(40, 9)

    class Net(torch.nn.Module):
        def forward(self, x):
            return x @ w, w.T @ x.T

    compare(Net().eval(), [torch.randn(6, 40)], c_cache)


# (in, out, kernel, stride, padding, dilation, groups, size)
def conv_stack(convs, epilogue, addend):
    """A module running conv i on input i, each output through `epilogue(torch, y, addend(y))`."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = torch.nn.ModuleList(convs)

        def forward(self, *xs):
            return tuple(epilogue(torch, y, addend(y)) for y in (conv(x) for conv, x in zip(self.convs, xs)))

    return Net().eval()


CONVS = [
    (3, 8, 3, 1, 1, 1, 1, 13),      # K = 27: the GEMM path with packed patches
    (3, 8, 3, 2, 1, 1, 1, 41),      # packed patches at stride 2 (8-wide runs and their tails)
    (16, 40, 3, 1, 1, 1, 1, 9),     # direct on NCHW, Winograd on NHWC (test_winograd_convolutions), ragged channels
    (16, 33, 3, 2, 1, 1, 1, 11),    # direct, stride 2, odd size
    (12, 10, 3, 1, 2, 2, 1, 10),    # dilation
    (12, 20, 3, 1, 1, 1, 1, 9),     # direct on both layouts (too few channels for Winograd), ragged
    (20, 30, 5, 2, 2, 1, 2, 12),    # groups, 5x5
    (24, 70, 1, 1, 0, 1, 1, 7),     # pointwise GEMM, transposed (7x7 plane)
    (32, 64, 1, 1, 0, 1, 1, 16),    # pointwise GEMM
    (8, 16, 1, 2, 0, 1, 1, 9),      # strided 1x1
    (64, 64, 3, 1, 1, 1, 1, 16),    # threads
    (130, 40, 3, 1, 1, 1, 1, 7),    # k = 1170: 12-pixel tiles on AVX-512, a 7x7 plane (4 x 12 + 1)
    (24, 24, 3, 1, 1, 1, 24, 15),   # depthwise 3x3
    (24, 24, 3, 2, 1, 1, 24, 15),   # depthwise stride 2
    (8, 16, 3, 1, 1, 1, 8, 10),     # depthwise, channel multiplier 2
    (6, 6, 5, 1, 2, 1, 6, 9),       # depthwise 5x5 (generic taps)
    (40, 40, 3, 1, 1, 1, 40, 7),    # depthwise across channels: 8-channel transposes, a ragged block
    (300, 300, 3, 1, 1, 1, 300, 14),  # depthwise across channels, split over threads
]  # fmt: skip


@pytest.mark.parametrize(
    "epilogue, layout",
    [(e, True) for e in ("none", "relu", "relu6", "residual", "sigmoid-mul")] + [("relu", False), ("residual", False)],
)
def test_conv_shapes_and_epilogues(epilogue, layout, c_cache):
    """Every conv family on both layouts: channels-last after the layout pass
    (the default pipeline), and NCHW without it."""
    import torch

    torch.manual_seed(0)
    convs = [
        torch.nn.Conv2d(ci, co, k, stride=s, padding=p, dilation=d, groups=g, bias=i % 3 != 1)
        for i, (ci, co, k, s, p, d, g, n) in enumerate(CONVS)
    ]
    net = conv_stack(convs, EPILOGUES[epilogue], lambda y: torch.full_like(y, -0.5))
    inputs = [torch.randn(2 if i % 4 == 0 else 1, ci, n, n) for i, (ci, co, k, s, p, d, g, n) in enumerate(CONVS)]
    pipeline = hybridize.DEFAULT_PIPELINE if layout else hybridize.DEFAULT_PIPELINE.replace("layout,", "")
    module = compare(net, inputs, c_cache, pipeline=pipeline)
    names = {op.name for op in module.walk()}
    assert ("hy.conv2d_nhwc" in names) == layout


# (in, out, padding, size, batch): 3x3 stride-1 convs that run by Winograd F(2x2, 3x3) on the
# channels-last path: the smallest that qualifies, ragged channels and odd planes (partial 2x2 tiles
# at the right and bottom), no padding and padding 2, 7x7 planes whose few tiles make two threads
# split the output channels (a ragged last panel too), many chunks over threads, a long reduction
WINOGRAD_CONVS = [(16, 16, 1, 8, 1), (17, 33, 1, 9, 1), (24, 40, 0, 10, 2), (24, 40, 2, 11, 1), (64, 64, 1, 7, 1),
                  (64, 70, 1, 7, 1), (32, 64, 1, 32, 3), (130, 40, 1, 14, 1)]  # fmt: skip


@pytest.mark.parametrize("epilogue", ["none", "relu", "relu6", "residual", "sigmoid-mul"])
def test_winograd_convolutions(epilogue, c_cache):
    """Winograd convs against NumPy and PyTorch, with every epilogue kind (in
    registers, the residual, the generated tile function), at 1 and 2 threads."""
    import torch

    torch.manual_seed(0)
    convs = [torch.nn.Conv2d(ci, co, 3, padding=p, bias=i % 3 != 1) for i, (ci, co, p, n, b) in enumerate(WINOGRAD_CONVS)]
    net = conv_stack(convs, EPILOGUES[epilogue], lambda y: torch.linspace(-1, 1, y.numel()).reshape(y.shape))
    inputs = [torch.randn(b, ci, n, n) for ci, co, p, n, b in WINOGRAD_CONVS]
    module = compare(net, inputs, c_cache, rtol=5e-5, atol=5e-5)
    assert generate_source(module, "c").count("hy_winograd_nhwc(") == len(WINOGRAD_CONVS)


def test_winograd_dynamic_batch(c_cache):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(16, 24, 3, padding=1), torch.nn.ReLU()).eval()
    module = hybridize.optimize(hybridize.trace(net, torch.randn(2, 16, 9, 9), dynamic_batch=True))
    assert "hy_winograd_nhwc(" in generate_source(module, "c")
    reference = hybridize.build(module, "numpy")
    fast = hybridize.build(module, "c", threads=2, cache_dir=c_cache, progress=False)
    for batch in (1, 3, 5):
        x = np.random.default_rng(batch).standard_normal((batch, 16, 9, 9)).astype(np.float32)
        np.testing.assert_allclose(fast(x), reference(x), rtol=5e-5, atol=5e-5)


def test_conv_dynamic_batch(c_cache):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(8, 24, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(24, 24, 3, groups=24)).eval()
    module = hybridize.optimize(hybridize.trace(net, torch.randn(2, 8, 9, 9), dynamic_batch=True))
    reference = hybridize.build(module, "numpy")
    fast = hybridize.build(module, "c", threads=2, cache_dir=c_cache, progress=False)
    for batch in (1, 3, 5):
        x = np.random.default_rng(batch).standard_normal((batch, 8, 9, 9)).astype(np.float32)
        np.testing.assert_allclose(fast(x), reference(x), rtol=2e-5, atol=2e-5)


# a residual: the sum of two branches, one of them materialized, the other's kernel adding it
RESIDUALS = {
    "relu": lambda t, y, r: t.relu(y + r),
    "add": lambda t, y, r: r + y,
    "clamp": lambda t, y, r: t.clamp(y + r, -0.3, 0.4),
}


@pytest.mark.parametrize("kind", list(RESIDUALS))
def test_residual_adds_in_registers(kind, c_cache):
    """relu(conv(x) + shortcut(x)) and linear layers alike: the kernel adds the
    residual (`hy_epilogue.addend`) and applies the activation after it in
    registers, with no tile function; ragged tiles, the GEMV path, K blocks,
    groups, both layouts (NCHW direct convs keep a tile function) and a
    dynamic batch."""
    import torch

    torch.manual_seed(0)
    fn = RESIDUALS[kind]
    shapes = [(1, 33, 7), (3, 70, 13), (9, 100, 33), (70, 45, 129), (40, 50, 1300)]
    convs = [  # (in, out, kernel, stride, padding, groups, size)
        (16, 40, 3, 1, 1, 1, 9),  # direct, a ragged channel panel
        (16, 64, 3, 2, 1, 1, 11),  # direct, whole panels
        (32, 70, 1, 1, 0, 1, 12),  # pointwise GEMM
        (24, 70, 1, 1, 0, 1, 7),  # pointwise, small plane (transposed GEMM on NCHW)
        (20, 30, 3, 1, 1, 2, 8),  # groups
    ]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.ModuleList(torch.nn.Linear(k, n) for m, n, k in shapes)
            self.b = torch.nn.ModuleList(torch.nn.Linear(k, n, bias=False) for m, n, k in shapes)
            self.ca = torch.nn.ModuleList(torch.nn.Conv2d(i, o, k, s, p, groups=g) for i, o, k, s, p, g, n in convs)
            self.cb = torch.nn.ModuleList(torch.nn.Conv2d(i, o, 1, s, groups=g) for i, o, k, s, p, g, n in convs)

        def forward(self, *xs):
            lin, img = xs[: len(shapes)], xs[len(shapes) :]
            outs = [fn(torch, a(x), torch.tanh(b(x))) for a, b, x in zip(self.a, self.b, lin)]
            outs += [fn(torch, a(x), torch.tanh(b(x))) for a, b, x in zip(self.ca, self.cb, img)]
            return tuple(outs)

    net = Net().eval()
    inputs = [torch.randn(m, k) for m, n, k in shapes] + [torch.randn(2, i, n, n) for i, o, k, s, p, g, n in convs]
    for pipeline in (hybridize.DEFAULT_PIPELINE, hybridize.DEFAULT_PIPELINE.replace("layout,", "")):
        module = compare(net, inputs, c_cache, pipeline=pipeline)
        source = hybridize.build(module, "c", cache_dir=c_cache, progress=False).source
        if "layout" in pipeline:  # (NCHW direct convs keep the residual in a tile function)
            assert "/* epilogue: hy.add" not in source  # every residual went to registers

    # one batch size for all calls of a dynamic-batch build
    block = torch.nn.Conv2d(8, 24, 3, padding=1).eval()
    short = torch.nn.Conv2d(8, 24, 1).eval()

    class Block(torch.nn.Module):
        def forward(self, x):
            return fn(torch, block(x), short(x))

    module = hybridize.optimize(hybridize.trace(Block(), torch.randn(2, 8, 9, 9), dynamic_batch=True))
    reference = hybridize.build(module, "numpy")
    fast = hybridize.build(module, "c", threads=2, cache_dir=c_cache, progress=False)
    assert "/* epilogue: hy.add" not in fast.source
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 8, 9, 9)).astype(np.float32)
        np.testing.assert_allclose(fast(x), reference(x), rtol=2e-5, atol=2e-5)


def test_packed_layout():
    """pack_a: out[p, k, lane] = A[p*MR + lane, k]; pack_b: out[p, k, lane] = B[k, p*NR + lane]; zero padded."""
    a = np.arange(5 * 3, dtype=np.float32).reshape(5, 3)
    pa = pack_a(a, 4).reshape(2, 3, 4)
    assert pa[0, 2, 1] == a[1, 2] and pa[1, 0, 0] == a[4, 0] and not pa[1, :, 1:].any()
    b = np.arange(3 * 5, dtype=np.float32).reshape(3, 5)
    pb = pack_b(b, 4).reshape(2, 3, 4)
    assert pb[0, 1, 3] == b[1, 3] and pb[1, 2, 0] == b[2, 4] and not pb[1, :, 1:].any()
    assert pa.ctypes.data % 64 == 0 and pb.ctypes.data % 64 == 0
    odd = np.zeros(17, np.float32)[1:]
    assert aligned(odd).ctypes.data % 64 == 0 and np.array_equal(aligned(odd), odd)


@pytest.mark.parametrize("o, c, nr", [(40, 17, 32), (16, 16, 16), (33, 5, 8), (64, 64, 32)])
def test_winograd_weights_layout(o, c, nr):
    """pack_winograd_weights: 16 kernels U[4a + b] = (G g G^T)[a, b], each in NR-column panels (as pack_b)."""
    from hybridize.backends.c.kernels.conv import pack_winograd_weights

    w = np.random.default_rng(o).standard_normal((o, c, 3, 3)).astype(np.float32)
    g = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    u = np.einsum("ar,ocrq,bq->abco", g, w.astype(np.float64), g).astype(np.float32)
    packed = pack_winograd_weights(w, nr)
    assert packed.ctypes.data % 64 == 0
    np.testing.assert_array_equal(packed, np.concatenate([pack_b(u[a, b], nr) for a in range(4) for b in range(4)]))


def test_cache_key_names_the_cpu_features():
    t = target()
    assert t.features and t.isa in {"avx512f", "avx2", "avx", "neon", "generic"}
    assert "-march=native" in t.flags and t.defines == tuple(f"-DHY_{n}={v}" for n, v in zip(("VB", "MR", "NR"), t.tile))
    # A machine with one feature more or one less never gets this machine's binaries.
    has_avx512 = any("AVX512" in f for f in t.features)
    features = tuple(f for f in t.features if "AVX512" not in f) if has_avx512 else (*t.features, "__AVX512F__")
    other = Target(t.compiler, t.version, features, "avx2" if has_avx512 else "avx512f", (32, 6, 16))
    assert other.key != t.key
    fewer = Target(t.compiler, t.version, t.features[:-1], t.isa, t.tile)
    assert fewer.key != t.key
    # nor one the compiler tunes for another core (the library's tiles follow the tuning target)
    retuned = (*(f for f in t.features if not f.startswith("__tune_")), "__tune_othercore__")
    assert Target(t.compiler, t.version, retuned, t.isa, t.tile).key != t.key


def _mlp_module():
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).eval()
    return hybridize.optimize(hybridize.trace(net, torch.randn(2, 16)))


def test_corrupted_cache_entries_are_rebuilt_never_loaded(tmp_path):
    """Each case in a fresh process (a loaded extension cannot be unloaded):
    build, damage the cached module, build again in another process."""
    module_text = hybridize.print_module(_mlp_module())
    (tmp_path / "m.mlir").write_text(module_text)
    cache = tmp_path / "cache"
    code = (
        "import sys, numpy as np, hybridize\n"
        "m = hybridize.parse_module(open(sys.argv[1]).read())\n"
        "f = hybridize.build(m, 'c', cache_dir=sys.argv[2], progress=False)\n"
        "print(float(f(np.ones((2, 16), np.float32)).sum()))\n"
    )

    def run():
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.mlir"), str(cache)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    expected = run()
    (so,) = [p for p in cache.glob("_hy_*") if p.suffix == ".so"]
    for damage in ("truncate", "flip", "sidecar"):
        if damage == "truncate":
            so.write_bytes(so.read_bytes()[: so.stat().st_size // 3])
        elif damage == "flip":
            data = bytearray(so.read_bytes())
            data[len(data) // 2] ^= 0xFF
            so.write_bytes(bytes(data))
        else:
            so.with_name(so.name + ".json").write_text("{not json")
        assert run() == expected
        record = json.loads(so.with_name(so.name + ".json").read_text())
        assert record["size"] == so.stat().st_size


def test_cache_honours_xdg_and_stays_bounded(tmp_path, monkeypatch):
    from hybridize.backends.c import build as cbuild

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cbuild.default_cache_dir() == tmp_path / "xdg" / "hybridize" / "c"
    cache = tmp_path / "bounded"
    cache.mkdir()
    for i in range(5):  # old entries, oldest first
        p = cache / f"_hy_old{i}.so"
        p.write_bytes(b"x" * 1000)
        os.utime(p, (1000 + i, 1000 + i))
    keep = cache / "_hy_new.so"
    keep.write_bytes(b"y" * 1000)
    cbuild._evict(cache, 2500, keep={keep})
    left = sorted(p.name for p in cache.glob("*.so"))
    assert keep.name in left and "_hy_old0.so" not in left and len(left) == 2


def test_arena_is_allocated_once_and_aligned(c_cache):
    module = _mlp_module()
    fast = hybridize.build(module, "c", cache_dir=c_cache, progress=False)
    x = np.ones((2, 16), np.float32)
    first = fast(x)
    state = fast._run._keep[2]
    arena = state["arena"]
    assert arena.ctypes.data % 64 == 0
    np.testing.assert_array_equal(fast(x), first)
    assert state["arena"] is arena


def test_outputs_are_recycled_only_when_nobody_holds_them(c_cache):
    """A call writes into an output array of the last two calls only if the
    caller dropped it: results the caller keeps (or views of them) never change."""
    fast = hybridize.build(_mlp_module(), "c", cache_dir=c_cache, progress=False)
    x1, x2 = np.ones((2, 16), np.float32), np.full((2, 16), -2.0, np.float32)
    a = fast(x1)
    kept = a.copy()
    b = fast(x2)
    assert not np.shares_memory(a, b)
    view = b[1:]
    b_values = b.copy()
    del b
    for _ in range(3):  # neither `a` nor the array under `view` may be reused
        c = fast(x1)
        assert not np.shares_memory(c, a) and not np.shares_memory(c, view)
        del c
    np.testing.assert_array_equal(a, kept)
    np.testing.assert_array_equal(view, b_values[1:])
    addr = fast(x2).ctypes.data  # dropped at once: the next call reuses it
    assert fast(x1).ctypes.data == addr
    y = fast(x1)  # `y = model(x)` in a loop alternates between two buffers
    seen = set()
    for x in (x1, x2, x1, x2):
        y = fast(x)
        seen.add(y.ctypes.data)
    np.testing.assert_array_equal(y, fast(x2).copy())
    assert len(seen) == 2


def test_structured_outputs_are_freed_at_once(c_cache):
    """Unflattening outputs into the model's structure leaves no reference
    cycle: dropped results are recycled without waiting for the collector."""
    import gc

    import torch

    class Net(torch.nn.Module):
        def forward(self, x):
            return {"double": x * 2, "pair": (torch.relu(x), x + 1)}

    x = torch.randn(3, 5)
    fast = hybridize.build(hybridize.optimize(hybridize.trace(Net(), x)), "c", cache_dir=c_cache, progress=False)
    xn = x.numpy()
    gc.disable()
    try:
        out = fast(xn)
        addrs = [out["double"].ctypes.data, out["pair"][0].ctypes.data]
        del out
        again = fast(xn)
        assert [again["double"].ctypes.data, again["pair"][0].ctypes.data] == addrs
        np.testing.assert_allclose(again["pair"][1], xn + 1)
    finally:
        gc.enable()


def test_profile_lists_every_step(c_cache):
    fast = hybridize.build(_mlp_module(), "c", cache_dir=c_cache, progress=False, profile=True)
    fast(np.ones((2, 16), np.float32))
    steps = fast.profile()
    assert len(steps) == 2 and all(s >= 0 for _, s in steps) and any("hy.linear" in n for n, _ in steps)


def test_default_threads_follow_omp_num_threads(monkeypatch):
    from hybridize.backends import default_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_threads() == len(os.sched_getaffinity(0))


def test_library_sources_compile_cleanly_with_warnings_as_errors(tmp_path):
    from hybridize.backends.c.build import LIBRARY_DIR, library_sources

    t = target()
    for src in library_sources():
        done = subprocess.run(
            [t.compiler, *t.flags, "-Wall", "-Wextra", "-Werror", f"-I{LIBRARY_DIR}", "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert Path(LIBRARY_DIR / "hy_kernels.h").exists()


@pytest.mark.parametrize("march", ["haswell", "x86-64"])
def test_kernels_built_for_older_cpus(march, c_cache):
    """AVX2 (6x16 tile) and SSE2 (6x8) builds stay correct: the CPU can change
    between sessions, and the cache key keeps their binaries apart."""
    from hybridize.backends.c.isa import building_for

    native = target()
    with building_for(march) as t:
        assert t.isa == {"haswell": "avx2", "x86-64": "generic"}[march] and t.key != native.key
        test_linear_ragged_shapes_and_epilogues("residual", c_cache)
        test_conv_shapes_and_epilogues("relu6", True, c_cache)
        test_conv_shapes_and_epilogues("residual", False, c_cache)
        test_matmul_batched_broadcast_and_transposed(c_cache)
        test_winograd_convolutions("residual", c_cache)
    assert target().march == "native"


def test_pads_read_in_place_by_convolutions(c_cache):
    """TF-style asymmetric "same" pads before convs (transformers' MobileNetV2)
    are not copied: the convs read their input with the pad as padding. The
    plan lets the pad's input die at the pad, so a conv output placed on those
    bytes must keep the copy (a regression: it read what it was writing)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(8, 8, 3, stride=2, groups=8)
            self.b = torch.nn.Conv2d(8, 16, 3, stride=2)
            self.c = torch.nn.Conv2d(16, 16, 3)

        def forward(self, x):
            y = torch.relu(x) * 2
            y = torch.clamp(self.a(F.pad(y, (0, 1, 0, 1))), 0, 6)   # depthwise, pad right/bottom
            y = torch.relu(self.b(F.pad(y, (1, 2, 0, 1))))           # direct conv
            y = self.c(F.pad(y, (1, 1, 1, 1))) + 1
            return torch.sigmoid(y)

    module = compare(Net().eval(), [torch.randn(1, 8, 37, 37)], c_cache)
    source = hybridize.backends.generate_source(module, "c")
    assert "hy.pad" not in hybridize.print_module(module)  # every pad became conv padding
    assert "padding [0, 0, 1, 1]" in hybridize.print_module(module)


def test_winograd_reads_asymmetric_pads_in_place(c_cache):
    """Pads folded into a Winograd conv's padding, more on the bottom/right (or only there)."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(16, 24, 3)
            self.b = torch.nn.Conv2d(24, 20, 3)

        def forward(self, x):
            y = torch.relu(self.a(F.pad(x * 2, (0, 1, 0, 1))))
            return self.b(F.pad(y, (1, 2, 0, 1))) - 1

    module = compare(Net().eval(), [torch.randn(2, 16, 12, 12)], c_cache, rtol=5e-5, atol=5e-5)
    assert "hy.pad" not in hybridize.print_module(module)
    assert generate_source(module, "c").count("hy_winograd_nhwc(") == 2


def test_attention_on_the_library(c_cache):
    """hy.attention as library GEMMs: ragged L and S, float and bool masks broadcast over batch or heads, causal."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def forward(self, q, k, v, m, bm):
            return (
                F.scaled_dot_product_attention(q, k, v),
                F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                F.scaled_dot_product_attention(q, k, v, attn_mask=bm),
                F.scaled_dot_product_attention(q, k, v, is_causal=True),
            )

    inputs = [torch.randn(2, 4, 37, 16), torch.randn(2, 4, 41, 16), torch.randn(2, 4, 41, 24),
              torch.randn(2, 1, 37, 41), torch.rand(1, 4, 37, 41) > 0.3]  # fmt: skip
    module = compare(Net().eval(), inputs, c_cache)
    assert hybridize.backends.generate_source(module, "c").count("hy_attention(") == 4


CHANNELS_LAST = """
func.func @forward(%x: tensor<2x7x6x4xf64>, %w: tensor<6x2x3x3xf64>, %v: tensor<4x4x2x2xf32>, %y: tensor<1x5x5x4xf32>,
                   %z: tensor<2x7x6x0xf32>)
    -> (tensor<2x7x3x6xf64>, tensor<2x4x4x4xf64>, tensor<2x4x4x4xf64>, tensor<1x4x4x4xf32>, tensor<2x7x6x3xf32>) {
  %b = hy.constant dense<0.5> : tensor<6xf64>
  %e = hy.constant dense<0.5> : tensor<3x0x1x1xf32>
  %0 = hy.conv2d_nhwc %x, %w, %b stride [1, 2] padding [1, 1] groups 2 : (tensor<2x7x6x4xf64>, tensor<6x2x3x3xf64>, tensor<6xf64>) -> tensor<2x7x3x6xf64>
  %1 = hy.max_pool2d_nhwc %x kernel [3, 3] stride [2, 2] padding [1, 1] : tensor<2x7x6x4xf64> -> tensor<2x4x4x4xf64>
  %2 = hy.avg_pool2d_nhwc %x kernel [3, 3] stride [2, 2] padding [1, 1] count_include_pad : tensor<2x7x6x4xf64> -> tensor<2x4x4x4xf64>
  %3 = hy.conv2d_nhwc %y, %v stride [1, 1] padding [0, 0] : (tensor<1x5x5x4xf32>, tensor<4x4x2x2xf32>) -> tensor<1x4x4x4xf32>
  %4 = hy.conv2d_nhwc %z, %e stride [1, 1] padding [0, 0] : (tensor<2x7x6x0xf32>, tensor<3x0x1x1xf32>) -> tensor<2x7x6x3xf32>
  %5 = hy.relu %3 : tensor<1x4x4x4xf32>
  func.return %0, %1, %2, %5, %4 : tensor<2x7x3x6xf64>, tensor<2x4x4x4xf64>, tensor<2x4x4x4xf64>, tensor<1x4x4x4xf32>, tensor<2x7x6x3xf32>
}"""


@pytest.mark.parametrize("pipeline", ["", "fuse,plan"])
def test_channels_last_ops_beyond_the_library(pipeline, c_cache):
    """Channels-last ops the layout pass never makes (float64, weights computed
    at run time, no input channels; written by hand or drawn by the fuzzer) run
    on generic loops, as NumPy computes them (NaN wins a max)."""
    module = hybridize.parse_module(CHANNELS_LAST)
    module = hybridize.optimize(module, pipeline) if pipeline else module
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 6, 4))
    x[0, 0, 0, 0] = np.nan
    args = [x, rng.standard_normal((6, 2, 3, 3)), rng.standard_normal((4, 4, 2, 2)).astype(np.float32),
            rng.standard_normal((1, 5, 5, 4)).astype(np.float32), np.zeros((2, 7, 6, 0), np.float32)]
    reference = hybridize.build(module, "numpy")(*args)
    for threads in (1, 2):
        got = hybridize.build(module, "c", threads=threads, cache_dir=c_cache, progress=False)(*args)
        for r, g in zip(reference, got, strict=True):
            np.testing.assert_allclose(g, r, rtol=1e-6, atol=1e-6)


# (channels, kernel, stride, padding, dilation, size): the register-resident 3x3 and 5x5 tiles, the
# general tile (7x7, dilation), a ragged last channel vector (20, 37), fewer channels than a vector
DEPTHWISE_NHWC = [(32, 3, 1, 1, 1, 15), (20, 3, 2, 1, 1, 14), (48, 5, 1, 2, 1, 11), (37, 5, 2, 2, 1, 13),
                  (16, 7, 1, 3, 1, 9), (17, 3, 1, 2, 2, 10), (5, 3, 1, 1, 1, 6), (64, 3, 1, 0, 1, 3)]
# (channels, kind, kernel, stride, padding, ceil_mode, count_include_pad)
POOLS_NHWC = [(32, "max", 3, 2, 1, False, True), (20, "max", 2, 2, 0, True, True), (37, "avg", 3, 1, 1, False, False),
              (48, "avg", 3, 2, 1, True, True), (24, "avg", 2, 2, 0, False, True), (5, "max", 3, 1, 1, False, True)]


@pytest.mark.parametrize("batch", [1, 3])
def test_channels_last_depthwise_and_pools(batch, c_cache):
    """The channels-last depthwise and pooling kernels (nhwc.c) for every tile
    kind, ragged channel vectors, row ends that fall outside the input, a NaN
    that a max pool must keep, with a fused activation, at 1 and 2 threads."""
    import torch

    torch.manual_seed(0)
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = nn.ModuleList(nn.Conv2d(c, c, k, s, p, d, groups=c) for c, k, s, p, d, _ in DEPTHWISE_NHWC)
            self.pools = nn.ModuleList(
                nn.MaxPool2d(k, s, p, ceil_mode=cm) if kind == "max"
                else nn.AvgPool2d(k, s, p, ceil_mode=cm, count_include_pad=inc)
                for _, kind, k, s, p, cm, inc in POOLS_NHWC)  # fmt: skip
            # a 1x1 conv ahead of each pool makes the pool channels-last
            self.mix = nn.ModuleList(nn.Conv2d(c, c, 1) for c, *_ in POOLS_NHWC)

        def forward(self, *xs):
            n = len(self.dw)
            outs = [torch.relu(conv(x)) if i % 2 else nn.functional.relu6(conv(x)) for i, (conv, x) in
                    enumerate(zip(self.dw, xs[:n]))]  # fmt: skip
            outs += [pool(mix(x)) for pool, mix, x in zip(self.pools, self.mix, xs[n:])]
            return tuple(outs)

    inputs = [torch.randn(batch, c, n, n) for c, *_, n in DEPTHWISE_NHWC]
    inputs += [torch.randn(batch, c, 12 + i, 11 + i) for i, (c, *_) in enumerate(POOLS_NHWC)]
    for i, (_, kind, *_) in enumerate(POOLS_NHWC):
        if kind == "max":
            inputs[len(DEPTHWISE_NHWC) + i][0, 0, 5, 4 + i] = float("nan")
    module = compare(Net().eval(), inputs, c_cache)
    names = [op.name for op in module.walk()]
    assert names.count("hy.conv2d_nhwc") == len(DEPTHWISE_NHWC) + len(POOLS_NHWC)
    assert names.count("hy.max_pool2d_nhwc") + names.count("hy.avg_pool2d_nhwc") == len(POOLS_NHWC)


# (shape, perm): batched 2-D transposes (hy_transpose_batched): the three rows of an RGB image
# (8-pixel interleave and its tail), fewer than 8 rows, 8 x 8 blocks with ragged edges, a batch
TRANSPOSES = [((1, 3, 7, 9), (0, 2, 3, 1)), ((2, 3, 5, 8), (0, 2, 3, 1)), ((1, 5, 3, 3), (0, 2, 3, 1)),
              ((2, 6, 5, 20), (0, 3, 1, 2)), ((1, 17, 3, 11), (0, 3, 1, 2)), ((3, 8, 16), (0, 2, 1)),
              ((40, 1), (1, 0)), ((1, 1, 2, 3), (0, 2, 3, 1)),
              # three channels going back to NCHW (de-interleaved 8 pixels at a time), ragged and threaded
              ((1, 13, 11, 3), (0, 3, 1, 2)), ((2, 7, 9, 3), (0, 3, 1, 2)), ((1, 90, 90, 3), (0, 3, 1, 2)),
              # few row blocks, enough elements for two threads: runs of columns per thread
              ((1, 7, 7, 400), (0, 3, 1, 2)), ((2, 3, 60, 100), (0, 2, 3, 1))]  # fmt: skip


def test_batched_transposes_ragged_shapes(c_cache):
    """Every path of the batched float transpose against NumPy, 1 and 2 threads."""
    from hybridize.ir.types import format_shape

    def ty(shape):
        return f"tensor<{format_shape(shape)}xf32>"

    outs = [tuple(s[p] for p in perm) for s, perm in TRANSPOSES]
    lines = [f"func.func @forward({', '.join(f'%x{i}: {ty(s)}' for i, (s, _) in enumerate(TRANSPOSES))})"
             f" -> ({', '.join(ty(o) for o in outs)}) {{"]
    for i, ((s, perm), o) in enumerate(zip(TRANSPOSES, outs)):
        lines.append(f"  %y{i} = hy.transpose %x{i} perm [{', '.join(map(str, perm))}] : {ty(s)} -> {ty(o)}")
    lines.append(f"  func.return {', '.join(f'%y{i}' for i in range(len(outs)))} : {', '.join(ty(o) for o in outs)}")
    lines.append("}")
    module = hybridize.parse_module("\n".join(lines))
    source = hybridize.backends.generate_source(module, "c")
    assert source.count("hy_transpose_batched(") == len(TRANSPOSES)
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s).astype(np.float32) for s, _ in TRANSPOSES]
    for threads in (1, 2):
        got = hybridize.build(module, "c", threads=threads, cache_dir=c_cache, progress=False)(*args)
        for g, x, (_, perm) in zip(got, args, TRANSPOSES, strict=True):
            np.testing.assert_array_equal(g, x.transpose(perm))
