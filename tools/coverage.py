"""`make coverage`: how many real architectures and layers hybridize compiles, as a new user calls it.

For every case of `hybridize.tools.coverage_models.MODELS` (transformers
classes from small configs with random weights, plain torch layers and
networks), in a process of its own (forked from a server that has imported torch,
transformers and hybridize once) with a timeout and a memory limit:

1. build the model and run it eagerly (stage `build`);
2. `hybridize.trace(model, *inputs)` with default options (stage `trace`);
3. `hybridize.optimize` with the default pipeline, then `hybridize.build` on
   the `numpy` and the `c` backend, each run on the inputs (stages `numpy`, `c`);
4. compare with eager: the error of an output is
   `max|compiled - eager| / max(1, max|eager|)` (absolute for outputs of
   magnitude up to 1, relative beyond), the case's error the largest over its
   outputs and both backends; it passes below 1e-4 (stage `match`);
5. with `--dynamic`: `trace(..., dynamic_batch=True)`, built on both backends,
   run at batch 1 and 3 and compared the same way (its own column).

The table gives per case its status, the stage that failed, the error's first
line (the op and where it came from) and the error; then the pass rate per
category and the ops that blocked cases, with how many each. Output is
deterministic (no times; `--json` adds them).

    python -m hybridize.tools.coverage                     # everything, 2 jobs
    python -m hybridize.tools.coverage --only BertModel --only nn.LSTM
    python -m hybridize.tools.coverage --category layer --dynamic --json build/coverage.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hybridize.errors import HybridizeError

TOLERANCE = 1e-4
STAGES = ("build", "trace", "numpy", "c", "match")


# --- the worker: one case, in its own process ---


def flat_outputs(out) -> list:
    """The arrays of a result, in order: tensors, NumPy and MXNet arrays, through
    tuples, lists and dicts (a transformers ModelOutput is an ordered dict; the
    order is torch's pytree order); other leaves (None, numbers) are skipped."""
    import numpy as np

    if isinstance(out, list | tuple):
        return [a for o in out for a in flat_outputs(o)]
    if isinstance(out, dict):
        return [a for o in out.values() for a in flat_outputs(o)]
    if isinstance(out, np.ndarray):
        return [out]
    if hasattr(out, "asnumpy"):  # MXNet
        return [out.asnumpy()]
    if type(out).__module__.startswith("torch") and hasattr(out, "detach"):
        return [out.detach().cpu().numpy()]
    return []


def output_error(got: list, want: list) -> float:
    """max over outputs of max|got - want| / max(1, max|want|); NaN/inf count as equal where both have them."""
    import numpy as np

    if len(got) != len(want):
        raise MismatchError(f"{len(got)} compiled outputs for {len(want)} eager ones")
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        w = np.asarray(w)
        if g.shape != w.shape:
            raise MismatchError(f"output {i}: shape {list(g.shape)} compiled, {list(w.shape)} eager")
        if w.size == 0:
            continue
        g = g.astype(np.float64)
        w = w.astype(np.float64)
        same = (g == w) | (np.isnan(g) & np.isnan(w))
        diff = np.where(same, 0.0, np.abs(g - w))
        diff = np.where(np.isnan(diff), np.inf, diff)
        finite = w[np.isfinite(w)]
        scale = max(1.0, float(np.abs(finite).max()) if finite.size else 1.0)
        worst = max(worst, float(diff.max()) / scale)
    return worst


class MismatchError(HybridizeError):
    """Compiled outputs differ in number or shape from eager ones."""


def batched(inputs: tuple, batch_dim: int, size: int) -> tuple:
    """The example inputs at another batch size: fresh seeded values of the same kind and range."""
    import torch

    g = torch.Generator().manual_seed(100 + size)
    out = []
    for x in inputs:
        shape = list(x.shape)
        shape[batch_dim] = size
        if x.dtype.is_floating_point:
            out.append(torch.randn(shape, generator=g, dtype=x.dtype))
        else:
            lo, hi = int(x.min()), int(x.max())
            out.append(torch.randint(lo, hi + 1, shape, generator=g, dtype=x.dtype))
    return tuple(out)


def short_path(path: str) -> str:
    """A file as a reader places it: inside site-packages from the package on, else the file name."""
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    return Path(path).name


def first_line(e: BaseException) -> str:
    """The error's first line, supported-op lists dropped and paths shortened."""
    text = str(e).strip()
    line = text.splitlines()[0] if text else ""
    line = line.split("; supported ops:")[0]
    line = re.sub(r'File "([^"]+)", line (\d+)(, in \w+)?', lambda m: f"{short_path(m.group(1))}:{m.group(2)}", line)
    return f"{type(e).__name__}: {line}"[:400]


def blocker(e: BaseException) -> str:
    """What stopped a case, short enough to count: the op for an unsupported op, else the error's kind."""
    text = str(e)
    m = re.search(r"unsupported op ([\w.]+)", text)
    if m:
        return m.group(1)
    m = re.search(r"'[^']*' \((\w+)\): (unsupported op|.{0,48})", text)  # MXNet: node 'name' (Op): why
    if m:
        return m.group(1) if m.group(2) == "unsupported op" else f"{m.group(1)}: {m.group(2).strip()}"
    m = re.search(r"\b(aten\.[\w.]+)", text)
    if m:
        return f"{type(e).__name__} in {m.group(1)}"
    m = re.search(r"\b(hy\.[\w.]+)", text)
    if m:
        return f"{type(e).__name__} in {m.group(1)}"
    return type(e).__name__


def where(e: BaseException) -> str:
    """The source line an error names, as file:line (`*` marks torch's own files: not the user's line)."""
    text = str(e)
    m = re.search(r'File "([^"]+)", line (\d+)', text) or re.search(r'loc\("([^"]+)":(\d+)', text)
    if not m:
        m = re.search(r"([\w/.-]+\.py):(\d+)", text)
    if not m:
        return ""
    path, line = m.group(1), m.group(2)
    inside = "site-packages/torch/" in path
    return f"{'*' if inside else ''}{short_path(path)}:{line}"


def run_case(name: str, dynamic: bool, decompose: bool, record: Path) -> None:
    """Run one case, rewriting `record` (JSON) after every stage so a crash still tells where it was."""
    import warnings

    warnings.filterwarnings("ignore")
    result: dict = {"name": name, "status": "fail", "stage": "build"}

    times: dict = {}
    clock = {"at": time.perf_counter(), "stage": "build"}

    def save():  # called on entering result["stage"]: the time so far goes to the stage before
        now = time.perf_counter()
        times[clock["stage"]] = round(times.get(clock["stage"], 0) + now - clock["at"], 1)
        clock.update(at=now, stage=result["stage"] or "dynamic")
        result["times"] = times
        record.write_text(json.dumps(result))

    record.write_text(json.dumps(result))
    t0 = time.perf_counter()
    try:
        _stages(name, dynamic, decompose, result, save)
    except BaseException as e:  # noqa: BLE001 - the sweep records every failure
        result["error"] = first_line(e)
        result["blocker"] = blocker(e)
        result["where"] = where(e)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    save()


def _stages(name: str, dynamic: bool, decompose: bool, result: dict, save) -> None:
    import hybridize

    case = all_cases()[name]
    model, inputs = case.build()
    with _no_grad(case):
        want = flat_outputs(model(*inputs))
    result["stage"] = "trace"
    save()
    options = {"decompose": True} if decompose and case.framework == "torch" else {}
    module = hybridize.trace(model, *inputs, **options)
    optimized = hybridize.optimize(module)
    errors = {}
    for backend in ("numpy", "c"):
        result["stage"] = backend
        save()
        extra = {"threads": 1, "progress": False} if backend == "c" else {}
        compiled = hybridize.build(optimized, backend, **extra)
        got = flat_outputs(compiled(*inputs))
        errors[backend] = output_error(got, want)
    result["stage"] = "match"
    result["error_by_backend"] = errors
    result["max_error"] = max(errors.values())
    if result["max_error"] <= TOLERANCE:
        result["status"] = "pass"
        result["stage"] = ""
    else:
        result["status"] = "mismatch"
        worst = max(errors, key=errors.get)
        result["error"] = f"{worst} backend differs from eager by {errors[worst]:.2e}"
        result["blocker"] = f"mismatch ({worst})"
    save()
    if dynamic:
        result["dynamic"] = _dynamic(case, model, inputs, case.batch_dim, options)
        save()


def _no_grad(case):
    if case.framework == "torch":
        import torch

        return torch.no_grad()
    import contextlib

    return contextlib.nullcontext()


def _dynamic(case, model, inputs, batch_dim, options) -> str:
    """`dynamic_batch=True` built on both backends and run at two batch sizes: "ok", or what failed."""
    import hybridize

    if case.framework != "torch":
        return "n/a (torch only)"
    if batch_dim != 0:
        return "n/a (batch not in front)"
    try:
        module = hybridize.optimize(hybridize.trace(model, *inputs, dynamic_batch=True, **options))
    except BaseException as e:  # noqa: BLE001
        return f"trace: {first_line(e)}"
    worst = 0.0
    for backend in ("numpy", "c"):
        try:
            extra = {"threads": 1, "progress": False} if backend == "c" else {}
            compiled = hybridize.build(module, backend, **extra)
            for size in (1, 3):
                args = batched(inputs, batch_dim, size)
                with _no_grad(case):
                    want = flat_outputs(model(*args))
                worst = max(worst, output_error(flat_outputs(compiled(*args)), want))
        except BaseException as e:  # noqa: BLE001
            return f"{backend}: {first_line(e)}"
    return "ok" if worst <= TOLERANCE else f"mismatch {worst:.1e}"


# --- the driver ---


PRELOAD = {
    "torch": ["torch", "numpy", "xdsl", "transformers", "transformers.modeling_utils", "hybridize",
              "hybridize.frontends.torch", "hybridize.backends.c", "hybridize.tools.coverage_models"],
    "gluon": ["numpy", "xdsl", "hybridize", "hybridize.backends.c"],  # MXNet starts threads: imported per case
}
"""Imported once by the fork server, so each case's fresh process starts warm."""

SUITE = {"torch": "hybridize.tools.coverage_models", "gluon": "hybridize.tools.coverage_gluon"}
"""`--suite`: the module whose `MODELS` the sweep runs (gluon: run with the MXNet venv's Python)."""


def all_cases() -> dict:
    import importlib

    cases = {}
    for module in SUITE.values():
        try:
            cases.update(importlib.import_module(module).MODELS)
        except ImportError:
            continue
    return cases


def _child(name: str, dynamic: bool, decompose: bool, record: str, log: str, memory_mb: int) -> None:
    """A case's process: an address-space limit, its output to a log file (run the sweep under `nice` to yield)."""
    import resource

    limit = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    run_case(name, dynamic, decompose, Path(record))


def run_isolated(ctx, name: str, args) -> dict:
    """One case in a fresh process (forked from a warm server) with a timeout and an address-space limit."""
    with tempfile.TemporaryDirectory(prefix="hy-coverage-") as tmp:
        record = Path(tmp) / "result.json"
        log = Path(tmp) / "log.txt"
        t0 = time.perf_counter()
        proc = ctx.Process(
            target=_child, args=(name, args.dynamic, args.decompose, str(record), str(log), args.memory_mb)
        )
        proc.start()
        proc.join(args.timeout)
        timed_out = proc.is_alive()
        if timed_out:
            proc.kill()
            proc.join()
        result = json.loads(record.read_text()) if record.exists() and record.stat().st_size else {}
        result.setdefault("name", name)
        result.setdefault("stage", "build")
        if timed_out:
            result.update(status="timeout", error=f"timed out after {args.timeout}s", blocker="timeout")
        elif proc.exitcode != 0 and result.get("status") != "pass" and "error" not in result:
            text = log.read_text(errors="replace") if log.exists() else ""
            tail = text.strip().splitlines()
            code = proc.exitcode
            reason = "out of memory" if "MemoryError" in text or "bad_alloc" in text else (
                f"killed by signal {-code}" if code and code < 0 else f"exit code {code}")
            result.update(status="crash", error=f"{reason}: {tail[-1] if tail else ''}"[:400], blocker=reason)
        result.setdefault("seconds", round(time.perf_counter() - t0, 1))
        return result


def selected(args) -> list[str]:
    import importlib

    MODELS = importlib.import_module(SUITE[args.suite]).MODELS
    names = list(MODELS)
    if args.only:
        unknown = [n for n in args.only if n not in MODELS]
        if unknown:
            raise SystemExit(f"coverage: unknown case(s) {', '.join(unknown)}; --list shows them")
        names = [n for n in names if n in args.only]
    if args.category:
        names = [n for n in names if MODELS[n].category in args.category]
    return names


def format_table(results: list[dict], dynamic: bool) -> str:
    from hybridize.tools.coverage_models import CATEGORIES

    MODELS = all_cases()

    lines = [
        f"error = max|compiled - eager| / max(1, max|eager|) over outputs and both backends; pass <= {TOLERANCE:g}",
        "",
    ]
    header = ["case", "category", "status", "stage", "max error", "source line", "first error"]
    if dynamic:
        header.insert(5, "dynamic batch")
    rows = [header]
    for r in results:
        err = r.get("max_error")
        row = [r["name"], MODELS[r["name"]].category, r["status"], r.get("stage", ""),
               "" if err is None else f"{err:.1e}", r.get("where", "") if r["status"] != "pass" else "",
               r.get("error", "")[:150] if r["status"] != "pass" else ""]  # fmt: skip
        if dynamic:
            row.insert(5, (r.get("dynamic") or "-")[:50])
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        lines.append(("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1]).rstrip())
    lines.append("(source line: * marks a line inside torch itself, not the model's code)")
    lines.append("")
    lines.append("per category: passed / cases")
    total_pass = 0
    for cat in CATEGORIES:
        rs = [r for r in results if MODELS[r["name"]].category == cat]
        if not rs:
            continue
        ok = sum(r["status"] == "pass" for r in rs)
        total_pass += ok
        lines.append(f"  {cat:<20} {ok:>3} / {len(rs):<3} {100 * ok / len(rs):5.1f}%")
    lines.append(f"  {'all':<20} {total_pass:>3} / {len(results):<3} {100 * total_pass / max(1, len(results)):5.1f}%")
    if dynamic:
        rs = [r for r in results if r["status"] == "pass" and not str(r.get("dynamic", "")).startswith("n/a")]
        ok = sum(r.get("dynamic") == "ok" for r in rs)
        lines.append(f"  dynamic batch (of the passing cases with a batch in front): {ok} / {len(rs)}")
        failed = [(r["name"], r["dynamic"]) for r in rs if r.get("dynamic") != "ok"]
        if failed:
            lines.append("")
            lines.append("dynamic batch failures:")
            lines.extend(f"  {n}: {d[:200]}" for n, d in failed)
    blockers = Counter(r.get("blocker", "?") for r in results if r["status"] != "pass")
    if blockers:
        lines.append("")
        lines.append("what blocked cases (count):")
        lines.append("  " + ", ".join(f"{b} x{n}" for b, n in sorted(blockers.items(), key=lambda kv: (-kv[1], kv[0]))))
        stages = Counter(r.get("stage", "?") for r in results if r["status"] != "pass")
        lines.append("failing stage: " + ", ".join(f"{s} x{n}" for s, n in sorted(stages.items())))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME", help="run this case (repeatable)")
    parser.add_argument("--category", action="append", help="run this category (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per case (default 600)")
    parser.add_argument("--table", metavar="JSON", help="print the table of a finished (or partial) --json run and exit")
    parser.add_argument("--memory-mb", type=int, default=8192, help="address-space limit per case (default 8192)")
    parser.add_argument("--dynamic", action="store_true", help="also dynamic_batch=True at batch 1 and 3")
    parser.add_argument("--decompose", action="store_true", help="trace with decompose=True")
    parser.add_argument("--json", metavar="OUT", help="write every result (with times) to this file")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--suite", choices=sorted(SUITE), default="torch",
                        help="torch (default) or gluon (MXNet Gluon layers: run with the MXNet venv)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--record", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_case(args.worker, args.dynamic, args.decompose, Path(args.record))
        return 0
    from hybridize.tools.coverage_models import CATEGORIES

    MODELS = all_cases()
    if args.category and set(args.category) - set(CATEGORIES):
        raise SystemExit(f"coverage: categories are {', '.join(CATEGORIES)}")
    if args.table:
        print(format_table(json.loads(Path(args.table).read_text()), args.dynamic))
        return 0
    names = selected(args)
    if args.list:
        for n in names:
            print(f"{n:<36} {MODELS[n].category}")
        return 0
    import threading

    finished: dict[str, dict] = {}
    lock = threading.Lock()

    def one(name):
        r = run_isolated(ctx, name, args)
        with lock:
            finished[name] = r
            print(f"[{len(finished)}/{len(names)}] {name}: {r['status']}", file=sys.stderr, flush=True)
            if args.json:  # kept up to date, so an interrupted sweep leaves what it did
                Path(args.json).parent.mkdir(parents=True, exist_ok=True)
                Path(args.json).write_text(json.dumps([finished[n] for n in names if n in finished], indent=1))
        return r

    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD[args.suite])
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(one, names))
    print(format_table(results, args.dynamic))
    return 0


if __name__ == "__main__":
    sys.exit(main())
