"""`opt-tool`: hybridize's `mlir-opt`, built on xDSL's `xDSLOptMain`.

    opt-tool --passes=fuse,plan my_mlp.mlir        # optimized IR on stdout
    opt-tool -p canonicalize,fuse,plan -t c my_mlp.mlir   # generated C
    opt-tool -t numpy my_mlp.mlir                  # generated Python
    opt-tool -p canonicalize,fuse,plan -t svg my_mlp.mlir -o my_mlp.svg   # the graph
    opt-tool -p canonicalize,fuse,plan -t plan-svg my_mlp.mlir            # the memory plan
    opt-tool -p canonicalize,fuse,plan -t html my_mlp.mlir -o report.html # every stage
    opt-tool --svg-dir stages -p canonicalize,fuse,plan my_mlp.mlir      # stages/00-input.svg, ...
    opt-tool -p canonicalize,fuse,plan -t c-export -o out/ my_mlp.mlir   # standalone C package in out/

`-t c-export` writes the directory `-o` names (required; an existing
non-empty one only with `--force`) and prints the files it wrote;
`--export-name` (default: the input file's stem when it is a C identifier,
else `model`) and `--export-weights auto|embed|file` shape the export.

Bad input never shows a Python traceback: a malformed file prints
`file:line:col: error: message`, an invalid op `file:line:col: error: <op>: ...`,
an unknown pass the registered passes; the exit code is 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException, ParseError, VerifyException
from xdsl.xdsl_opt_main import xDSLOptMain

from hybridize import __version__, errors
from hybridize.backends.draw.dot import DrawError
from hybridize.ir.module import DEFAULT_ELIDE, IRVerifyError
from hybridize.ir.parser import Limits
from hybridize.passes import PassFailure, PassRegistrationError


class OptTool(xDSLOptMain):
    version_format = f"opt-tool (hybridize {__version__}) built on xdsl {{xdsl_version}}"

    def __init__(self, description: str, args: Sequence[str]):
        # Plugins register passes, so they load before xDSL builds the pass list.
        from hybridize.passes import load_entry_points, load_pass_plugin

        pre = argparse.ArgumentParser(add_help=False)
        pre.add_argument("--load-pass-plugin", action="append", default=[])
        known, _ = pre.parse_known_args(args)
        load_entry_points()
        for path in known.load_pass_plugin:
            load_pass_plugin(path)
        super().__init__(description, args)

    def register_all_dialects(self):
        from xdsl.dialects.builtin import Builtin
        from xdsl.dialects.func import Func

        from hybridize.ir.dialect import Hy

        for d in (Builtin, Func, Hy):
            self.ctx.register_dialect(d.name, lambda d=d: d)

    def register_all_frontends(self):
        super().register_all_frontends()
        from hybridize.ir.module import LocatingParser, verify_located
        from hybridize.ir.parser import Limits

        def parse_mlir(io: IO[bytes]) -> ModuleOp:
            from hybridize.ir.module import check_not_elided

            limits = Limits(max_tensor_bytes=self.args.max_tensor_bytes)
            text = io.read()
            check_not_elided(text, self.get_input_name())
            parser = LocatingParser(self.ctx, text, self.get_input_name(), limits)
            module = parser.parse_module(not self.args.no_implicit_module)
            if not self.args.disable_verify:
                verify_located(module, parser.op_starts, self._line_offset, limits)
            self._op_starts = parser.op_starts
            return module

        self.available_frontends["mlir"] = parse_mlir

        # Model files: the frontend is chosen by file name (hybridize.frontends).
        def load_model_file(io: IO[bytes]) -> ModuleOp:
            from hybridize.frontends import load_file

            io.close()
            if self.args.input_file is None:
                raise ToolError("model files are read from a path, not from stdin")
            options = {}
            shapes = [parse_shape(s) for s in self.args.input_shape or []]
            if shapes:
                options["input_shapes"] = shapes
            if self.args.params:
                options["params"] = self.args.params
            return load_file(self.args.input_file, **options)

        for ext in ("pt", "pt2", "json"):
            self.available_frontends[ext] = load_model_file

    def register_all_arguments(self, arg_parser):
        super().register_all_arguments(arg_parser)
        arg_parser.prog = "opt-tool"
        helps = {
            "passes": "comma-separated pass pipeline, e.g. canonicalize,fuse{max-ops=8},plan "
            "(--list-passes prints every pass with its options)",
            "time_passes": "print the time of parsing, each pass, printing and the total on stderr",
            "print_between_passes": "print the IR between passes on stderr (see --print-ir-after-all)",
        }
        for action in arg_parser._actions:
            if action.dest in helps:
                action.help = helps[action.dest]
        arg_parser.add_argument(
            "--list-passes", action="store_true", help="print every pass, its options and their defaults, and exit"
        )
        arg_parser.add_argument(
            "--load-pass-plugin",
            action="append",
            metavar="FILE.py",
            default=[],
            help="run a Python file (or import a module) that registers passes with "
            "hybridize.passes.register_pass (repeatable); installed packages add passes "
            "through the `hybridize.passes` entry-point group",
        )
        arg_parser.add_argument(
            "--elide-constants-larger-than",
            type=int,
            default=None,
            metavar="N",
            help=f"print constants of more than N elements as dense_resource<__elided__> (-1: never). "
            f"Default: {DEFAULT_ELIDE} for IR on a terminal and in --print-ir-* dumps; IR written with -o "
            "or into a pipe keeps every constant, so it can be read back",
        )
        arg_parser.add_argument(
            "--print-ir-after-all", action="store_true", help="print the IR after every pass on stderr"
        )
        arg_parser.add_argument(
            "--print-ir-after",
            action="append",
            default=[],
            metavar="PASS",
            help="print the IR after the named pass(es) on stderr (repeatable, or comma-separated)",
        )
        arg_parser.add_argument(
            "--print-ir-after-failure", action="store_true", help="print the IR a failing pass left on stderr"
        )
        arg_parser.add_argument(
            "--pass-statistics",
            action="store_true",
            help="print per pass, on stderr: ops removed and added, fused groups formed, bytes saved",
        )
        arg_parser.add_argument(
            "--show-traceback", action="store_true", help="on a failing pass, print the Python traceback too"
        )
        arg_parser.add_argument(
            "--reproducer",
            metavar="FILE",
            help="on a failing pass, write the IR before it and the failing pipeline to FILE "
            "(default: opt-tool-<input>-<pass>.mlir in the temporary directory)",
        )
        arg_parser.add_argument("--no-reproducer", action="store_true", help="write no reproducer file")
        arg_parser.add_argument(
            "--input-shape",
            action="append",
            metavar="SHAPE",
            help="shape of a model input, e.g. 1x3x224x224 (repeat for several inputs); "
            "needed for .pt archives and MXNet symbol files",
        )
        arg_parser.add_argument(
            "--max-tensor-bytes",
            type=int,
            default=Limits().max_tensor_bytes,
            metavar="N",
            help="refuse constants, tensors and arenas larger than N bytes (default: %(default)s)",
        )
        from hybridize.backends.draw.dot import MAX_OPS, RANKDIRS

        arg_parser.add_argument(
            "--svg-dir",
            metavar="DIR",
            help="write the graph after every stage as DIR/00-input.svg, DIR/01-<pass>.svg, ...",
        )
        arg_parser.add_argument(
            "--draw-collapse", action="store_true", help="pictures: draw each fused region as one node"
        )
        arg_parser.add_argument(
            "--draw-rankdir", choices=RANKDIRS, default="TB", help="pictures: layout direction (default: %(default)s)"
        )
        arg_parser.add_argument(
            "--draw-max-ops",
            type=int,
            default=MAX_OPS,
            metavar="N",
            help="pictures: refuse graphs of more than N ops (default: %(default)s)",
        )
        arg_parser.add_argument(
            "--export-name", metavar="NAME", help="-t c-export: the C name prefix (default: the input's stem or `model`)"
        )
        arg_parser.add_argument(
            "--export-weights",
            choices=("auto", "embed", "file"),
            default="auto",
            help="-t c-export: embed the weights in the C, or write NAME.weights (default: %(default)s, by size)",
        )
        arg_parser.add_argument(
            "--force", action="store_true", help="-t c-export: write into an existing non-empty directory"
        )
        arg_parser.add_argument(
            "--fusion-remarks",
            action="store_true",
            help="print on stderr, for every edge left between two kernels, the fusion rule that stopped it",
        )
        arg_parser.add_argument(
            "--params",
            metavar="FILE",
            help="the .params file of an MXNet -symbol.json (default: the -0000.params beside it)",
        )

    _line_offset = 0
    _op_starts: dict = {}

    def _locate(self, op, message: str) -> str:
        """`file:line:col: message` at `op` if it was parsed, else at the file's first op."""
        span = self._op_starts.get(op) or next(iter(self._op_starts.values()), None)
        if span is None:
            return f"{self.get_input_name()}:1:1: {message}"
        loc = span.get_location()
        return f"{loc.file}:{loc.line + self._line_offset}:{loc.col}: {message}"

    def parse_chunk(self, chunk, file_extension, start_offset=0):
        self._line_offset = start_offset  # so split-input-file errors name file lines
        start = time.perf_counter()
        try:
            return super().parse_chunk(chunk, file_extension, start_offset)
        finally:
            self._timings.append(("parse", time.perf_counter() - start))

    # -- running and reporting ----------------------------------------------
    _timings: list

    def run(self):
        if self.args.list_passes:
            from hybridize.passes import describe_passes

            sys.stdout.write(describe_passes())
            return
        self._timings = []
        self._statistics = []
        start = time.perf_counter()
        try:
            super().run()
        finally:
            if self.args.time_passes:
                self._timings.append(("total", time.perf_counter() - start))
                sys.stderr.write(timing_report(self._timings))
            if self.args.pass_statistics and self._statistics:
                sys.stderr.write(statistics_report(self._statistics))

    def output_resulting_program(self, prog: ModuleOp) -> str:
        from io import StringIO

        from xdsl.utils.arg_spec import parse_spec

        if self.args.fusion_remarks:
            from hybridize.passes import parse_pipeline
            from hybridize.passes.fuse import Fuse, fusion_remarks

            fuse = next((p for p in parse_pipeline(self.args.passes) if isinstance(p, Fuse)), Fuse())
            for remark in fusion_remarks(prog, fuse.target, fuse.max_ops):
                print(remark, file=sys.stderr)
        start = time.perf_counter()
        try:
            if parse_spec(self.args.target).name != "mlir" or self.args.syntax_highlight:
                return super().output_resulting_program(prog)
            from hybridize.ir.module import ElidingPrinter

            out = StringIO()
            printer = ElidingPrinter(
                stream=out,
                print_generic_format=self.args.print_op_generic,
                print_properties_as_attributes=self.args.print_no_properties,
                print_debuginfo=self.args.print_debuginfo,
                elide_larger_than=self.output_elision(),
            )
            printer.print_op(prog)
            printer.print_metadata(self.ctx.loaded_dialects)
            out.write("\n\n")
            return out.getvalue()
        finally:
            self._timings.append(("print", time.perf_counter() - start))

    def output_elision(self) -> int | None:
        """Elision of the printed result: as asked, else on a terminal only
        (files and pipes are read back: they keep every constant)."""
        n = self.args.elide_constants_larger_than
        if n is not None:
            return None if n < 0 else n
        return DEFAULT_ELIDE if self.args.output_file is None and sys.stdout.isatty() else None

    def dump_elision(self) -> int | None:
        n = self.args.elide_constants_larger_than
        return DEFAULT_ELIDE if n is None else (None if n < 0 else n)

    def register_all_passes(self):
        from hybridize.passes import PASSES

        for name, factory in PASSES.items():
            self.register_pass(name, factory)

    def register_all_targets(self):
        super().register_all_targets()  # keeps `mlir`
        from hybridize.backends import generate_source

        def target(backend: str):
            def emit(module: ModuleOp, out: IO[str]) -> None:
                try:
                    source = generate_source(module, backend)
                except (ValueError, NotImplementedError, VerifyException) as e:
                    raise IRVerifyError(self._locate(getattr(e, "op", None), _message(e))) from None
                out.write(source)

            return emit

        for backend in ("numpy", "c"):
            self.available_targets[backend] = target(backend)
        for name in [n for n in self.available_targets if n not in ("mlir", "numpy", "c")]:
            del self.available_targets[name]
        self.available_targets["c-export"] = self.c_export
        self.register_draw_targets()

    def _exporting(self) -> bool:
        from xdsl.utils.arg_spec import parse_spec

        return parse_spec(self.args.target).name == "c-export"

    def prepare_output(self):
        # c-export writes the directory -o names itself; the stream gets the list of files
        return sys.stdout if self._exporting() else super().prepare_output()

    def c_export(self, module: ModuleOp, out: IO[str]) -> None:
        import re
        from pathlib import Path

        from hybridize.backends.c.export import ExportError, export

        if self.args.output_file is None:
            raise ToolError("-t c-export needs -o DIR, the directory to write")
        name = self.args.export_name
        if name is None:
            stem = Path(self.args.input_file or "model").name.split(".")[0]
            name = stem if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", stem) else "model"
        try:
            paths = export(module, self.args.output_file, name, weights=self.args.export_weights, force=self.args.force)
        except ExportError as e:
            raise ToolError(str(e)) from None
        except (ValueError, NotImplementedError, VerifyException) as e:
            raise IRVerifyError(self._locate(getattr(e, "op", None), _message(e))) from None
        for p in paths:
            out.write(f"{p}  ({p.stat().st_size} bytes)\n")

    # -- pictures (hybridize.backends.draw) --------------------------------
    def draw_options(self):
        from hybridize.backends.draw import DrawOptions

        a = self.args
        return DrawOptions(collapse_fused=a.draw_collapse, rankdir=a.draw_rankdir, max_ops=a.draw_max_ops)

    def register_draw_targets(self):
        def svg(module: ModuleOp, out: IO[str]) -> None:
            from hybridize.backends.draw import render, to_dot

            out.write(render(to_dot(module, self.draw_options()), "svg").decode("utf-8"))

        def dot(module: ModuleOp, out: IO[str]) -> None:
            from hybridize.backends.draw import to_dot

            out.write(to_dot(module, self.draw_options()))

        def plan_svg(module: ModuleOp, out: IO[str]) -> None:
            from hybridize.backends.draw import draw_plan

            out.write(draw_plan(module))

        def html(module: ModuleOp, out: IO[str]) -> None:
            from hybridize.backends.draw.report import report_html

            out.write(report_html(self._stages, self.args.passes))

        self.available_targets.update({"svg": svg, "dot": dot, "plan-svg": plan_svg, "html": html})

    _stages: tuple = ()  # the report's stages, recorded by apply_passes

    def apply_passes(self, prog: ModuleOp):
        # The report and --svg-dir need every stage: run the passes one at a
        # time here (verifying after each) instead of in xDSL's pipeline.
        from xdsl.utils.arg_spec import parse_spec

        html = parse_spec(self.args.target).name == "html"
        if self.args.svg_dir is None and not html:
            return self.run_pipeline(prog)
        from pathlib import Path

        from hybridize.backends.draw import render, to_dot
        from hybridize.backends.draw.report import run_stages, snapshot, stage_slug

        options = self.draw_options()
        self._stages = []
        svg_dir = None if self.args.svg_dir is None else Path(self.args.svg_dir)
        if svg_dir is not None:
            svg_dir.mkdir(parents=True, exist_ok=True)

        def on_stage(index: int, name: str, module: ModuleOp, seconds):
            svg = None
            if html:
                self._stages.append(snapshot(index, name, module, seconds, options))
                svg = self._stages[-1].svg
            if svg_dir is not None:
                data = svg.encode("utf-8") if svg is not None else render(to_dot(module, options), "svg")
                (svg_dir / f"{stage_slug(index, name)}.svg").write_bytes(data)

        run_stages(prog, self.args.passes, on_stage)

    def setup_pipeline(self):
        from hybridize.passes import PipelineError, parse_pipeline

        try:
            self._passes = parse_pipeline(self.args.passes) if self.args.passes.strip() else []
        except PipelineError as e:
            raise ToolError(str(e)) from None
        after = {n.strip() for names in self.args.print_ir_after for n in names.split(",") if n.strip()}
        unknown = sorted(after - {p.name for p in self._passes})
        if unknown:
            raise ToolError(f"--print-ir-after {', '.join(unknown)}: not in the pipeline '{self.args.passes}'")
        self._print_after = after

    def run_pipeline(self, prog: ModuleOp) -> None:
        from hybridize.passes import run_pipeline

        run_pipeline(prog, self._passes, instrument=Instrument(self))


