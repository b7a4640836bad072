"""Shipping a model: the standalone C export (built with plain `cc`, run with
no Python in the process) and `.hyb` save/load (in a process without torch).

The export must give the bits of the C backend it was generated from, and a
damaged `.weights` or `.hyb` file must give an error, never a crash."""

from __future__ import annotations

import os
import pickle
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

import hybridize
from hybridize.backends.c.export import ExportError, check_name, export
from hybridize.errors import SavedModelError

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="needs a C compiler")

STRICT = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd", "-Wall", "-Wextra", "-Werror"]
SANITIZE = ["-O1", "-g", "-march=native", "-fopenmp-simd", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
            "-Wall", "-Wextra", "-Werror"]
ENV = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:exitcode=66", "UBSAN_OPTIONS": "halt_on_error=1:exitcode=66"}


def zoo(name: str):
    pytest.importorskip("torch")
    if name == "BertModel":
        pytest.importorskip("transformers")
    from hybridize.tools.zoo import MODELS

    return MODELS[name]()


def compile_c(out: Path, name: str, flags: list[str]) -> Path:
    exe = out / f"{name}-driver"
    done = subprocess.run([CC, *flags, "-o", str(exe), str(out / "main.c"), str(out / f"{name}.c"), "-lm"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    return exe


def run_driver(exe: Path, inputs: list[np.ndarray], *args: str) -> subprocess.CompletedProcess:
    data = b"".join(np.ascontiguousarray(a).tobytes() for a in inputs)
    return subprocess.run([str(exe), *args], input=data, capture_output=True, env=ENV, cwd=exe.parent)


def outputs(raw: bytes, like: list[np.ndarray]) -> list[np.ndarray]:
    got, at = [], 0
    for o in like:
        got.append(np.frombuffer(raw[at : at + o.nbytes], o.dtype).reshape(o.shape))
        at += o.nbytes
    assert at == len(raw)
    return got


def as_list(out) -> list[np.ndarray]:
    from hybridize.tools.zoo import tensors_of

    return tensors_of(out)  # a ModelOutput's values in order


@pytest.fixture(scope="module")
def mlp(c_cache):
    net, (x,) = zoo("d2l-mlp")
    return hybridize.compile(net, x, threads=1, cache_dir=c_cache, progress=False), x.numpy()


CASES = {
    "d2l-mlp": dict(weights="embed"),
    "small-cnn": dict(weights="file"),
    "BertModel": dict(weights="auto"),
}


@pytest.mark.torch
@pytest.mark.parametrize("model_name", list(CASES))
def test_export_runs_without_python_bit_identical(model_name, tmp_path, c_cache):
    net, args = zoo(model_name)
    model = hybridize.compile(net, *args, threads=1, cache_dir=c_cache, progress=False)
    paths = export(model, tmp_path, "net", **CASES[model_name])
    names = {p.name for p in paths}
    assert {"net.h", "net.c", "main.c", "Makefile"} <= names
    assert ("net.weights" in names) == (CASES[model_name]["weights"] == "file")
    assert b"Python.h" not in (tmp_path / "net.c").read_bytes()
    exe = compile_c(tmp_path, "net", STRICT)
    xs = [a.numpy() for a in args]
    done = run_driver(exe, xs)
    assert done.returncode == 0, done.stderr
    want = as_list(model(*xs))
    for got, ref in zip(outputs(done.stdout, want), want):
        np.testing.assert_array_equal(got, ref)


@pytest.mark.torch
@pytest.mark.torch
def test_winograd_export_is_bit_identical(tmp_path, c_cache):
    """A Winograd conv (library kernel, per-thread scratch) in the export gives the backend's bits
    (`make sanitize` runs the library's Winograd under ASan and UBSan)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(16, 24, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(24, 20, 3)).eval()
    x = torch.randn(1, 16, 13, 13)
    model = hybridize.compile(net, x, threads=1, cache_dir=c_cache, progress=False)
    assert model.source.count("hy_winograd_nhwc(") == 2
    export(model, tmp_path, "net")
    assert "hy_winograd_nhwc" in (tmp_path / "net.c").read_text()
    want = as_list(model(x.numpy()))
    done = run_driver(compile_c(tmp_path, "net", STRICT), [x.numpy()])
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    for got, ref in zip(outputs(done.stdout, want), want):
        np.testing.assert_array_equal(got, ref)


def test_dynamic_batch_export(tmp_path, c_cache):
    import torch

    net, _ = zoo("d2l-mlp")
    model = hybridize.compile(net, torch.randn(2, 512), dynamic_batch=True, threads=1, cache_dir=c_cache,
                              progress=False)
    export(model, tmp_path, "dyn")
    header = (tmp_path / "dyn.h").read_text()
    assert "int dyn_forward(long batch, const float *in0, float *out0, void *arena);" in header
    assert "size_t dyn_arena_bytes(long batch);" in header
    exe = compile_c(tmp_path, "dyn", STRICT)
    for batch in (1, 5):
        x = np.random.default_rng(batch).standard_normal((batch, 512)).astype(np.float32)
        done = run_driver(exe, [x])  # the batch size comes from the input's length
        assert done.returncode == 0, done.stderr
        np.testing.assert_array_equal(outputs(done.stdout, [model(x)])[0], model(x))
    assert run_driver(exe, [np.zeros(700, np.float32)]).returncode == 1  # no whole batch


@pytest.mark.torch
def test_sanitized_driver_and_damaged_weights(mlp, tmp_path):
    """ASan + UBSan: a clean run, and every kind of bad weights file gives its error code."""
    model, x = mlp
    export(model, tmp_path, "mlp", weights="file")
    exe = compile_c(tmp_path, "mlp", SANITIZE)
    done = run_driver(exe, [x])
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    # -O1 is other code than the backend's -O3: equal within 1e-6, not bit for bit
    np.testing.assert_allclose(outputs(done.stdout, [model(x)])[0], model(x), rtol=0, atol=1e-6)

    good = (tmp_path / "mlp.weights").read_bytes()
    (payload_at,) = [64 * ((40 + 16 * struct.unpack_from("<I", good, 12)[0] + 63) // 64)]
    flipped = bytearray(good)
    flipped[payload_at + 100] ^= 1
    bad_version = bytearray(good)
    bad_version[8] = 9
    bad_size = bytearray(good)
    struct.pack_into("<Q", bad_size, 48, 12345)  # tensor 0 declares another size
    cases = {
        "truncated": (good[: len(good) // 2], "truncated"),
        "header only": (good[:20], "truncated"),
        "empty": (b"", "not a weights file"),
        "magic": (b"NOTWEIGH" + good[8:], "not a weights file"),
        "version": (bytes(bad_version), "version"),
        "checksum": (bytes(flipped), "checksum"),
        "sizes": (bytes(bad_size), "another model"),
        "trailing": (good + b"\0", "malformed"),
    }
    for label, (data, message) in cases.items():
        path = tmp_path / f"{label}.weights"
        path.write_bytes(data)
        done = run_driver(exe, [x], "-w", str(path))
        assert done.returncode == 2, (label, done.returncode, done.stderr.decode()[-2000:])
        assert message in done.stderr.decode(), (label, done.stderr.decode())
    done = run_driver(exe, [x], "-w", str(tmp_path / "missing.weights"))
    assert done.returncode == 2 and b"cannot open" in done.stderr


@pytest.mark.torch
def test_weights_of_another_export_are_refused(mlp, tmp_path, c_cache):
    import torch

    model, x = mlp
    export(model, tmp_path / "a", "m", weights="file")
    net, _ = zoo("d2l-mlp")
    other = hybridize.compile(net, torch.randn(2, 512), dynamic_batch=True, threads=1, cache_dir=c_cache,
                              progress=False)
    export(other, tmp_path / "b", "m", weights="file")
    exe = compile_c(tmp_path / "a", "m", ["-O1", "-fopenmp-simd"])
    done = run_driver(exe, [x], "-w", str(tmp_path / "b" / "m.weights"))
    assert done.returncode == 2 and b"another model" in done.stderr


def test_names_and_directories(tmp_path):
    for bad in ("my-mlp", "1net", "int", "", "a" * 65, "hy_net"):
        with pytest.raises(ExportError):
            check_name(bad)
    assert check_name("my_mlp") == "my_mlp"
    from helpers import module

    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not empty"):
        export(module(), tmp_path, "net")
    export(module(), tmp_path, "net", force=True)
    assert (tmp_path / "keep.txt").read_text() == "mine" and (tmp_path / "net.h").exists()


def test_opt_tool_c_export(tmp_path):
    from helpers import module

    from hybridize.tools.opt_tool import main

    src = tmp_path / "tiny.mlir"
    src.write_text(hybridize.print_module(module()))
    out = tmp_path / "out"
    assert main(["-p", "canonicalize,fuse,plan", "-t", "c-export", "-o", str(out), str(src)]) == 0
    assert (out / "tiny.h").exists() and (out / "tiny.c").exists()
    assert main(["-t", "c-export", "-o", str(out), str(src)]) == 1  # not empty, no --force
    assert main(["-t", "c-export", "--force", "--export-name", "x-y", "-o", str(out), str(src)]) == 1


# --- .hyb ---


@pytest.mark.torch
def test_save_load_in_a_process_without_torch(mlp, tmp_path, c_cache):
    model, x = mlp
    model.save(tmp_path / "m.hyb")
    np.save(tmp_path / "x.npy", x)
    script = f"""
import sys
sys.modules["torch"] = None  # importing torch now fails
sys.modules["mxnet"] = None
import numpy as np, hybridize
m = hybridize.load({str(tmp_path / "m.hyb")!r}, cache_dir={str(c_cache)!r}, progress=False)
assert m.options == {{"threads": 1, "profile": False}}, m.options
np.save({str(tmp_path / "y.npy")!r}, m(np.load({str(tmp_path / "x.npy")!r})))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), model(x))


