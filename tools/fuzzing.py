"""The fuzzing harness behind `make fuzz` (CLI: `tools/fuzz.py`).

Three corpora, each run for a share of a time budget (or a fixed count):

- `ir`: mutants of IR text (the golden `.mlir` tests and printed random graphs,
  planned or not) through `opt-tool` with a random pipeline and target.
  Mutations: truncations, byte flips, non-UTF-8 bytes, span deletion and
  duplication, token swaps, hostile tokens (huge, negative and zero dims,
  out-of-range literals, unknown types), deep nesting, shuffled lines
  (use before definition) and corrupted memory plans.
- `mxnet`: mutants of an MXNet `-symbol.json` and its `.params` through
  `opt-tool --input-shape ... --params ...`.
- `graphs`: valid random graphs over every op and dtype
  (`hybridize.ir.strategies.random_graph`), run by the NumPy reference, by
  NumPy after `canonicalize,fuse,plan` and by C after it; any difference is a
  `mismatch`. Graphs are batched into one module per C build (compiling is
  the slow part); a failing batch is re-run graph by graph to name the culprit.

Inputs run in a worker process (`python -m hybridize.tools.fuzzing --worker`)
under an address-space limit (`resource.setrlimit`); a reply that does not come
within the timeout is a `hang` and a worker that dies is a `signal`; the worker
is restarted. Every run ends in one outcome class:

| class       | meaning                                                          |
|-------------|------------------------------------------------------------------|
| `ok`        | a result (exit 0; for graphs: all backends agree)                |
| `error`     | a clean error naming `file:line:col` (or the model file), exit 1 |
| `unlocated` | a clean error that does not say where                            |
| `internal`  | opt-tool's one-line internal error (exit 70): a bug              |
| `traceback` | an exception escaped (a Python traceback)                        |
| `hang`      | no answer within the timeout                                     |
| `signal`    | the process died (SIGSEGV, SIGFPE, SIGBUS, ...)                  |
| `oom`       | MemoryError under the address-space limit                        |
| `unstable`  | backends disagree only where the reference itself is unstable    |
| `mismatch`  | backends disagree on a valid graph                               |

A disagreement is a `mismatch` unless the graph is ill-conditioned at that
input: compiled code may reassociate (fused loops, GEMM blocking, FMA
contraction, vector math), which moves results by a few ulps, and a
comparison of two nearly equal values or a sum of huge terms that cancel
turns a few ulps into anything. So a disagreement is re-checked against the
reference run on the same graph with its float inputs and constants
perturbed by a few ulps (`PERTURBATIONS` runs): if, at every disagreeing
element, the backend's value lies within what those perturbed references
give, the case is `unstable`, which is reported but is no failure.

The failing inputs are saved under the output folder, one file per case.
"""

from __future__ import annotations

import json
import os
import random
import re
import select
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

OUTCOMES = ("ok", "error", "unlocated", "internal", "traceback", "hang", "signal", "oom", "unstable", "mismatch")
FAILURES = ("internal", "traceback", "hang", "signal", "oom", "mismatch")

FUZZ_MAX_TENSOR_BYTES = 64 << 20
"""The fuzzer runs opt-tool with this `--max-tensor-bytes`, well under the
worker's address-space limit, so a refused size is an `error`, not an `oom`."""
WORKER_MEMORY = 3 << 30
ROOT = Path(__file__).resolve().parent.parent


# --- mutators -----------------------------------------------------------------

