"""hybridize.passes: the pass registry and the pass manager.

    >>> from hybridize.passes import run_pipeline
    >>> run_pipeline(module, "canonicalize,fuse{max-ops=8},plan")

Each pass is one file named as it is registered (`fuse` lives in `fuse.py`),
a frozen dataclass `ModulePass` whose fields are its options. `PASSES` maps
names to lazy factories; `opt-tool` and `hybridize.optimize` read it. A user
pass is registered with `register_pass(MyPass)`.
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError

from hybridize.errors import PassError
from hybridize.ir.dialect import make_context


def _canonicalize():
    from hybridize.passes.canonicalize import Canonicalize

    return Canonicalize


def _cse():
    from xdsl.transforms.common_subexpression_elimination import CommonSubexpressionElimination

    return CommonSubexpressionElimination


def _dce():
    from xdsl.transforms.dead_code_elimination import DeadCodeElimination

    return DeadCodeElimination


def _fuse():
    from hybridize.passes.fuse import Fuse

    return Fuse


def _plan():
    from hybridize.passes.plan import Plan

    return Plan


PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "canonicalize": _canonicalize,
    "cse": _cse,
    "dce": _dce,
    "fuse": _fuse,
    "plan": _plan,
}
"""Registered passes by name; values are lazy factories returning the class."""

DEFAULT_PIPELINE = "canonicalize,cse,fuse,plan"


def register_pass(cls: type[ModulePass]) -> type[ModulePass]:
    """Register a user pass under its `name` (usable as a decorator)."""
    PASSES[cls.name] = lambda: cls
    return cls


class PipelineError(PassError):
    """A pipeline spec does not parse, names an unknown pass, or a pass failed."""


def parse_pipeline(spec: str) -> list[ModulePass]:
    """`"canonicalize,fuse{max-ops=4},plan"` -> pass instances, checked."""
    for name in _pass_names(spec):
        if name not in PASSES:
            raise PipelineError(
                f"unknown pass '{name}' (registered passes: {', '.join(sorted(PASSES))})"
            )
    try:
        return list(PassPipeline.parse_spec(PASSES, spec).passes)
    except ArgSpecParseError as e:  # derives from BaseException
        raise PipelineError(str(e)) from None
    except (ValueError, TypeError) as e:
        raise PipelineError(f"bad pipeline '{spec}': {e}") from None


def _pass_names(spec: str) -> list[str]:
    names, depth, cur = [], 0, ""
    for ch in spec:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            names.append(cur.strip())
            cur = ""
            continue
        if depth == 0 and ch not in "{}":
            cur += ch
    if cur.strip():
        names.append(cur.strip())
    return names


def first_line(e: BaseException, limit: int = 400) -> str:
    """An error's message without the IR dump xDSL appends (it can hold
    megabytes of weights)."""
    text = str(e).strip().splitlines()
    line = next((l for l in text if l.strip()), type(e).__name__)
    return line if len(line) <= limit else line[:limit] + "..."


def run_pipeline(module: ModuleOp, spec: str | list[ModulePass]) -> ModuleOp:
    """Run passes in order on `module` (in place) and return it. The module is
    verified after every pass; a failure names the pass and the ones before it."""
    from hybridize.ir.module import verify_with_locations

    passes = parse_pipeline(spec) if isinstance(spec, str) else spec
    ctx = make_context()
    done: list[str] = []
    for p in passes:
        try:
            p.apply(ctx, module)
            verify_with_locations(module)
        except Exception as e:
            before = f" (after {', '.join(done)})" if done else ""
            raise PipelineError(f"pass '{p.name}'{before} failed: {first_line(e)}") from e
        done.append(p.name)
    return module


__all__ = ["DEFAULT_PIPELINE", "PASSES", "PipelineError", "parse_pipeline", "register_pass", "run_pipeline"]