class Instrument:
    """opt-tool's pass instrumentation: IR dumps, statistics and reproducers
    (see `hybridize.passes.PassInstrumentation`)."""

    def __init__(self, tool: OptTool):
        self.tool, self.args = tool, tool.args
        self.keep_before = not self.args.no_reproducer
        self.done: list = []
        self.counts = None

    def dump(self, title: str, module: ModuleOp) -> None:
        from hybridize.ir.module import print_module

        sys.stderr.write(f"// -----// IR Dump After {title} //----- //\n")
        sys.stderr.write(print_module(module, elide_larger_than=self.tool.dump_elision()))
        sys.stderr.write("\n")
        sys.stderr.flush()

    def before_pass(self, p, module: ModuleOp) -> None:
        if self.args.pass_statistics:
            self.counts = module_counts(module)

    def after_pass(self, p, module: ModuleOp, seconds: float) -> None:
        self.tool._timings.append((p.name, seconds))
        if self.args.pass_statistics:
            self.tool._statistics.append((p.name, pass_statistics(self.counts, module_counts(module))))
        self.done.append(p)
        last = len(self.done) == len(self.tool._passes)
        if (
            self.args.print_ir_after_all
            or p.name in self.tool._print_after
            or (self.args.print_between_passes and not last)
        ):
            self.dump(p.name, module)

    def after_failure(self, p, module: ModuleOp, error) -> None:
        if self.args.print_ir_after_failure:
            self.dump(f"{p.name} Failed", module)
        if error.before is not None:
            error.reproducer = self.write_reproducer(p, error)

    def describe_op(self, op) -> str:
        # (the error line starts with the op's file:line:col, see report_pass_failure)
        from hybridize.passes import describe_op

        return describe_op(op)

    def write_reproducer(self, p, error):
        """The IR before the failing pass, headed by the command that re-runs
        the failing rest of the pipeline on it (as MLIR's crash reproducers)."""
        import shlex
        import tempfile
        from pathlib import Path

        from hybridize.ir.module import print_module

        args = self.args
        rest = self.tool._passes[len(self.done) :]
        pipeline = ",".join(str(q.pipeline_pass_spec()) for q in rest)
        if args.reproducer:
            path = Path(args.reproducer)
        else:
            stem = Path(args.input_file).name.split(".")[0] if args.input_file else "stdin"
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in f"{stem}-{p.name}")[:80]
            path = Path(tempfile.gettempdir()) / f"opt-tool-{safe}.mlir"
        plugins = "".join(f"--load-pass-plugin {shlex.quote(str(Path(f).resolve()))} " for f in args.load_pass_plugin)
        command = f"opt-tool {plugins}-p {shlex.quote(pipeline)} {shlex.quote(str(path))}"
        first = str(error).strip().splitlines()[0]
        header = (
            f"// opt-tool reproducer: pass '{p.name}' failed"
            + (f" after {', '.join(q.name for q in self.done)}" if self.done else "")
            + f"\n// error: {first}\n// re-run: {command}\n"
        )
        try:
            path.write_text(header + print_module(error.before))
        except OSError as e:
            return f"(could not write the reproducer {path}: {e.strerror})"
        return f"{path} (re-run: {command})"


