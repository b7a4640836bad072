"""`make bench`: hybridize's C backend against the peers, measured in one run.

For each row of `hybridize.tools.zoo.BENCH` (issue 7's table), at 1 and 2
threads: eager PyTorch, ONNX Runtime (the model exported with
`torch.onnx.export`), hybridize's NumPy and C backends, as the median
microseconds per call (the peers take turns for `--rounds` rounds and each
keeps its best round's median: a shared VM drifts), with the ratio C / ONNX
Runtime and the C backend's GFLOP/s against the machine's FMA peak (measured
first by a small C loop; the 1024^3 GEMM's share against the probe run around
each of its calls).
Then the cold and warm C build time of every model, each in a fresh process
(Python's collector run before the clock: tracing's garbage is not the build's).
Benchmarks print; tests never time anything.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path


def median_us(fn, args, budget: float = 0.6, min_calls: int = 5, max_calls: int = 2000) -> float:
    """Median wall time of one call, over as many calls as fit in `budget` seconds."""
    fn(*args)
    fn(*args)
    times = []
    end = time.perf_counter() + budget
    while len(times) < max_calls and (len(times) < min_calls or time.perf_counter() < end):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def fma_probe():
    """The library's FMA probe: iterations -> GFLOP/s of one thread."""
    from hybridize.backends.c.build import compile_module

    _, lib = compile_module(
        '#include "hy_kernels.h"\n', "double hy_fma_peak_gflops(long iterations);", what="the FMA probe"
    )
    return lib.hy_fma_peak_gflops


def fma_peak() -> float:
    """The single-thread FMA peak in GFLOP/s (best of five short runs of the library's probe)."""
    probe = fma_probe()
    return max(probe(20_000_000) for _ in range(5))


def large_gemm(size: int = 1024, threads: int = 1, pairs: int = 30) -> tuple[float, float]:
    """(GFLOP/s, share of the FMA peak) of the C backend on one size^3 GEMM (a
    linear layer, weights packed at build time). The VM's speed drifts by 2x
    within seconds, so each call is measured between two short probe runs and
    the share is the median over `pairs` of the call's rate against the faster
    of its two probes; the rate is the median call's."""
    import statistics
    import time

    import numpy as np
    import torch

    import hybridize

    probe = fma_probe()
    torch.manual_seed(0)
    layer = torch.nn.Linear(size, size, bias=False).eval()
    x = torch.randn(size, size)
    fast = hybridize.build(hybridize.optimize(hybridize.trace(layer, x)), "c", threads=threads, progress=False)
    xn = np.ascontiguousarray(x.numpy())
    for _ in range(3):
        fast(xn)
    rates, shares = [], []
    for _ in range(pairs):
        before = probe(1_000_000)  # ~4 ms
        t0 = time.perf_counter()
        fast(xn)
        rate = 2 * size**3 / (time.perf_counter() - t0) / 1e9
        after = probe(1_000_000)
        rates.append(rate)
        shares.append(rate / (threads * max(before, after)))
    return statistics.median(rates), statistics.median(shares)


def onnx_session_maker(model, inputs):
    """Export once; returns threads -> (ONNX Runtime session run function)."""
    import logging

    import onnxruntime as ort
    import torch

    data = None
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping ..." per export
    # the exporter prints its own progress and constant-folding notes: they are not the table's
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(model, tuple(inputs), dynamo=True, verbose=False)
            data = program.model_proto.SerializeToString()
        except Exception:  # the dynamo exporter refuses some models; the TorchScript one takes them
            buffer = io.BytesIO()
            torch.onnx.export(model, tuple(inputs), buffer, dynamo=False)
            data = buffer.getvalue()
        finally:
            onnx_log.setLevel(level)

    def make(threads: int):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]

        def run(*arrays):
            return session.run(None, dict(zip(names, arrays)))

        return run

    return make


def flat_outputs(out) -> list:
    """The tensors of a model's (possibly nested) output, in order: eager
    torch and compiled models return the same structure (ModelOutput, dict,
    tuples)."""
    from hybridize.tools.zoo import tensors_of

    return tensors_of(out)


def relative_error(got, expected) -> float:
    import numpy as np

    got = flat_outputs(got)
    worst = 0.0
    for g, e in zip(got, expected):
        e = e.detach().numpy() if hasattr(e, "detach") else np.asarray(e)
        g = np.asarray(g)
        scale = max(float(np.max(np.abs(e))), 1e-30)
        worst = max(worst, float(np.max(np.abs(g - e))) / scale)
    return worst