@pytest.mark.torch
def test_pickle_round_trip(mlp):
    model, x = mlp
    again = pickle.loads(pickle.dumps(model))
    assert again.signature == model.signature and again.backend == "c"
    np.testing.assert_array_equal(again(x), model(x))


def test_numpy_model_saves_too(tmp_path):
    from helpers import module

    model = hybridize.build(hybridize.optimize(module()), "numpy")
    model.save(tmp_path / "n.hyb")
    again = hybridize.load(tmp_path / "n.hyb")
    x = np.random.default_rng(0).standard_normal(model._in_shapes[0]).astype(np.float32)
    assert again.backend == "numpy"
    np.testing.assert_array_equal(again(x), model(x))


def _resealed(data: bytes, edit) -> bytes:
    """`data` with its JSON metadata edited and the checksum recomputed (a well-formed lie)."""
    import hashlib
    import json

    from hybridize.backends.saved import _FIXED

    magic, version, meta_len, _ = _FIXED.unpack_from(data)
    start = _FIXED.size + meta_len
    start += -start % 64
    meta = json.loads(data[_FIXED.size : _FIXED.size + meta_len])
    edit(meta)
    meta_bytes = json.dumps(meta).encode()
    body = meta_bytes + b"\0" * (-(_FIXED.size + len(meta_bytes)) % 64) + data[start:]
    return _FIXED.pack(magic, version, len(meta_bytes), hashlib.sha256(body).digest()) + body