def module_counts(module: ModuleOp) -> dict:
    """Ops by name, fused groups and constant bytes of a module, for statistics."""
    from collections import Counter

    from hybridize.ir.attributes import ARENA

    ops = Counter()
    const_bytes = 0
    arena = None
    for op in module.walk():
        if op.parent_op() is not None and op.parent_op().name == "hy.fused":
            continue  # a kernel's body: its ops were counted (and removed) where they stood
        ops[op.name] += 1
        if op.name == "hy.constant":
            const_bytes += len(op.value.data.data)
        if ARENA in op.attributes:
            arena = op.attributes[ARENA]
    return {"ops": ops, "const_bytes": const_bytes, "arena": arena}


def pass_statistics(before: dict, after: dict) -> list[tuple[str, int, str]]:
    """(statistic, value, description) rows of one pass."""
    added = sum(max(0, after["ops"][k] - before["ops"].get(k, 0)) for k in after["ops"])
    removed = sum(max(0, n - after["ops"].get(k, 0)) for k, n in before["ops"].items())
    rows = [
        ("ops-removed", removed, "ops erased (or replaced)"),
        ("ops-added", added, "ops created"),
        ("groups-formed", after["ops"].get("hy.fused", 0) - before["ops"].get("hy.fused", 0), "hy.fused kernels made"),
        ("constant-bytes-saved", before["const_bytes"] - after["const_bytes"], "bytes of constants no longer held"),
    ]
    arena = after["arena"]
    if arena is not None and arena is not before["arena"]:
        nbytes, bound, no_reuse = arena.at(1)
        rows.append(("arena-bytes", nbytes, f"arena at batch 1 (lower bound {bound})"))
        rows.append(("arena-bytes-saved", no_reuse - nbytes, "bytes below a plan without reuse"))
    return rows


