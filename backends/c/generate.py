"""C emission of a lowered program: declarations of every value, the
kernels in program order, the copies into outputs.

A generated file is a *schedule*: `hy_forward` calls the kernel library
(`library/hy_kernels.h`) with the model's shapes and packed weights, and
holds the loops of the ops the library does not cover; the `Unit` collects
what the kernels add besides the body (static tile epilogues, constants
packed at build time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from xdsl.ir import SSAValue

from hybridize.backends.c.isa import Target
from hybridize.backends.c.loops import Tensor
from hybridize.backends.dims import BATCH, dims_of
from hybridize.backends.program import Program
from hybridize.ir.types import element_kind, shape_of

FUNCTION = "hy_forward"

THREADS = "hy_threads"
"""The C parameter holding the number of threads a call may use."""

ERRORS: dict[int, str] = {
    1: "index out of range",
    2: "out of memory (kernel workspace)",
}
"""Codes a generated function may return, and what the caller raises for them."""


@dataclass
class Unit:
    """One generated C file in the making: the target's tile, the constants
    table (the program's constants, then packed ones) and file-scope functions."""

    target: Target
    constants: list[np.ndarray]
    dynamic: bool = False
    functions: list[str] = field(default_factory=list)

    _counter: int = 0

    @property
    def tile(self) -> tuple[int, int, int]:
        return self.target.tile

    def new_name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter - 1}"

    def add_function(self, lines: list[str]) -> None:
        self.functions += [*indent(lines, depth=0), ""]

    def add_constant(self, array: np.ndarray, ctype: str = "float") -> str:
        """A C expression for `array`, passed in the constants table."""
        self.constants.append(array)
        return f"((const {ctype} *)consts[{len(self.constants) - 1}])"


@dataclass
class CSource:
    text: str
    constants: list[np.ndarray]
    used: set[int] = field(default_factory=set)
    """Indexes of `constants` the code reads (a weight read only through its packed copy is not)."""
    profiled: list[str] = field(default_factory=list)  # with profile=True: the op of each timer slot

PROFILE_FUNCTION = "hy_profile"
"""With `profile=True`, `void hy_profile(double *seconds)` copies out (and resets) the time spent in each step."""


def generate(prog: Program, target: Target | None = None, *, profile: bool = False) -> CSource:
    """The C source of `hy_forward` for a lowered, planned program, and the
    constants table it reads (the program's, then weights packed for it)."""
    from hybridize.backends.c.isa import target as probe
    from hybridize.backends.c.kernels import emit

    unit = Unit(target or probe(), list(prog.constants), dynamic=prog.dynamic)
    tensors: dict[SSAValue, Tensor] = {}
    decls: list[str] = ["char *A = (char *)arena;"]
    params = parameters(prog)
    for value, storage in prog.storage.items():
        t = element_kind(value).c
        name = prog.names[value]
        const = prog.constants[storage.index] if storage.kind == "const" else None
        tensors[value] = Tensor(name, dims_of(shape_of(value)), t, const)
        root = prog.storage[prog.root(value)]
        qual = "const " if root.kind in ("input", "const") else ""
        if storage.kind == "input":
            decls.append(f"const {t} *{name} = (const {t} *)in{storage.index};")
        elif storage.kind == "output":
            decls.append(f"{t} *{name} = ({t} *)out{storage.index};")
        elif storage.kind == "const":
            decls.append(f"const {t} *{name} = (const {t} *)consts[{storage.index}];")
        elif storage.kind == "arena":
            static, per_batch = storage.offset
            decls.append(f"{t} *{name} = ({t} *)(A + {static}{f' + {per_batch} * {BATCH}' if per_batch else ''});")
        elif storage.kind == "view":
            decls.append(f"{qual}{t} *{name} = ({qual}{t} *){prog.names[storage.base]};")
        else:
            raise ValueError(f"the C backend needs a planned module ({name} has no buffer)")
    body: list[str] = []
    profiled: list[str] = []
    for step in prog.steps:
        if prog.storage[step.op.results[0]].kind == "view":
            continue
        args = [tensors[o] for o in step.op.operands]
        code = emit(step.op, args, tensors[step.op.results[0]], unit)
        if profile:
            code = ["{", "const double hy_t0 = hy_now();", *code, f"hy_prof[{len(profiled)}] += hy_now() - hy_t0;", "}"]
            profiled.append(describe_step(step.op))
        body += code
    for c in prog.copies:
        out_t = Tensor(c.out, dims_of(shape_of(c.value)), element_kind(c.value).c)
        body.append(
            f"memcpy(({out_t.ctype} *)out{prog.output_names.index(c.out)}, {c.src}, "
            f"sizeof({out_t.ctype}) * ({out_t.count}));"
        )
    lines = [
        "/* generated by hybridize (C backend) */",
        f"/* forward{prog.signature()} */",
        "#include <stdint.h>",
        "#include <string.h>",
        "#include <tgmath.h>",
        '#include "hy_kernels.h"',
        "",
        *tile_check(unit.target),
        "",
        *unit.functions,
        *(profiler(len(profiled)) if profile else []),
        f"int {FUNCTION}({', '.join(params)})",
        "{",
        *indent([*decls, "(void)A;", f"(void){THREADS};", *body, "return 0;"]),
        "}",
        "",
    ]
    return CSource("\n".join(lines), unit.constants, read_constants(prog, [*body, *unit.functions, *decls]), profiled)