def test_damaged_hyb_files(tmp_path):
    from helpers import module

    model = hybridize.build(hybridize.optimize(module()), "numpy")
    model.save(tmp_path / "good.hyb")
    good = (tmp_path / "good.hyb").read_bytes()
    flipped = bytearray(good)
    flipped[-3] ^= 0x40

    def reshape(meta):
        meta["tensors"][0]["shape"] = [7, 7]

    def retype(meta):
        meta["tensors"][0]["dtype"] = "int32"

    def evil(meta):
        meta["options"]["cache_dir"] = "/tmp"

    cases = {
        "truncated": (good[:-10], "checksum"),
        "tiny": (good[:20], "truncated"),
        "magic": (b"NOTAHYBF" + good[8:], "magic"),
        "version": (good[:8] + struct.pack("<I", 99) + good[12:], "version"),
        "checksum": (bytes(flipped), "checksum"),
        "shape": (_resealed(good, reshape), "needs"),
        "dtype": (_resealed(good, retype), "does not match"),
        "option": (_resealed(good, evil), "build option"),
    }
    for label, (data, message) in cases.items():
        path = tmp_path / f"{label}.hyb"
        path.write_bytes(data)
        with pytest.raises(SavedModelError, match=message) as e:
            hybridize.load(path)
        assert str(path) in str(e.value), label
    with pytest.raises(SavedModelError, match="cannot read"):
        hybridize.load(tmp_path / "missing.hyb")