def statistics_report(stats: list) -> str:
    lines = ["===" + "-" * 73 + "===", " " * 25 + "... Pass statistics report ...", "===" + "-" * 73 + "==="]
    for name, rows in stats:
        lines.append(f"'{name}'")
        for stat, value, doc in rows:
            lines.append(f"  (S) {value:>10} {stat:<22} - {doc}")
    return "\n".join(lines) + "\n"


def timing_report(timings: list) -> str:
    """MLIR's --mlir-timing layout: parse, each pass, print, and the total (wall time)."""
    total = next((s for n, s in timings if n == "total"), sum(s for _, s in timings))
    lines = [
        "===" + "-" * 73 + "===",
        " " * 25 + "... Execution time report ...",
        "===" + "-" * 73 + "===",
        f"  Total Execution Time: {total:.4f} seconds",
        "",
        "  ----Wall Time----  ----Name----",
    ]
    for name, seconds in timings:
        share = 100 * seconds / total if total > 0 else 100.0
        lines.append(f"  {seconds:8.4f} ({share:5.1f}%)  {'Total' if name == 'total' else name}")
    return "\n".join(lines) + "\n"


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.lower().split("x"))
    except ValueError:
        raise ToolError(f"--input-shape {text!r}: expected sizes like 1x3x224x224") from None
    if not dims or any(d < 1 for d in dims):
        raise ToolError(f"--input-shape {text!r}: sizes must be positive")
    return dims


