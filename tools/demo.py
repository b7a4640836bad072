"""`make demo`: the d2l "Compilers and Interpreters" story, end to end.

Builds the d2l MLP, traces it with torch.export, prints its IR, optimizes it
with `canonicalize,fuse,plan`, prints the optimized IR, runs it through the
NumPy and C backends, checks both against PyTorch, times eager vs compiled for
1000 calls at batch 1, writes `my_mlp.mlir` (the traced IR, for opt-tool) and
draws `my_mlp.svg` (the optimized graph) and `my_mlp.plan.svg` (its memory plan),
then ships it: saves `build/my_mlp.hyb` and loads it back, exports the
standalone C package to `build/demo-export/`, compiles it with the system C
compiler and runs it without Python, checking its output against PyTorch.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def get_net():
    from torch import nn

    return nn.Sequential(nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 2))


def elide_constants(text: str, width: int = 48) -> str:
    """IR text with long dense constants shortened, for reading on a terminal."""
    out = []
    for line in text.splitlines():
        if "hy.constant dense<" in line and len(line) > 160:
            head, _, rest = line.partition("dense<")
            tail = rest[rest.rfind(">") :]
            line = f"{head}dense<{rest[:width]}...{tail}"
        out.append(line)
    return "\n".join(out)


def benchmark(fn, x, calls: int, repeats: int = 5) -> float:
    """Best of `repeats` runs of `calls` calls, in microseconds per call."""
    fn(x)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn(x)
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--output", default="my_mlp.mlir", help="where to write the traced IR")
    parser.add_argument("--export-dir", default="build/demo-export", help="where to write the standalone C export")
    args = parser.parse_args(argv)

    import torch

    import hybridize
    from hybridize.ir.attributes import ARENA
    from hybridize.ir.module import forward_func

    torch.manual_seed(0)
    net = get_net().eval()
    x = torch.randn(1, 512)

    print("== 1. trace: torch.export -> hy IR")
    module = hybridize.trace(net, x)
    text = hybridize.print_module(module)
    print(elide_constants(text))
    Path(args.output).write_text(text)
    print(f"(wrote {args.output}, {len(text) // 1024} KiB)")

    pipeline = "canonicalize,fuse,plan"
    print(f"\n== 2. optimize: {pipeline}")
    optimized = hybridize.optimize(module, pipeline)
    print(elide_constants(hybridize.print_module(optimized)))
    arena = forward_func(optimized).attributes[ARENA]

    print("\n== 3. build and check against PyTorch")
    with torch.no_grad():
        expected = net(x).numpy()
    models = {}
    for backend in ("numpy", "c"):
        models[backend] = hybridize.build(optimized, backend)
        got = models[backend](x.numpy())
        err = float(np.max(np.abs(got - expected)))
        status = "ok" if err <= 1e-5 else "MISMATCH"
        print(f"{backend:>6}: max |ours - torch| = {err:.2e}  {status}")
        if status != "ok":
            return 1

    print(f"\n== 4. time: {args.calls} calls at batch 1 (best of 5)")
    xn = x.numpy()
    with torch.inference_mode():
        eager = benchmark(net, x, args.calls)
    times = {b: benchmark(m, xn, args.calls) for b, m in models.items()}
    print(f"{'PyTorch eager':>16}: {eager:8.2f} us/call")
    for backend, t in times.items():
        print(f"{'hybridize ' + backend:>16}: {t:8.2f} us/call   eager/compiled = {eager / t:5.2f}x")
    print(
        f"\narena: {arena.bytes.data} bytes (lower bound {arena.lower_bound.data}, "
        f"no reuse {arena.no_reuse.data})"
    )

    print("\n== 5. see it: the optimized graph and its memory plan")
    from hybridize.backends.draw import DrawError

    graph = Path(args.output).with_suffix(".svg")
    plan = Path(args.output).with_suffix(".plan.svg")
    try:
        hybridize.draw(optimized, graph)
        hybridize.draw_plan(optimized, plan)
    except DrawError as e:
        print(f"no pictures: {e}")
    else:
        print(f"wrote {graph} (ops, fused regions, buffers) and {plan} (the arena over time): open them in a browser")
    status = ship(models["c"], x.numpy(), expected, Path(args.export_dir), times["c"], args.calls)
    if status:
        return status
    print(f"\nnext: opt-tool --passes=fuse,plan {args.output}")
    print(f"      opt-tool -t html -p canonicalize,fuse,plan {args.output} -o report.html   # every stage")
    return 0


def ship(model, x: np.ndarray, expected: np.ndarray, out: Path, python_us: float, calls: int) -> int:
    """Step 6: save and reload the model, export it as C, build and run that without Python."""
    import shutil
    import subprocess

    import hybridize

    print("\n== 6. ship it: one file to reload, C that runs without Python")
    saved = out.parent / "my_mlp.hyb"
    saved.parent.mkdir(parents=True, exist_ok=True)
    model.save(saved)
    same = np.array_equal(hybridize.load(saved, progress=False)(x), model(x))
    print(f"saved {saved} ({saved.stat().st_size // 1024} KiB); hybridize.load gives {'the same bits' if same else 'OTHER OUTPUTS'}")
    if not same:
        return 1
    paths = hybridize.export(model, out, name="my_mlp", force=True)
    for p in paths:
        print(f"  {p}  {p.stat().st_size / 1024:8.1f} KiB")
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        print("no C compiler on PATH: skipping the standalone build")
        return 0
    exe = out / "my_mlp"
    cmd = [cc, "-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp-simd", "-o", str(exe), str(out / "main.c"), str(out / "my_mlp.c"), "-lm"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"$ {' '.join(cmd)}   ({time.perf_counter() - start:.1f} s)")
    (out / "input.bin").write_bytes(np.ascontiguousarray(x).tobytes())
    run = subprocess.run([str(exe), "-r", str(calls), str(out / "input.bin"), str(out / "output.bin")],
                         capture_output=True, text=True)
    if run.returncode:
        print(f"the driver failed ({run.returncode}): {run.stderr}")
        return 1
    got = np.frombuffer((out / "output.bin").read_bytes(), np.float32).reshape(expected.shape)
    err = float(np.max(np.abs(got - expected)))
    status = "ok" if err <= 1e-5 else "MISMATCH"
    print(f"$ {exe} -r {calls} input.bin output.bin: {run.stderr.strip()}")
    print(f"standalone C: max |C - torch| = {err:.2e}  {status}; bit-identical to hybridize C: {np.array_equal(got, model(x))}")
    print(f"per call: standalone {run.stderr.split(',')[-1].strip()} vs {python_us:.2f} us through Python")
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    raise SystemExit(main())