def read_constants(prog: Program, code: list[str]) -> set[int]:
    """Indexes of the constants table that `code` reads: through the table
    (`consts[i]`: packed weights) or through a constant's pointer name (itself
    or a view of it); each constant's own declaration does not count."""
    import re

    declarations = {f"(const {element_kind(v).c} *)consts[{s.index}];" for v, s in prog.storage.items() if s.kind == "const"}
    text = "\n".join(line for line in code if not any(line.endswith(d) for d in declarations))
    names = set(re.findall(r"\bc\d+\b", text))
    used = {int(i) for i in re.findall(r"consts\[(\d+)\]", text)}
    return used | {s.index for v, s in prog.storage.items() if s.kind == "const" and prog.names[v] in names}


def describe_step(op) -> str:
    """`hy.fused(hy.conv2d, hy.relu) -> 1x64x56x56` for profiles."""
    from hybridize.ir.structure import FusedOp
    from hybridize.ir.types import format_shape

    name = op.name
    if isinstance(op, FusedOp):
        name += "(" + ", ".join(b.name for b in op.ops) + ")"
    return f"{name} -> {format_shape(shape_of(op.results[0]))}"


def profiler(slots: int) -> list[str]:
    return [
        "#include <time.h>",
        f"static double hy_prof[{max(slots, 1)}];",
        "static double hy_now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }",
        f"void {PROFILE_FUNCTION}(double *seconds)",
        "{",
        f"    for (int i = 0; i < {slots}; ++i) {{ seconds[i] = hy_prof[i]; hy_prof[i] = 0; }}",
        "}",
        "",
    ]


def tile_check(target: Target) -> list[str]:
    """The packed weights were laid out for this tile: refuse to build with another."""
    vb, mr, nr = target.tile
    return [f"#if HY_VB != {vb} || HY_MR != {mr} || HY_NR != {nr}", '#error "weights were packed for another tile"', "#endif"]


def parameters(prog: Program) -> list[str]:
    """`threads, [long hy_batch,] inputs, outputs, constants table, arena`."""
    params = [f"int {THREADS}"]
    params += [f"long {BATCH}"] if prog.dynamic else []
    params += [f"const void *in{i}" for i in range(len(prog.inputs))]
    params += [f"void *out{i}" for i in range(len(prog.outputs))]
    return params + ["const void *const *consts", "void *arena"]


def declaration(prog: Program) -> str:
    """The cdef line cffi needs for the generated function."""
    return f"int {FUNCTION}({', '.join(parameters(prog))});"


def indent(lines: list[str], depth: int = 1) -> list[str]:
    """Indent generated C by brace depth so the source reads like hand-written code."""
    out = []
    for line in lines:
        depth -= line.startswith("}")
        out.append("    " * max(depth, 0) + line if not line.startswith("#") else line)
        depth += line.endswith("{")
    return out