HOSTILE_TOKENS = [
    "99999999999999999999", "-1", "0", "-0", "2147483648", "4294967296", "9223372036854775807",
    "-9223372036854775808", "1.0e39", "-1.0e39", "1e-50", "nan", "inf", "0x7FC00000", "?",
    "complex<f32>", "f16", "bf16", "i8", "ui8", "index", "i1", "i64", "f64", "none",
    "tensor<*xf32>", "tensor<?x?xf32>", "tensor<0xf32>", "tensor<4294967296x4294967296xf32>",
    "tensor<2147483648xf32>", "memref<2xf32>", "vector<4xf32>", '"', '"\\', "\\", "[" * 300, "{" * 300,
    "%undefined", "%0", "^bb1:", "^bb0(%a: tensor<2xf32>):", "func.return", "hy.yield", "hy.fused",
    "dense<0.0>", 'dense<"0xDEADBEEF">', "dense<[1.0, 2.0]>", "dense<>", "#hy.buf<offset 999999, bytes 4, live 1 to 1>",
    "#hy.buf<offset 3, bytes 4, live 1 to 99, inplace 0>", "#hy.arena<bytes 0, lower_bound 0, no_reuse 0>",
    "{hy.buf = #hy.buf<offset 0, bytes 4, live 1 to 3>}", "hy.div", "hy.cast", "hy.take", "perm [1, 0]",
    "starts [0, 99999999999] steps [0, 1]", "axis 99", "axes [5]", "\u00e9", "\x00", "//", "// -----",
]
_TOKEN = re.compile(rb'"(?:[^"\\\n]|\\.)*"|[%^@#!]?[A-Za-z_][\w.$-]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\s+|.', re.S)
_DIMS = re.compile(rb"(?<=[<x])\d+(?=x)")
_PLAN_NUMBER = re.compile(rb"#hy\.(?:buf|arena)<[^>]*")


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random mutations of `data` (see the module docstring)."""
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        data = rng.choice(_MUTATIONS)(data, rng)
    return data


def _truncate(d: bytes, rng) -> bytes:
    return d[: rng.randrange(len(d) + 1)]


def _flip(d: bytes, rng) -> bytes:
    if not d:
        return d
    i = rng.randrange(len(d))
    return d[:i] + bytes([rng.randrange(256)]) + d[i + 1 :]


def _non_utf8(d: bytes, rng) -> bytes:
    i = rng.randrange(len(d) + 1)
    return d[:i] + rng.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\xfe\xff"]) + d[i:]


def _delete_span(d: bytes, rng) -> bytes:
    if not d:
        return d
    i = rng.randrange(len(d))
    return d[:i] + d[i + rng.randint(1, 40) :]


def _duplicate_span(d: bytes, rng) -> bytes:
    if not d:
        return d
    i = rng.randrange(len(d))
    j = min(len(d), i + rng.randint(1, 200))
    k = rng.randrange(len(d) + 1)
    return d[:k] + d[i:j] + d[k:]


def _tokens(d: bytes) -> list[bytes]:
    return _TOKEN.findall(d)


def _swap_tokens(d: bytes, rng) -> bytes:
    toks = _tokens(d)
    real = [i for i, t in enumerate(toks) if not t.isspace()]
    if len(real) < 2:
        return d
    i, j = rng.sample(real, 2)
    toks[i], toks[j] = toks[j], toks[i]
    return b"".join(toks)


def _hostile_token(d: bytes, rng) -> bytes:
    toks = _tokens(d)
    real = [i for i, t in enumerate(toks) if not t.isspace()]
    if not real:
        return d + rng.choice(HOSTILE_TOKENS).encode()
    i = rng.choice(real)
    toks[i] = rng.choice(HOSTILE_TOKENS).encode()
    return b"".join(toks)


def _dims(d: bytes, rng) -> bytes:
    spots = list(_DIMS.finditer(d))
    if not spots:
        return _hostile_token(d, rng)
    m = rng.choice(spots)
    new = rng.choice([b"0", b"1", b"-3", b"2147483648", b"4294967296", b"99999999999", b"9223372036854775807", b"?"])
    return d[: m.start()] + new + d[m.end() :]


def _nesting(d: bytes, rng) -> bytes:
    i = rng.randrange(len(d) + 1)
    return d[:i] + rng.choice([b"[", b"(", b"{", b"<", b"tensor<"]) * rng.choice([50, 200, 5000]) + d[i:]


def _shuffle_lines(d: bytes, rng) -> bytes:
    lines = d.split(b"\n")
    if len(lines) < 3:
        return d
    i, j = rng.sample(range(len(lines)), 2)
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def _corrupt_plan(d: bytes, rng) -> bytes:
    spots = list(_PLAN_NUMBER.finditer(d))
    if not spots:
        return _dims(d, rng)
    m = rng.choice(spots)
    nums = list(re.finditer(rb"\d+", m.group()))
    if not nums:
        return d
    n = rng.choice(nums)
    value = rng.choice([b"0", b"1", b"3", b"64", b"999999999", str(int(n.group()) + rng.choice([-64, -4, 4, 64])).encode()])
    start = m.start() + n.start()
    return d[:start] + value + d[m.start() + n.end() :]


_MUTATIONS = [
    _truncate, _flip, _flip, _non_utf8, _delete_span, _duplicate_span, _swap_tokens, _swap_tokens,
    _hostile_token, _hostile_token, _hostile_token, _dims, _dims, _nesting, _shuffle_lines, _corrupt_plan, _corrupt_plan,
]


# --- seeds --------------------------------------------------------------------


def ir_seeds(rng: random.Random, n_graphs: int = 40) -> list[bytes]:
    """The golden IR tests (split at `// -----`) and printed random graphs,
    half of them planned."""
    from hybridize.ir.module import print_module
    from hybridize.ir.strategies import random_graph
    from hybridize.passes import run_pipeline

    seeds = []
    for path in sorted((ROOT / "tests" / "filecheck").rglob("*.mlir")):
        for chunk in path.read_bytes().split(b"// -----"):
            if b"func.func" in chunk:
                seeds.append(chunk)
    for _ in range(n_graphs):
        case = random_graph(random.Random(rng.getrandbits(32)))
        module = case.module
        if rng.random() < 0.5:
            try:
                module = run_pipeline(module.clone(), rng.choice(["plan", "canonicalize,fuse,plan"]))
            except Exception:
                pass
        seeds.append(print_module(module).encode())
    return seeds


PIPELINES = [[], ["-p", "canonicalize"], ["-p", "canonicalize,fuse,plan"], ["-t", "numpy"], ["-t", "c"],
             ["-p", "canonicalize,fuse,plan", "-t", "c"], ["-p", "plan", "-t", "numpy"], ["-p", "cse,dce,fuse"]]


def mxnet_seed() -> tuple[bytes, bytes, str]:
    """(symbol.json, .params, input shape) of a small conv + MLP model."""
    import numpy as np

    from hybridize.frontends.mxnet_params import dump_params

    def var(name):
        return {"op": "null", "name": name, "inputs": []}

    nodes = [
        var("data"), var("conv_weight"), var("conv_bias"),
        {"op": "Convolution", "name": "conv", "attrs": {"kernel": "(3, 3)", "num_filter": "4", "pad": "(1, 1)"},
         "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]},
        {"op": "Activation", "name": "relu", "attrs": {"act_type": "relu"}, "inputs": [[3, 0, 0]]},
        {"op": "Pooling", "name": "pool", "attrs": {"kernel": "(2, 2)", "stride": "(2, 2)", "pool_type": "max"},
         "inputs": [[4, 0, 0]]},
        {"op": "Flatten", "name": "flat", "inputs": [[5, 0, 0]]},
        var("fc_weight"), var("fc_bias"),
        {"op": "FullyConnected", "name": "fc", "attrs": {"num_hidden": "3"}, "inputs": [[6, 0, 0], [7, 0, 0], [8, 0, 0]]},
        {"op": "softmax", "name": "out", "attrs": {"axis": "-1"}, "inputs": [[9, 0, 0]]},
    ]
    symbol = {
        "nodes": nodes,
        "arg_nodes": [0, 1, 2, 7, 8],
        "node_row_ptr": list(range(len(nodes) + 1)),
        "heads": [[10, 0, 0]],
        "attrs": {"mxnet_version": ["int", 10901]},
    }
    rng = np.random.default_rng(0)
    params = {
        "arg:conv_weight": rng.standard_normal((4, 2, 3, 3)).astype(np.float32),
        "arg:conv_bias": rng.standard_normal(4).astype(np.float32),
        "arg:fc_weight": rng.standard_normal((3, 16)).astype(np.float32),
        "arg:fc_bias": rng.standard_normal(3).astype(np.float32),
    }
    return json.dumps(symbol, indent=1).encode(), dump_params(params), "1x2x4x4"


# --- the worker ---------------------------------------------------------------


def _run_opt_tool(args: list[str]) -> dict:
    import contextlib
    import io
    import traceback

    from hybridize.tools import opt_tool

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = opt_tool.main(args)
    except SystemExit as e:  # argparse
        rc = e.code if isinstance(e.code, int) else 2
    except MemoryError:
        return {"rc": -1, "stderr": "MemoryError", "outcome": "oom"}
    except BaseException:
        return {"rc": -1, "stderr": traceback.format_exc()[-3000:], "outcome": "traceback"}
    text = err.getvalue()  # keep the first line (what `classify_opt` reads) and the end
    return {"rc": rc, "stderr": text if len(text) <= 3000 else text[:2000] + "\n...\n" + text[-1000:]}


def _worker() -> None:
    import gc
    import resource
    import warnings

    warnings.simplefilter("ignore")
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))
    gc.freeze()
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "opt":
            reply = _run_opt_tool(request["args"])
        elif request["op"] == "graphs":
            reply = {"results": run_graph_batch(request["seeds"], request["cache"])}
        else:
            reply = {"error": f"unknown request {request['op']}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


class Worker:
    """A worker process; `call` returns its reply, or `{"outcome": "hang"}` /
    `{"outcome": "signal"}` (then the worker is replaced)."""

    def __init__(self):
        self.proc = None

    def _start(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT.parent) + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hybridize.tools.fuzzing", "--worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )

    def call(self, request: dict, timeout: float) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            return {"outcome": "hang"}
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            self.proc = None
            return {"outcome": "signal", "stderr": f"worker died with exit status {rc}"}
        return json.loads(line)

    def close(self):
        if self.proc is not None:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait()
            self.proc = None


_LOCATED = re.compile(r"^\S+:\d+:\d+: error: ")


def classify_opt(reply: dict, path: str, model_file: bool = False) -> str:
    if "outcome" in reply:
        return reply["outcome"]
    rc, err = reply["rc"], reply["stderr"]
    if "Traceback (most recent call last)" in err:
        return "traceback"
    if rc == 0:
        return "ok"
    if rc == 70:
        return "internal"
    if "out of memory" in err:
        return "oom"
    first = err.strip().splitlines()[0] if err.strip() else ""
    if model_file:
        return "error" if path in first or os.path.basename(path) in first else "unlocated"
    return "error" if _LOCATED.match(first) else "unlocated"


# --- random graphs through every backend --------------------------------------


def merge_graphs(cases: list) -> tuple:
    """One module computing every case side by side: (module, inputs, owner of each output)."""
    from xdsl.dialects.builtin import ModuleOp
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.ir import Block, Region

    from hybridize.ir.module import forward_func

    block = Block()
    inputs, outputs, owners = [], [], []
    for k, case in enumerate(cases):
        func = forward_func(case.module.clone())
        old = func.body.block
        for arg in list(old.args):
            arg.replace_all_uses_with(block.insert_arg(arg.type, len(block.args)))
        ret = old.last_op
        outputs += list(ret.operands)
        owners += [k] * len(ret.operands)
        for op in list(old.ops):
            if op is ret:
                continue
            op.detach()
            block.add_op(op)
        inputs += case.inputs
    block.add_op(ReturnOp(*outputs))
    func = FuncOp("forward", ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    return ModuleOp([func]), inputs, owners


def agree(a, b) -> bool:
    """Equal up to float rounding; NaN where NaN, infinities of the same sign."""
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    fa, fb = np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0)
    inf = np.isinf(fa) | np.isinf(fb)
    if not np.array_equal(fa[inf], fb[inf]):
        return False
    tol = 1e-3 if a.dtype == np.float32 else 1e-7
    with np.errstate(all="ignore"):
        return bool(np.all(np.abs(fa[~inf] - fb[~inf]) <= tol * (1 + np.abs(fb[~inf]))))


def disagreeing(a, b):
    """Boolean mask of the elements where `a` and `b` disagree (as `agree`)."""
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind != "f":
        return a != b
    with np.errstate(all="ignore"):
        nan = np.isnan(a) != np.isnan(b)
        fa, fb = np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0)
        inf = np.isinf(fa) | np.isinf(fb)
        tol = 1e-3 if a.dtype == np.float32 else 1e-7
        far = ~inf & (np.abs(fa - fb) > tol * (1 + np.abs(fb)))
    return nan | (inf & (fa != fb)) | far


PERTURBATIONS = 12
"""Reference runs with perturbed inputs and constants per disagreement."""


def perturbed(module, inputs: list, rng, ulps: float = 4.0) -> tuple:
    """The module and inputs with every float value scaled by 1 + u, |u| <= ulps * eps."""
    import numpy as np
    from xdsl.rewriter import Rewriter

    from hybridize.ir.structure import ConstantOp

    draw = np.random.default_rng(rng.getrandbits(64))  # seeded by the caller's rng: reproducible

    def nudge(a):
        a = np.asarray(a)
        if a.dtype.kind != "f" or a.size == 0:
            return a
        u = draw.uniform(-ulps, ulps, a.shape) * np.finfo(a.dtype).eps
        with np.errstate(all="ignore"):
            return (a * (1 + u)).astype(a.dtype)

    module = module.clone()
    for op in [op for op in module.walk() if isinstance(op, ConstantOp)]:
        value = op.numpy()
        if value.dtype.kind == "f":
            Rewriter.replace_op(op, ConstantOp(nudge(value)))
    return module, [nudge(x) for x in inputs]


def ill_conditioned(module, inputs: list, ref: list, got: list, rng) -> bool:
    """True if every disagreement of `got` with `ref` is within what the
    reference gives for ulp-perturbed inputs and constants."""
    import numpy as np

    import hybridize

    masks = [disagreeing(r, g) for r, g in zip(ref, got)]
    runs = []
    for _ in range(PERTURBATIONS):
        m, xs = perturbed(module, inputs, rng)
        runs.append(_outputs(hybridize.build(m, "numpy"), xs))
    for i, (r, g, mask) in enumerate(zip(ref, got, masks)):
        if not mask.any():
            continue
        g, alts = np.asarray(g)[mask], [np.asarray(run[i])[mask] for run in runs]
        if g.dtype.kind != "f":
            if not np.all(np.any([alt == g for alt in alts], axis=0)):
                return False
            continue
        with np.errstate(all="ignore"):
            stack = np.stack([np.asarray(r)[mask], *alts]).astype(np.float64)
            lo, hi = np.nanmin(stack, axis=0), np.nanmax(stack, axis=0)
            spread = hi - lo
            inside = (g >= lo - spread) & (g <= hi + spread) & (spread > 0)
            inside |= np.isnan(g) & np.any(np.isnan(stack), axis=0)
        if not np.all(inside):
            return False
    return True


def _outputs(model, inputs) -> list:
    import numpy as np

    out = model(*inputs)
    return [np.asarray(o) for o in (out if isinstance(out, list | tuple) else [out])]


def run_graph_batch(seeds: list[int], cache_dir: str) -> list[dict]:
    """Outcome of each seed's random graph through NumPy (reference), NumPy
    after the default pipeline and C after it."""
    import hybridize
    from hybridize.ir.strategies import random_graph

    cases = [random_graph(random.Random(s)) for s in seeds]

    def check(module, inputs, owners, n):
        ref = _outputs(hybridize.build(module, "numpy"), inputs)
        optimized = hybridize.optimize(module)
        got = {
            "numpy": _outputs(hybridize.build(optimized, "numpy"), inputs),
            "c": _outputs(hybridize.build(optimized, "c", cache_dir=cache_dir), inputs),
        }
        bad = [""] * n
        for backend, outs in got.items():
            for i, (r, o) in enumerate(zip(ref, outs)):
                if not agree(r, o):
                    bad[owners[i]] = bad[owners[i]] or f"{backend} output {i} differs from the NumPy reference"
        if n == 1 and bad[0]:  # one graph: is the reference itself unstable there?
            rng = random.Random(0)
            if all(ill_conditioned(module, inputs, ref, outs, rng) for outs in got.values()):
                return ["unstable: " + bad[0]]
        return bad

    try:
        module, inputs, owners = merge_graphs(cases)
        bad = check(module, inputs, owners, len(cases))
        if not any(bad):
            return [{"outcome": "ok"} for _ in cases]
    except MemoryError:
        pass
    except Exception:
        pass
    results = []
    import traceback

    for case in cases:  # name the culprit
        try:
            from hybridize.ir.module import forward_func

            n_out = len(forward_func(case.module).body.block.last_op.operands)
            (why,) = check(case.module, case.inputs, [0] * n_out, 1)
            outcome = "ok" if not why else "unstable" if why.startswith("unstable: ") else "mismatch"
            results.append({"outcome": outcome, "detail": why} if why else {"outcome": "ok"})
        except MemoryError:
            results.append({"outcome": "oom"})
        except Exception:
            results.append({"outcome": "traceback", "detail": traceback.format_exc()[-2000:]})
    return results


# --- campaigns ----------------------------------------------------------------


@dataclass
class Report:
    counts: dict[str, Counter] = field(default_factory=dict)
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # corpus, outcome, saved file

    def add(self, corpus: str, outcome: str) -> None:
        self.counts.setdefault(corpus, Counter())[outcome] += 1

    def failures(self) -> int:
        return sum(c[o] for c in self.counts.values() for o in FAILURES)

    def table(self) -> str:
        cols = [o for o in OUTCOMES if any(c[o] for c in self.counts.values())]
        rows = [["corpus", "runs", *cols]]
        for corpus, c in self.counts.items():
            rows.append([corpus, str(sum(c.values())), *(str(c[o]) for o in cols)])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in rows]
        lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(lines)


def _save(out: Path, report: Report, corpus: str, outcome: str, n: int, files: dict[str, bytes], detail: str):
    folder = out / corpus / outcome
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, data in files.items():
        (folder / f"{n}{suffix}").write_bytes(data)
    (folder / f"{n}.txt").write_text(detail)
    report.examples.append((corpus, outcome, str(folder / f"{n}.txt")))


def fuzz_ir(worker: Worker, rng: random.Random, report: Report, out: Path, *, count=None, deadline=None,
            timeout=10.0) -> None:
    seeds = ir_seeds(rng)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    n = 0
    while (count is None or n < count) and (deadline is None or time.monotonic() < deadline):
        data = mutate(rng.choice(seeds), rng)
        path = work / "mutant.mlir"
        path.write_bytes(data)
        args = [*rng.choice(PIPELINES), "--max-tensor-bytes", str(FUZZ_MAX_TENSOR_BYTES), str(path)]
        reply = worker.call({"op": "opt", "args": args}, timeout)
        outcome = classify_opt(reply, str(path))
        report.add("ir", outcome)
        if outcome in FAILURES or outcome == "unlocated":
            _save(out, report, "ir", outcome, n, {".mlir": data}, " ".join(args[:-1]) + "\n" + reply.get("stderr", ""))
        n += 1


def _mutate_params(data: bytes, rng: random.Random) -> bytes:
    import struct

    r = rng.random()
    if r < 0.4 and len(data) > 32:  # a header or shape field set to something hostile
        i = rng.randrange(0, min(len(data) - 8, 200)) & ~3
        value = rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 1 << 40, (1 << 63) - 1])
        return data[:i] + struct.pack("<Q", value) + data[i + 8 :]
    return mutate(data, rng)


def fuzz_mxnet(worker: Worker, rng: random.Random, report: Report, out: Path, *, count=None, deadline=None,
               timeout=10.0) -> None:
    symbol, params, shape = mxnet_seed()
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    n = 0
    while (count is None or n < count) and (deadline is None or time.monotonic() < deadline):
        sym, par = symbol, params
        which = rng.random()
        if which < 0.5:
            sym = mutate(sym, rng)
        elif which < 0.9:
            par = _mutate_params(par, rng)
        else:
            sym, par = mutate(sym, rng), _mutate_params(par, rng)
        sym_path, par_path = work / "net-symbol.json", work / "net-0000.params"
        sym_path.write_bytes(sym)
        par_path.write_bytes(par)
        input_shape = shape if rng.random() < 0.9 else rng.choice(["0x2x4x4", "1x2x99999x99999", "1x3x4x4", "1"])
        args = [*rng.choice(PIPELINES), "--input-shape", input_shape, "--params", str(par_path), str(sym_path)]
        reply = worker.call({"op": "opt", "args": args}, timeout)
        outcome = classify_opt(reply, str(sym_path), model_file=True)
        if outcome == "unlocated" and (str(par_path) in reply.get("stderr", "") or "--input-shape" in reply.get("stderr", "")):
            outcome = "error"  # names the params file or the bad option
        report.add("mxnet", outcome)
        if outcome in FAILURES or outcome == "unlocated":
            _save(out, report, "mxnet", outcome, n, {"-symbol.json": sym, ".params": par},
                  " ".join(args) + "\n" + reply.get("stderr", ""))
        n += 1


def fuzz_graphs(worker: Worker, rng: random.Random, report: Report, out: Path, *, count=None, deadline=None,
                batch: int = 25, timeout=300.0) -> None:
    cache = out / "c-cache"
    n = 0
    while (count is None or n < count) and (deadline is None or time.monotonic() < deadline):
        size = batch if count is None else min(batch, count - n)
        seeds = [rng.getrandbits(32) for _ in range(size)]
        reply = worker.call({"op": "graphs", "seeds": seeds, "cache": str(cache)}, timeout)
        if "results" in reply:
            results = reply["results"]
        else:  # the batch hung or killed the worker: find which graphs do, one by one
            results = []
            for s in seeds:
                r = worker.call({"op": "graphs", "seeds": [s], "cache": str(cache)}, timeout)
                results += r.get("results") or [{"outcome": r.get("outcome", "traceback"), "detail": str(r)}]
        for seed, r in zip(seeds, results):
            report.add("graphs", r["outcome"])
            if r["outcome"] in FAILURES:
                from hybridize.ir.module import print_module
                from hybridize.ir.strategies import random_graph

                text = print_module(random_graph(random.Random(seed)).module).encode()
                _save(out, report, "graphs", r["outcome"], n, {".mlir": text},
                      f"random_graph(random.Random({seed}))\n{r.get('detail', '')}")
            n += 1


def run_campaign(out: str | Path, *, seed: int = 0, budget: float | None = None, counts: dict | None = None) -> Report:
    """Run the three corpora: for `budget` seconds (split 55/10/35), or for
    `counts` inputs per corpus (`{"ir": 200, "mxnet": 50, "graphs": 20}`)."""
    out = Path(out).resolve()  # the worker may build C elsewhere: keep the cache path absolute
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    report = Report()
    worker = Worker()
    try:
        shares = {"ir": 0.55, "mxnet": 0.10, "graphs": 0.35}
        start = time.monotonic()
        spent = 0.0
        for corpus, fn in (("ir", fuzz_ir), ("mxnet", fuzz_mxnet), ("graphs", fuzz_graphs)):
            if counts is not None:
                if counts.get(corpus):
                    fn(worker, rng, report, out, count=counts[corpus])
                continue
            spent += shares[corpus] * budget
            fn(worker, rng, report, out, deadline=start + spent)
    finally:
        worker.close()
    return report


if __name__ == "__main__" and "--worker" in sys.argv:
    _worker()
