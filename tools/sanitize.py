"""`make sanitize`: the generated C of the model zoo and of random graphs,
built with AddressSanitizer and UBSan and run as standalone programs.

Each case is optimized (`canonicalize,fuse,plan`) and lowered; its C
(`hy_forward`), the kernel library (`backends/c/library`, compiled once with
the same flags) and a small generated driver are linked into one executable
with `-fsanitize=address,undefined -fno-sanitize-recover=all -g -O1`. The
driver reads the inputs and constants from a file into buffers of exactly
their size (so any read past them is reported), calls `hy_forward` and
writes the outputs back; they must agree with the NumPy backend on the same
optimized module. Random graphs run in merged batches (`fuzzing.merge_graphs`);
a batch that is not clean is re-run graph by graph to name the culprit.

    python -m hybridize.tools.sanitize                      # the zoo and 1000 random graphs (~2 min)
    python -m hybridize.tools.sanitize --graphs 20 --no-zoo --seed 3

Outcomes: clean; dirty (a sanitizer report), mismatch (outputs differ from
NumPy), crash (any other failing exit), hang (timeout), error (no build).
Failing cases are saved under `--out` (IR, C, driver and the report).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybridize.errors import CBuildError

SANITIZE_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g", "-O1", "-fno-omit-frame-pointer")
"""Instrumentation; every report is fatal (an exit code the run can see)."""

FAILING = ("dirty", "mismatch", "crash", "hang", "error")

_ENV = {
    "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:exitcode=66",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=66",
    "OMP_WAIT_POLICY": "passive",  # two threads may share one core: no spinning
}
_SANITIZER_EXIT = 66
_FORWARD_ERROR = 80
"""The driver exits with this plus `hy_forward`'s error code (see `backends.c.ERRORS`)."""


def compile_flags() -> list[str]:
    """The kernel library's flags (`isa.target().flags`: -march, tile defines,
    OpenMP), with -O3 and -fPIC replaced by the sanitizers' -O1."""
    from hybridize.backends.c.isa import target

    return [f for f in target().flags if f not in ("-O3", "-fPIC")] + list(SANITIZE_FLAGS)


def sanitized_library(work: Path) -> Path:
    """The kernel library as one instrumented object, built once per flags and sources."""
    from hybridize.backends.c.build import LIBRARY_DIR, library_sources, library_text
    from hybridize.backends.c.isa import target

    flags = compile_flags()
    key = hashlib.sha256("\0".join([target().compiler, *flags, library_text()]).encode()).hexdigest()[:16]
    obj = work / f"hykernels-asan-{key}.o"
    if not obj.exists():
        unit = work / "hykernels-asan.c"
        unit.write_text("".join(f'#include "{p.name}"\n' for p in library_sources()))
        tmp = obj.with_suffix(".tmp.o")
        _compile([target().compiler, *flags, f"-I{LIBRARY_DIR}", "-c", str(unit), "-o", str(tmp)], "the kernel library")
        os.replace(tmp, obj)
    return obj


class BuildError(CBuildError):
    """A sanitizer build of the kernels or the generated code failed."""