def build_time(row: str, cache: Path) -> float:
    """Seconds `hybridize.build` takes for `row`, in a fresh process with the given cache."""
    code = (
        "import time, hybridize\n"
        "from hybridize.tools.zoo import BENCH\n"
        f"model, inputs = BENCH[{row!r}]()\n"
        "module = hybridize.optimize(hybridize.trace(model, *inputs))\n"
        "import gc; gc.collect()\n"  # the collector's debt from building and tracing the torch model is not the build's
        "t0 = time.perf_counter()\n"
        f"hybridize.build(module, 'c', cache_dir={str(cache)!r}, progress=False)\n"
        "print(time.perf_counter() - t0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "build failed")
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", help="subset of rows (default: all)")
    parser.add_argument("--threads", default="1,2", help="thread counts to measure, e.g. 1,2")
    parser.add_argument("--budget", type=float, default=0.3, help="seconds of calls per measurement")
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds per row; each peer keeps its best median"
    )
    parser.add_argument("--no-build-times", action="store_true", help="skip the cold/warm build times")
    parser.add_argument("--json", metavar="FILE", help="also write the measurements as JSON")
    args = parser.parse_args(argv)

    import torch

    import hybridize
    from hybridize.backends.c.isa import target
    from hybridize.ir.cost import macs
    from hybridize.tools.zoo import BENCH

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # NumPy then uses its BLAS's default threads
        threadpool_limits = None
    try:
        import onnxruntime
    except ImportError:
        onnxruntime = None

    rows = args.rows or list(BENCH)
    thread_counts = [int(t) for t in args.threads.split(",")]
    peak = fma_peak()
    tgt = target()
    print(f"machine: {tgt.isa} ({tgt.describe()}), {os.cpu_count()} cores; FMA peak {peak:.1f} GFLOP/s per thread")
    gemm_rate, gemm_share = large_gemm()
    print(
        f"large GEMM (1024^3, packed weights, 1 thread): {gemm_rate:.1f} GFLOP/s = {gemm_share * 100:.0f}% of the FMA peak"
        " (each call against the probe run just before and after it)"
    )
    print(f"peers: torch {torch.__version__}, onnxruntime {getattr(onnxruntime, '__version__', 'not installed')}")
    header = (
        f"{'model':<14}{'thr':>4}{'eager us':>11}{'ORT us':>10}{'numpy us':>11}{'C us':>10}{'C/ORT':>7}"
        f"{'C GFLOP/s':>11}{'% peak':>8}{'max rel err':>13}"
    )
    print(header)
    print("-" * len(header))
    results = []
    for row in rows:
        model, inputs = BENCH[row]()
        try:
            module = hybridize.optimize(hybridize.trace(model, *inputs))
            work = macs(module)
            np_model = hybridize.build(module, "numpy")
            c_models = {t: hybridize.build(module, "c", threads=t) for t in thread_counts}
            ort_make = onnx_session_maker(model, inputs) if onnxruntime else None
        except Exception as e:  # report and go on: a benchmark is not a test
            print(f"{row:<14} not compiled: {type(e).__name__}: {str(e).splitlines()[0][:100]}")
            continue
        xs = [x.numpy() for x in inputs]
        with torch.inference_mode():
            expected = flat_outputs(model(*inputs))
        err = relative_error(c_models[thread_counts[0]](*xs), expected)
        for t in thread_counts:
            torch.set_num_threads(t)
            runs = {"eager": (model, inputs), "numpy": (np_model, xs), "c": (c_models[t], xs)}
            if ort_make:
                runs["ort"] = (ort_make(t), xs)
            # a shared VM's speed drifts by tens of percent within seconds: the peers take turns for a
            # few rounds, and each keeps the median of its best round
            best = dict.fromkeys(runs, float("inf"))
            with torch.inference_mode():
                for _ in range(max(args.rounds, 1)):
                    for name, (fn, fn_args) in runs.items():
                        numpy_blas = name == "numpy" and threadpool_limits  # NumPy's BLAS at t threads
                        with threadpool_limits(t) if numpy_blas else nullcontext():
                            best[name] = min(best[name], median_us(fn, fn_args, args.budget))
            eager, np_us, c_us = best["eager"], best["numpy"], best["c"]
            ort_us = best.get("ort", float("nan"))
            gflops = 2 * work / c_us / 1e3
            share = gflops / (peak * t) * 100
            print(
                f"{row:<14}{t:>4}{eager:>11.1f}{ort_us:>10.1f}{np_us:>11.1f}{c_us:>10.1f}{c_us / ort_us:>7.2f}"
                f"{gflops:>11.1f}{share:>7.0f}%{err:>13.1e}",
                flush=True,
            )
            results.append(dict(model=row, threads=t, eager_us=eager, ort_us=ort_us, numpy_us=np_us, c_us=c_us,
                                c_over_ort=c_us / ort_us, gflops=gflops, peak_share=share, max_rel_err=err))  # fmt: skip
    print(
        "(C GFLOP/s counts the model's direct arithmetic, 2 x multiply-adds (ir/cost.py); the C backend runs 3x3"
        " stride-1 convolutions by Winograd F(2x2, 3x3), 2.25x fewer multiply-adds, so conv rows can pass 100%)"
    )
    torch.set_num_threads(max(thread_counts))
    builds = {}
    if not args.no_build_times:
        from hybridize.backends.c.build import default_cache_dir, kernel_library

        print()
        print(
            f"{'model':<14}{'cold build s':>14}{'warm build s':>14}   (fresh processes, warm: best of 3;"
            " kernel library prebuilt; Python's collector run before the clock)"
        )
        library = kernel_library(default_cache_dir(), progress=False)
        for row in rows:
            with tempfile.TemporaryDirectory(prefix="hybridize-bench-") as tmp:
                cache = Path(tmp)
                for suffix in ("", ".json"):
                    shutil.copyfile(str(library) + suffix, cache / (library.name + suffix))
                try:
                    cold = build_time(row, cache)
                    warm = min(build_time(row, cache) for _ in range(3))  # best of three fresh processes
                except Exception as e:
                    print(f"{row:<14} build failed: {e}")
                    continue
            builds[row] = dict(cold_s=cold, warm_s=warm)
            print(f"{row:<14}{cold:>14.2f}{warm:>14.2f}", flush=True)
    if args.json:
        measured = dict(peak_gflops=peak, large_gemm=dict(gflops=gemm_rate, peak_share=gemm_share), rows=results, builds=builds)
        Path(args.json).write_text(json.dumps(measured, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
