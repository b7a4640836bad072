"""Test helpers for passes, shipped to users: random graphs over every op and
the differential check that a pass pipeline keeps what a graph computes.

    from hybridize.ir import ReluOp
    from hybridize.testing import check_pass, graphs

    def test_fold_double_relu():
        check_pass("fold-double-relu", graphs(ops=[ReluOp], min_ops=3))

`check_pass` draws graphs (hypothesis), runs each unoptimized by the NumPy
backend (the oracle), runs the pipeline on a copy, checking after every pass
that the IR verifies and prints to text that parses back the same, then runs
the optimized graph on each backend (`numpy`, and `c` for a share of the
examples: C builds take a compiler run, cached by source) and compares every
output: same shape and dtype, integers and booleans exactly, floats within a
tolerance by dtype (`TOLERANCES`) with NaN where NaN and infinities of the same
sign. On a failure hypothesis shrinks the graph; the smallest failing one is
written as `<dir>/<pipeline>.mlir` (with its inputs beside it in `.npz`) and
printed with the commands that reproduce it:

    opt-tool -p fold-double-relu hybridize-repro/fold-double-relu.mlir
    python -m hybridize.testing -p fold-double-relu hybridize-repro/fold-double-relu.mlir

Strategies (`hybridize.ir.strategies`): `graphs(ops=..., other_ops=...,
min_ops=..., max_ops=..., shapes=..., dtypes=..., max_outputs=...)`,
`random_graph(random.Random(seed))`. Requires `hypothesis`.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from hybridize.errors import PassError
from hybridize.ir.strategies import ALL_OPS, DTYPES, OP_BUILDERS, GraphCase, any_graphs, graphs, random_graph

TOLERANCES: dict[str, tuple[float, float]] = {"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-12)}
"""(rtol, atol) per float dtype: |got - expected| <= atol + rtol * |expected|."""

BACKENDS = ("numpy", "c")
REPRODUCER_DIR = "hybridize-repro"


class PassCheckError(PassError, AssertionError):
    """A pipeline changed what a graph computes, broke the IR or crashed;
    `case`, `pipeline` and `reproducer` (the written `.mlir`, once shrunk) say which."""

    def __init__(self, message: str, case: GraphCase | None = None, pipeline: str = "", reproducer: Path | None = None):
        super().__init__(message)
        self.case, self.pipeline, self.reproducer = case, pipeline, reproducer


# --- running and comparing ---------------------------------------------------------------


def outputs(model, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """A compiled model's results as a list of arrays (one output or several)."""
    out = model(*inputs)
    return [np.asarray(o) for o in (out if isinstance(out, tuple | list) else (out,))]


