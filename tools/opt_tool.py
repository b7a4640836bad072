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

import sys
from collections.abc import Sequence
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException, ParseError, VerifyException
from xdsl.xdsl_opt_main import xDSLOptMain

from hybridize import errors
from hybridize.backends.draw.dot import DrawError
from hybridize.ir.module import IRVerifyError
from hybridize.ir.parser import Limits


class OptTool(xDSLOptMain):
    version_format = "opt-tool (hybridize) built on xdsl {xdsl_version}"

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
            limits = Limits(max_tensor_bytes=self.args.max_tensor_bytes)
            parser = LocatingParser(self.ctx, io.read(), self.get_input_name(), limits)
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
        return super().parse_chunk(chunk, file_extension, start_offset)

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
            return super().apply_passes(prog)
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

    def output_resulting_program(self, prog: ModuleOp) -> str:
        if self.args.fusion_remarks:
            from hybridize.passes import parse_pipeline
            from hybridize.passes.fuse import Fuse, fusion_remarks

            fuse = next((p for p in parse_pipeline(self.args.passes) if isinstance(p, Fuse)), Fuse())
            for remark in fusion_remarks(prog, fuse.target, fuse.max_ops):
                print(remark, file=sys.stderr)
        return super().output_resulting_program(prog)

    def setup_pipeline(self):
        from hybridize.passes import PipelineError, parse_pipeline

        try:
            parse_pipeline(self.args.passes)
        except PipelineError as e:
            raise ToolError(str(e)) from None
        super().setup_pipeline()


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


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    input_name = next((a for a in args if not a.startswith("-") and (a.endswith(".mlir") or "." in a)), "stdin")
    try:
        tool = OptTool(description="hybridize's optimizer driver: parse IR, run passes, print IR or code", args=args)
        tool.run()
    except (ToolError, DrawError) as e:
        print(f"opt-tool: error: {e}", file=sys.stderr)
        return 1
    except ParseError as e:
        print(f"{e.span.get_location()}: error: {e.msg}", file=sys.stderr)
        return 1
    except IRVerifyError as e:
        where, _, msg = str(e).partition(": ")
        print(f"{where}: error: {msg}", file=sys.stderr)
        return 1
    except (VerifyException, DiagnosticException) as e:
        print(f"{input_name}: error: {_message(e)}", file=sys.stderr)
        return 1
    except ArgSpecParseError as e:  # a BaseException in xDSL
        print(f"opt-tool: error: {_message(e)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `opt-tool ... | head`: the reader left; not an error of ours.
        sys.stderr.close()
        return 0
    except FileNotFoundError as e:
        print(f"opt-tool: error: {e.filename}: no such file", file=sys.stderr)
        return 1
    except (ValueError, NotImplementedError, OSError, UnicodeDecodeError, RuntimeError, TypeError) as e:
        msg = _message(e)
        print(msg.replace(": ", ": error: ", 1) if msg.startswith(input_name) else f"{input_name}: error: {msg}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{input_name}: error: out of memory (see --max-tensor-bytes)", file=sys.stderr)
        return 1
    except Exception as e:  # a bug of ours: still one line, and an exit code the fuzzer counts apart
        print(f"opt-tool: internal error: {type(e).__name__}: {_message(e)} (please report this input)", file=sys.stderr)
        return INTERNAL_ERROR
    return 0


INTERNAL_ERROR = 70
"""Exit code of an unexpected exception (EX_SOFTWARE): a bug, not bad input."""


if __name__ == "__main__":
    raise SystemExit(main())