ToolError = errors.ToolError
"""An error to print as one line (no traceback) before exiting with 1."""


def _message(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    # xDSL puts the message under the underlined op: take the first line that is
    # neither IR nor decoration.
    for line in text:
        s = line.strip()
        if s and not s.startswith(("^", "|", "-", "%", "\"", "builtin.", "func.", "hy.", "}", "^bb")):
            return s.strip("| ")
    return text[0] if text else type(e).__name__


def say(line: str) -> None:
    """An error on stderr, each line cut in the middle when a quoted input
    would make it longer than a screen or two (`file:line:col:` stays first)."""
    print("\n".join(errors.excerpt(part, 1000) for part in line.split("\n")), file=sys.stderr)


def report_pass_failure(e, tool: OptTool | None, input_name: str, traceback: bool) -> None:
    """A failing pass on stderr: `file:line:col: error:` at the failing op (or
    the file's first op), the pass, the verifier's full message, the
    reproducer written, and the traceback when asked for."""
    import traceback as tb

    message = str(e).strip()
    if tool is not None and tool._op_starts:
        where, _, message = tool._locate(e.op, message).partition(": ")
        say(f"{where}: error: {message}")
    else:
        say(f"{input_name}: error: {message}")
    reproducer = getattr(e, "reproducer", None)
    if reproducer:
        print(f"opt-tool: note: reproducer written to {reproducer}", file=sys.stderr)
    cause = e.__cause__
    if traceback:
        tb.print_exception(cause if cause is not None else e, file=sys.stderr)
    elif cause is not None:
        print("opt-tool: note: --show-traceback prints the Python traceback of the failure", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    input_name = next((a for a in args if not a.startswith("-") and (a.endswith(".mlir") or "." in a)), "stdin")
    tool = None
    try:
        tool = OptTool(description="hybridize's optimizer driver: parse IR, run passes, print IR or code", args=args)
        tool.run()
    except PassFailure as e:
        report_pass_failure(e, tool, tool.get_input_name() if tool else input_name, "--show-traceback" in args)
        return 1
    except PassRegistrationError as e:
        say(f"opt-tool: error: {e}")
        return 1
    except (ToolError, DrawError) as e:
        say(f"opt-tool: error: {e}")
        return 1
    except ParseError as e:
        say(f"{e.span.get_location()}: error: {e.msg}")
        return 1
    except IRVerifyError as e:
        where, _, msg = str(e).partition(": ")
        say(f"{where}: error: {msg}")
        return 1
    except (VerifyException, DiagnosticException) as e:
        say(f"{input_name}: error: {_message(e)}")
        return 1
    except ArgSpecParseError as e:  # a BaseException in xDSL
        say(f"opt-tool: error: {_message(e)}")
        return 1
    except BrokenPipeError:
        # `opt-tool ... | head`: the reader left; not an error of ours.
        sys.stderr.close()
        return 0
    except FileNotFoundError as e:
        say(f"opt-tool: error: {e.filename}: no such file")
        return 1
    except (ValueError, NotImplementedError, OSError, UnicodeDecodeError, RuntimeError, TypeError) as e:
        msg = _message(e)
        say(msg.replace(": ", ": error: ", 1) if msg.startswith(input_name) else f"{input_name}: error: {msg}")
        return 1
    except MemoryError:
        say(f"{input_name}: error: out of memory (see --max-tensor-bytes)")
        return 1
    except Exception as e:  # a bug of ours: still one line, and an exit code the fuzzer counts apart
        say(f"opt-tool: internal error: {type(e).__name__}: {_message(e)} (please report this input)")
        return INTERNAL_ERROR
    return 0


INTERNAL_ERROR = 70
"""Exit code of an unexpected exception (EX_SOFTWARE): a bug, not bad input."""


if __name__ == "__main__":
    raise SystemExit(main())