def _compile(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise BuildError(f"compiling {what} failed:\n{done.stderr[-3000:]}")


def driver_source(n_in: int, n_out: int, n_const: int, dynamic: bool) -> str:
    """`main(data, sizes, threads, out)`: reads the byte size of every buffer
    (inputs, outputs, constants, arena; then the batch) from `sizes`, the
    inputs and constants from `data`, calls `hy_forward` (the signature of
    `backends.c.generate.parameters`) and writes the outputs to `out`."""
    ins = ", ".join(f"(const void *)buf[{i}]" for i in range(n_in))
    outs = ", ".join(f"(void *)buf[{n_in + i}]" for i in range(n_out))
    args = ", ".join(a for a in ["threads", "batch" if dynamic else "", ins, outs, "consts", "buf[nbuf - 1]"] if a)
    return f"""/* sanitize driver (tools/sanitize.py) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hy_forward(int, {'long, ' if dynamic else ''}{', '.join(['const void *'] * n_in + ['void *'] * n_out)}{', ' if n_in + n_out else ''}const void *const *, void *);

static FILE *open_or_die(const char *path, const char *mode)
{{
    FILE *f = fopen(path, mode);
    if (!f) {{ perror(path); exit(2); }}
    return f;
}}

int main(int argc, char **argv)
{{
    if (argc != 5) {{ fprintf(stderr, "usage: %s data sizes threads out\\n", argv[0]); return 2; }}
    enum {{ nbuf = {n_in + n_out + n_const + 1} }};
    long size[nbuf], batch = 0;
    char *buf[nbuf];
    FILE *s = open_or_die(argv[2], "rb");
    if (fread(size, sizeof(long), nbuf, s) != nbuf || fread(&batch, sizeof(long), 1, s) != 1) return 2;
    fclose(s);
    FILE *d = open_or_die(argv[1], "rb");
    for (int i = 0; i < nbuf; ++i) {{
        /* exactly the buffer's bytes (64-byte aligned, as packed weights need): a read past it is reported */
        void *p = 0;
        if (posix_memalign(&p, 64, size[i] ? (size_t)size[i] : 1)) return 2;
        buf[i] = p;
        const int is_input = i < {n_in} || (i >= {n_in + n_out} && i < nbuf - 1);
        if (is_input && size[i] && fread(buf[i], 1, (size_t)size[i], d) != (size_t)size[i]) return 2;
    }}
    fclose(d);
    const void *consts[{max(n_const, 1)}] = {{ 0 }};
    for (int i = 0; i < {n_const}; ++i) consts[i] = buf[{n_in + n_out} + i];
    const int threads = atoi(argv[3]);
    (void)batch;
    const int rc = hy_forward({args});
    if (rc) return {_FORWARD_ERROR} + rc;
    FILE *o = open_or_die(argv[4], "wb");
    for (int i = {n_in}; i < {n_in + n_out}; ++i) fwrite(buf[i], 1, (size_t)size[i], o);
    fclose(o);
    return 0;
}}
"""


@dataclass
class Outcome:
    outcome: str
    detail: str = ""
    bad_outputs: list[int] = field(default_factory=list)


def run_module(module, inputs: list[np.ndarray], work: Path, library: Path, *, threads: int = 2,
               timeout: float = 120.0) -> Outcome:
    """Build `module`'s C with the sanitizers, run it on `inputs` and compare with NumPy."""
    import hybridize
    from hybridize.backends import c
    from hybridize.backends.c.build import LIBRARY_DIR
    from hybridize.backends.c.isa import target
    from hybridize.backends.program import lower
    from hybridize.ir.types import DYNAMIC, numpy_dtype, shape_of
    from hybridize.tools.fuzzing import agree

    try:
        optimized = hybridize.optimize(module)
        prog = lower(optimized)
        source = c.generate(prog)
    except Exception as e:  # a generation failure is the fuzzer's business; say so and go on
        return Outcome("error", f"generating C failed: {type(e).__name__}: {e}")
    try:
        with np.errstate(all="ignore"):
            ref = hybridize.build(optimized, "numpy")(*inputs)
    except Exception as e:
        return Outcome("skipped", f"the NumPy reference raised {type(e).__name__}: {e}")
    from hybridize.tools.zoo import tensors_of

    ref = tensors_of(ref)  # a model's outputs keep their structure (ModelOutput, dict, tuples)
    batch = inputs[prog.batch_source[0]].shape[prog.batch_source[1]] if prog.dynamic else 1
    arrays = [np.ascontiguousarray(a) for a in inputs]
    outs = [(tuple(batch if d == DYNAMIC else d for d in shape_of(v)), numpy_dtype(v)) for v in prog.outputs]
    consts = [np.ascontiguousarray(k) for k in source.constants]
    sizes = [a.nbytes for a in arrays] + [int(np.prod(s)) * d.itemsize for s, d in outs] + [k.nbytes for k in consts]
    sizes.append(prog.arena_bytes(batch))
    work.mkdir(parents=True, exist_ok=True)
    (work / "model.c").write_text(source.text)
    (work / "driver.c").write_text(driver_source(len(arrays), len(outs), len(consts), prog.dynamic))
    (work / "model.mlir").write_text(hybridize.print_module(module))
    (work / "sizes.bin").write_bytes(np.array([*sizes, batch], np.int64).tobytes())
    (work / "data.bin").write_bytes(b"".join(a.tobytes() for a in [*arrays, *consts]))
    exe = work / "model"
    try:
        _compile([target().compiler, *compile_flags(), "-Wno-unused-variable", "-Wno-unused-but-set-variable",
                  f"-I{LIBRARY_DIR}", str(work / "model.c"), str(work / "driver.c"), str(library), "-o", str(exe),
                  "-lm"], "the model")
    except (BuildError, subprocess.TimeoutExpired) as e:
        return Outcome("error", str(e))
    try:
        done = subprocess.run([str(exe), str(work / "data.bin"), str(work / "sizes.bin"), str(threads),
                               str(work / "out.bin")],
                              capture_output=True, text=True, timeout=timeout, env={**os.environ, **_ENV})
    except subprocess.TimeoutExpired:
        return Outcome("hang", f"no exit within {timeout:.0f} s")
    report = done.stderr[-6000:]
    if done.returncode == _SANITIZER_EXIT or "runtime error:" in report or "Sanitizer" in report:
        return Outcome("dirty", report)
    if done.returncode > _FORWARD_ERROR:
        code = done.returncode - _FORWARD_ERROR
        return Outcome("mismatch", f"hy_forward returned {code} ({c.ERRORS.get(code, '?')}); NumPy ran")
    if done.returncode:
        return Outcome("crash", f"exit status {done.returncode}\n{report}")
    data = (work / "out.bin").read_bytes()
    got, at = [], 0
    for s, d in outs:
        n = int(np.prod(s)) * d.itemsize
        got.append(np.frombuffer(data[at : at + n], d).reshape(s))
        at += n
    bad = [i for i, (r, g) in enumerate(zip(ref, got)) if not agree(np.asarray(r), g)]
    if bad:
        return Outcome("mismatch", f"outputs {bad} differ from NumPy", bad)
    return Outcome("clean")


# --- corpora ------------------------------------------------------------------


def merge(cases: list):
    """One module computing every case side by side: (module, inputs).
    (`fuzzing.merge_graphs` with today's xDSL API: `replace_all_uses_with`.)"""
    from xdsl.dialects.builtin import ModuleOp
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.ir import Block, Region

    from hybridize.ir.module import forward_func

    block = Block()
    inputs, outputs = [], []
    for case in cases:
        old = forward_func(case.module.clone()).body.block
        for arg in list(old.args):
            arg.replace_all_uses_with(block.insert_arg(arg.type, len(block.args)))
        ret = old.last_op
        outputs += list(ret.operands)
        for op in list(old.ops):
            if op is not ret:
                op.detach()
                block.add_op(op)
        inputs += case.inputs
    block.add_op(ReturnOp(*outputs))
    func = FuncOp("forward", ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    return ModuleOp([func]), inputs


def zoo_cases(names: Sequence[str] | None = None):
    """(name, module, inputs) of each zoo model, at batch 1 and with a dynamic batch run at 2."""
    import hybridize
    from hybridize.tools.zoo import MODELS

    for name, make in MODELS.items():
        if names and name not in names:
            continue
        try:
            net, args = make()
        except ImportError as e:  # transformers missing: say so, do not fail
            print(f"sanitize: skipping {name}: {e}", file=sys.stderr)
            continue
        inputs = [a.numpy() for a in args]
        yield name, hybridize.trace(net, *args), inputs
        yield f"{name}[batch ?=2]", hybridize.trace(net, *args, dynamic_batch=True), [np.concatenate([a, a]) for a in inputs]


@dataclass
class Report:
    counts: dict[str, Counter] = field(default_factory=dict)
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)  # corpus, case, outcome, saved at

    def add(self, corpus: str, outcome: str, n: int = 1) -> None:
        self.counts.setdefault(corpus, Counter())[outcome] += n

    def failing(self) -> int:
        return sum(c[o] for c in self.counts.values() for o in FAILING)

    def table(self) -> str:
        cols = ["clean", *FAILING, "skipped"]
        cols = [o for o in cols if o == "clean" or any(c[o] for c in self.counts.values())]
        rows = [["corpus", "cases", *cols]]
        rows += [[k, str(sum(c.values())), *(str(c[o]) for o in cols)] for k, c in self.counts.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in rows]
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(lines)


def _keep(out: Path, report: Report, corpus: str, case: str, result: Outcome, work: Path) -> None:
    folder = out / corpus / result.outcome / "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in case)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("model.mlir", "model.c", "driver.c"):
        if (work / name).exists():
            os.replace(work / name, folder / name)
    (folder / "report.txt").write_text(f"{case}: {result.outcome}\n{result.detail}\n")
    report.failures.append((corpus, case, result.outcome, str(folder)))


def run(out: Path, *, graphs: int = 1000, seed: int = 0, models: Sequence[str] | None = None, zoo: bool = True,
        batch: int = 25, threads: int = 2, timeout: float = 120.0, log=print) -> Report:
    """The zoo's `models` (all by default; none with `zoo=False`) and `graphs`
    random graphs from `seed`; the failing cases of an earlier run in `out` go."""
    import shutil

    from hybridize.ir.strategies import random_graph

    out.mkdir(parents=True, exist_ok=True)
    for corpus in ("zoo", "graphs"):
        shutil.rmtree(out / corpus, ignore_errors=True)
    work = out / "work"
    library = sanitized_library(out)
    report = Report()
    if zoo:
        for name, module, inputs in zoo_cases(models):
            start = time.monotonic()
            result = run_module(module, inputs, work, library, threads=threads, timeout=timeout)
            report.add("zoo", result.outcome)
            log(f"  zoo {name}: {result.outcome} ({time.monotonic() - start:.1f} s)")
            if result.outcome in FAILING:
                _keep(out, report, "zoo", name, result, work)
    rng = random.Random(seed)
    seeds = [rng.getrandbits(32) for _ in range(graphs)]
    for first in range(0, len(seeds), batch):
        chunk = seeds[first : first + batch]
        cases = [random_graph(random.Random(s)) for s in chunk]
        module, inputs = merge(cases)
        result = run_module(module, inputs, work, library, threads=threads, timeout=timeout)
        if result.outcome == "clean":
            report.add("graphs", "clean", len(chunk))
            continue
        log(f"  graphs {first}..{first + len(chunk) - 1}: {result.outcome}; one by one")
        for s, case in zip(chunk, cases):
            one = run_module(case.module, case.inputs, work, library, threads=threads, timeout=timeout)
            report.add("graphs", one.outcome)
            if one.outcome in FAILING:
                _keep(out, report, "graphs", f"random_graph(random.Random({s}))", one, work)
    return report


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="sanitize", description=__doc__.split("\n\n")[0])
    p.add_argument("--graphs", type=int, default=1000, help="random graphs (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-zoo", action="store_true", help="skip the model zoo")
    p.add_argument("--batch", type=int, default=25, help="random graphs merged into one program (default 25)")
    p.add_argument("--threads", type=int, default=2, help="hy_threads of every call (default 2)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per program run (default 120)")
    p.add_argument("--out", default="build/sanitize", help="folder for the failing cases (default build/sanitize)")
    args = p.parse_args(argv)
    start = time.monotonic()
    report = run(Path(args.out), graphs=args.graphs, seed=args.seed, zoo=not args.no_zoo, batch=args.batch,
                 threads=args.threads, timeout=args.timeout)
    print(f"sanitize: seed {args.seed}, {time.monotonic() - start:.0f} s, flags {' '.join(SANITIZE_FLAGS)}")
    print(report.table())
    for corpus, case, outcome, folder in report.failures[:30]:
        print(f"  {corpus} {outcome}: {case} -> {folder}")
    bad = report.failing()
    print(f"{bad} dirty or failing cases" if bad else "all clean")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
