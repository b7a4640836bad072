"""`make bench`: hybridize against PyTorch eager, measured in the same run.

For each model of `hybridize.tools.zoo`: eager PyTorch, the NumPy backend
and the C backend, best-of-5 mean time per call at batch 1 (and a larger
batch through one dynamic-batch build), with the ratio eager/compiled, plus
the arena the memory plan needs against no reuse. Tests check correctness;
this prints speed.
"""

from __future__ import annotations

import argparse
import time


def per_call_us(fn, args, calls: int, repeats: int = 5) -> float:
    fn(*args)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32, help="the larger batch (dynamic-batch build)")
    parser.add_argument("models", nargs="*", help="subset of model names")
    args = parser.parse_args(argv)

    import torch

    import hybridize
    from hybridize.ir import ARENA
    from hybridize.ir.module import forward_func
    from hybridize.tools.zoo import MODELS

    torch.set_num_threads(1)  # our kernels are single-threaded: compare like with like
    names = args.models or list(MODELS)
    header = f"{'model':<18}{'batch':>6}{'eager us':>11}{'numpy us':>11}{'C us':>10}{'eager/numpy':>13}{'eager/C':>9}   arena (vs no reuse)"
    print(header)
    print("-" * len(header))
    for name in names:
        try:
            model, inputs = MODELS[name]()
        except ImportError as e:
            print(f"{name:<18} skipped: {e}")
            continue
        for batch in (1, args.batch):
            try:
                dynamic = batch != 1
                xs = inputs if not dynamic else tuple(torch.cat([x] * batch) for x in inputs)
                module = hybridize.optimize(hybridize.trace(model, *inputs, dynamic_batch=dynamic))
                arena = forward_func(module).attributes[ARENA].at(batch)
                built = {b: hybridize.build(module, b) for b in ("numpy", "c")}
            except Exception as e:  # report and go on: a benchmark is not a test
                print(f"{name:<18}{batch:>6}  not compiled: {type(e).__name__}: {str(e).splitlines()[0][:80]}")
                continue
            calls = max(5, args.calls // batch)
            with torch.inference_mode():
                eager = per_call_us(model, xs, calls)
            np_xs = [x.numpy() for x in xs]
            t_np = per_call_us(built["numpy"], np_xs, calls)
            t_c = per_call_us(built["c"], np_xs, calls)
            print(
                f"{name:<18}{batch:>6}{eager:>11.1f}{t_np:>11.1f}{t_c:>10.1f}{eager / t_np:>12.2f}x{eager / t_c:>8.2f}x"
                f"   {arena[0]} B (lower bound {arena[1]}, no reuse {arena[2]})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