def mismatch(got: np.ndarray, expected: np.ndarray, tolerances: dict | None = None) -> str | None:
    """Why `got` differs from `expected`, or None when they agree (see the
    module docstring for the rule)."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return f"got {got.dtype}{list(got.shape)}, expected {expected.dtype}{list(expected.shape)}"
    if expected.dtype.kind != "f":
        bad = got != expected
        if bad.any():
            i = tuple(int(k) for k in np.argwhere(bad)[0])
            return f"{int(bad.sum())} of {bad.size} elements differ (first at {list(i)}: {got[i]} != {expected[i]})"
        return None
    rtol, atol = {**TOLERANCES, **(tolerances or {})}[expected.dtype.name]
    nan_g, nan_e = np.isnan(got), np.isnan(expected)
    with np.errstate(all="ignore"):
        close = np.abs(got.astype(np.float64) - expected) <= atol + rtol * np.abs(expected.astype(np.float64))
    inf = np.isinf(got) | np.isinf(expected)
    ok = np.where(nan_g | nan_e, nan_g & nan_e, np.where(inf, got == expected, close))
    if ok.all():
        return None
    i = tuple(int(k) for k in np.argwhere(~ok)[0])
    worst = ""
    finite = ~(nan_g | nan_e | inf)
    if finite.any() and not ok[finite].all():
        worst = f"; max abs error {np.max(np.abs(got[finite] - expected[finite].astype(np.float64))):.3g}"
    return (f"{int((~ok).sum())} of {ok.size} elements differ (first at {list(i)}: {got[i]!r} vs "
            f"expected {expected[i]!r}; rtol {rtol}, atol {atol}{worst})")


def assert_same_results(got: Sequence, expected: Sequence, where: str = "", tolerances: dict | None = None) -> None:
    """Every output agrees (see `mismatch`); the AssertionError names the output."""
    if len(got) != len(expected):
        raise AssertionError(f"{where}{len(got)} outputs, expected {len(expected)}")
    for i, (g, e) in enumerate(zip(got, expected)):
        why = mismatch(g, e, tolerances)
        if why:
            raise AssertionError(f"{where}output {i}: {why}")


def count_ops(module: ModuleOp, op: type | str) -> int:
    """How many ops of a class (or with a name such as `"hy.relu"`) `module` holds, fused regions included."""
    if isinstance(op, str):
        return sum(o.name == op for o in module.walk())
    return sum(isinstance(o, op) for o in module.walk())


# --- the differential check ------------------------------------------------------------


def run_checked(module: ModuleOp, pipeline: str) -> ModuleOp:
    """Run `pipeline` on a copy of `module`, pass by pass; after each the IR
    must verify and print to text that parses back to the same text. A failure
    is a PassCheckError naming the pass and the ones before it."""
    from hybridize.ir.dialect import make_context
    from hybridize.ir.module import parse_module, print_module
    from hybridize.passes import parse_pipeline

    module, ctx = module.clone(), make_context()
    done: list[str] = []
    for p in parse_pipeline(pipeline):
        where = f"pass '{p.name}'" + (f" (after {', '.join(done)})" if done else "")
        try:
            p.apply(ctx, module)
        except Exception as e:
            raise PassCheckError(f"{where} failed: {type(e).__name__}: {_message(e)}") from e
        try:
            module.verify()
        except Exception as e:
            raise PassCheckError(f"{where} left IR that does not verify: {_message(e)}") from e
        text = print_module(module)
        try:
            again = print_module(parse_module(text))
        except Exception as e:
            raise PassCheckError(f"{where} printed IR that does not parse back: {_first_line(e)}") from e
        if again != text:
            raise PassCheckError(f"{where} printed IR that does not print the same once parsed:\n{_diff(text, again)}")
        done.append(p.name)
    return module


def check_graph(pipeline: str, case: GraphCase, *, backends: Sequence[str] = BACKENDS, cache_dir=None,
                tolerances: dict | None = None) -> None:
    """The differential check of `pipeline` on one graph (see the module docstring)."""
    with np.errstate(all="ignore"):
        _check_graph(pipeline, case, backends, cache_dir, tolerances)


def _check_graph(pipeline, case, backends, cache_dir, tolerances):
    import hybridize

    module, inputs = case
    try:
        optimized = run_checked(module, pipeline)
    except PassCheckError as e:
        raise PassCheckError(str(e), case, pipeline) from e.__cause__
    try:
        expected = outputs(hybridize.build(module, "numpy"), inputs)
    except Exception as e:
        raise PassCheckError(f"the NumPy reference fails on the unoptimized graph: {_first_line(e)}", case, pipeline) from e
    for backend in backends:
        options = {"cache_dir": cache_dir, "progress": False} if backend == "c" else {}
        try:
            got = outputs(hybridize.build(optimized, backend, **options), inputs)
        except Exception as e:
            raise PassCheckError(f"after '{pipeline}', the {backend} backend fails: {_first_line(e)}", case, pipeline) from e
        try:
            assert_same_results(got, expected, f"after '{pipeline}', {backend} ", tolerances)
        except AssertionError as e:
            raise PassCheckError(f"{e} (the oracle: NumPy on the unoptimized graph)", case, pipeline) from None


def check_pass(pipeline: str, strategy=None, *, backends: Sequence[str] = BACKENDS, max_examples: int = 50,
               c_examples: int | None = None, reproducer_dir: str | Path = REPRODUCER_DIR, cache_dir=None,
               tolerances: dict | None = None, shrink_seconds: float = 20.0, settings=None) -> None:
    """Check on random graphs that `pipeline` keeps what they compute.

    - `strategy`: a strategy of `GraphCase`s (default `graphs()`).
    - `backends`: where the optimized graph runs (default NumPy and C).
    - `max_examples`: graphs for NumPy; `c_examples` (default a fifth of them,
      at least 5) of those also run through C.
    - `reproducer_dir`: where the shrunk failing graph is written.
    - `cache_dir`: the C compile cache (default the user's).
    - `tolerances`: `{"float32": (rtol, atol)}` to override `TOLERANCES`.
    - `shrink_seconds`: how long to look for a smaller failing graph.
    - `settings`: a `hypothesis.settings` to start from (seed, database, ...).

    Raises `PassCheckError` (an AssertionError) whose message holds the
    reproducer's text and the commands that re-run it.
    """
    from hypothesis import HealthCheck, given
    from hypothesis import settings as Settings

    from hybridize.passes import parse_pipeline

    parse_pipeline(pipeline)  # a bad spec fails here, not as a "bug" in every graph
    strategy = graphs() if strategy is None else strategy
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise ValueError(f"check_pass: unknown backend {unknown[0]!r} (backends: {', '.join(BACKENDS)})")
    c_examples = max(5, max_examples // 5) if c_examples is None else c_examples
    rounds = [(b, max_examples) for b in backends if b != "c"]
    if "c" in backends and c_examples:
        rounds.append((tuple(backends), c_examples))
    for chosen, n in rounds:
        chosen = (chosen,) if isinstance(chosen, str) else chosen
        base = Settings(settings) if settings is not None else Settings()
        run_settings = Settings(base, max_examples=n, deadline=None, report_multiple_bugs=False,
                                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                       HealthCheck.filter_too_much])

        try:
            run_settings(given(case=strategy)(_checker(pipeline, chosen, cache_dir, tolerances, shrink_seconds)))()
        except PassCheckError as e:
            if e.case is None:
                raise
            path = write_reproducer(e.case, pipeline, str(e), reproducer_dir)
            message = f"{e}\n\n{reproducer_text(e.case, pipeline, str(e), path)}"
            print(message, file=sys.stderr)
            raise PassCheckError(message, e.case, pipeline, path) from None


def _checker(pipeline, backends, cache_dir, tolerances, shrink_seconds):
    """The test hypothesis runs. Once a failure has been shrunk for
    `shrink_seconds`, graphs not seen failing pass at once: the shrinker stops
    finding smaller failures and hypothesis reports the smallest so far."""
    failed: set[tuple] = set()
    first_failure: list[float] = []

    def key(case):
        from hybridize.ir.module import print_module

        return print_module(case.module), tuple(a.tobytes() for a in case.inputs)

    def check(case):
        if first_failure and time.monotonic() - first_failure[0] > shrink_seconds and key(case) not in failed:
            return
        try:
            check_graph(pipeline, case, backends=backends, cache_dir=cache_dir, tolerances=tolerances)
        except PassCheckError:
            first_failure[:] = first_failure or [time.monotonic()]
            failed.add(key(case))
            raise

    return check


# --- reproducers ------------------------------------------------------------------------


def _plugins(pipeline: str) -> list[str]:
    """The files of the pipeline's passes that are not hybridize's own (for `--load-pass-plugin`)."""
    from hybridize.passes import PASSES, parse_pipeline

    root = Path(__file__).resolve().parent
    files = []
    for p in parse_pipeline(pipeline):
        cls = PASSES[p.name]() if p.name in PASSES else type(p)
        code = getattr(getattr(cls, "apply", None), "__code__", None)
        if code is None or code.co_filename.startswith("<"):
            continue
        src = Path(code.co_filename).resolve()
        if root not in src.parents and src.name and str(src) not in files and "site-packages" not in src.parts:
            files.append(str(src))
    return files


def _commands(pipeline: str, path: Path) -> list[str]:
    plugins = "".join(f" --load-pass-plugin {shlex.quote(f)}" for f in _plugins(pipeline))
    p, f = shlex.quote(pipeline), shlex.quote(str(path))
    return [f"opt-tool{plugins} -p {p} {f}", f"python -m hybridize.testing{plugins} -p {p} {f}"]


def reproducer_text(case: GraphCase, pipeline: str, why: str, path: Path | None = None) -> str:
    """The reproducer: the graph's IR under comments saying what failed and how to re-run it."""
    from hybridize.ir.module import print_module

    head = [f"// check_pass reproducer: the pipeline '{pipeline}' on this graph",
            *(f"// {line}" for line in why.splitlines()[:12]),
            "// inputs: " + ", ".join(f"{a.dtype}{list(a.shape)}" for a in case.inputs)]
    if path is not None:
        head += [f"// inputs saved in {path.with_suffix('.npz')}", "// re-run:"]
        head += [f"//   {c}" for c in _commands(pipeline, path)]
    return "\n".join(head) + "\n" + print_module(case.module)


def write_reproducer(case: GraphCase, pipeline: str, why: str, directory: str | Path = REPRODUCER_DIR) -> Path:
    """Write `<directory>/<pipeline>.mlir` and its inputs `.npz`; returns the `.mlir` path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", pipeline).strip("_")[:80] or "pipeline"
    path = directory / f"{slug}.mlir"
    np.savez(path.with_suffix(".npz"), *case.inputs)
    path.write_text(reproducer_text(case, pipeline, why, path))
    return path


def load_reproducer(path: str | Path) -> GraphCase:
    """The graph and inputs of a written reproducer."""
    from hybridize.ir.module import parse_module

    path = Path(path)
    module = parse_module(path.read_text(), str(path))
    with np.load(path.with_suffix(".npz")) as data:
        inputs = [data[f"arr_{i}"] for i in range(len(data.files))]
    return GraphCase(module, inputs)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m hybridize.testing -p PIPELINE repro.mlir`: re-run the differential check on a reproducer."""
    parser = argparse.ArgumentParser(prog="python -m hybridize.testing", description=main.__doc__)
    parser.add_argument("file", help="a reproducer written by check_pass (its inputs in the .npz beside it)")
    parser.add_argument("-p", "--passes", required=True, help="the pipeline, e.g. canonicalize,fuse,plan")
    parser.add_argument("--load-pass-plugin", action="append", default=[], metavar="FILE",
                        help="a Python file that registers passes (may repeat)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default numpy,c)")
    args = parser.parse_args(argv)
    import runpy

    for plugin in args.load_pass_plugin:
        runpy.run_path(plugin, run_name=Path(plugin).stem)
    case = load_reproducer(args.file)
    try:
        check_graph(args.passes, case, backends=args.backends.split(","))
    except PassCheckError as e:
        print(f"{args.file}: {e}", file=sys.stderr)
        return 1
    print(f"{args.file}: '{args.passes}' keeps the results ({', '.join(args.backends.split(','))})")
    return 0


def _first_line(e: BaseException, limit: int = 2000) -> str:
    """An error's first non-empty line (xDSL appends whole IR dumps to some)."""
    line = next((l for l in str(e).strip().splitlines() if l.strip()), type(e).__name__)
    return line if len(line) <= limit else line[:limit] + "..."


def _message(e: BaseException, lines: int = 8) -> str:
    """An error's message, without the IR dump xDSL appends to verifier errors."""
    text = [l for l in str(e).strip().splitlines() if l.strip()]
    if not text:
        return type(e).__name__
    cut = next((i for i, l in enumerate(text) if l.lstrip().startswith(("builtin.module", '"builtin.module"'))), len(text))
    return "\n".join(text[: max(1, min(cut, lines))])


def _diff(a: str, b: str) -> str:
    import difflib

    return "".join(list(difflib.unified_diff(a.splitlines(True), b.splitlines(True), "printed", "reparsed"))[:40])


__all__ = [
    "ALL_OPS",
    "BACKENDS",
    "DTYPES",
    "OP_BUILDERS",
    "TOLERANCES",
    "GraphCase",
    "PassCheckError",
    "any_graphs",
    "assert_same_results",
    "check_graph",
    "check_pass",
    "count_ops",
    "graphs",
    "load_reproducer",
    "mismatch",
    "outputs",
    "random_graph",
    "run_checked",
    "write_reproducer",
]

if __name__ == "__main__":
    sys.exit(main())
