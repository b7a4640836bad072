"""hybridize.passes: the pass registry and the pass manager.

    >>> from hybridize.passes import run_pipeline
    >>> run_pipeline(module, "canonicalize,fuse{max-ops=8},plan")

Each pass is one file named as it is registered (`fuse` lives in `fuse.py`),
a frozen dataclass `ModulePass` whose fields are its options. `PASSES` maps
names to lazy factories; `opt-tool` and `hybridize.optimize` read it. A user
pass is registered with `register_pass(MyPass)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError

from hybridize.errors import PassError
from hybridize.ir.checks import CheckError
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


def _layout():
    from hybridize.passes.layout import Layout

    return Layout


def _plan():
    from hybridize.passes.plan import Plan

    return Plan


def _schedule():
    from hybridize.passes.schedule import Schedule

    return Schedule


PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "canonicalize": _canonicalize,
    "cse": _cse,
    "dce": _dce,
    "fuse": _fuse,
    "layout": _layout,
    "plan": _plan,
    "schedule": _schedule,
}
"""Registered passes by name; values are lazy factories returning the class."""

BUILTIN_PASSES = frozenset(PASSES)
"""The passes hybridize ships; a plugin may not take one of these names
unless it asks to (`register_pass(cls, replace=True)`)."""

ORIGINS: dict[str, str] = {}
"""Where each non-built-in pass came from: a module, a plugin file or an
entry point (for `opt-tool --list-passes` and error messages)."""

DESCRIPTIONS = {
    "cse": "Merge ops that compute the same value from the same operands (xDSL's common subexpression elimination).",
    "dce": "Erase ops whose results are unused and that have no side effects (xDSL's dead code elimination).",
}
"""One-line descriptions of the passes whose classes have no docstring."""

DEFAULT_PIPELINE = "canonicalize,cse,layout,fuse,plan"

ENTRY_POINT_GROUP = "hybridize.passes"
"""Packages add passes with an entry point in this group, named as the pass:

    [project.entry-points."hybridize.passes"]
    fold-double-relu = "my_package.passes:FoldDoubleRelu"
"""


class PassRegistrationError(PassError):
    """A pass that cannot be registered: not a ModulePass, no name, or a name
    that would silently replace a built-in pass."""


def register_pass(cls: type[ModulePass] | None = None, *, replace: bool = False, origin: str | None = None):
    """Register a user pass under its `name`; usable as a decorator, bare or
    as `@register_pass(replace=True)`.

    A name of a built-in pass (`fuse`, `plan`, ...) is refused unless
    `replace=True`: a plugin never silently changes what `-p fuse` means.
    Registering another class under a name a user pass already holds
    replaces it (the last registration wins, as when a file is reloaded)."""
    if cls is None:
        return lambda c: register_pass(c, replace=replace, origin=origin)
    if not (isinstance(cls, type) and issubclass(cls, ModulePass)):
        raise PassRegistrationError(f"register_pass: expected a ModulePass subclass, got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise PassRegistrationError(f"register_pass: {cls.__qualname__} has no `name` (e.g. name = \"my-pass\")")
    where = origin or cls.__module__
    if name in BUILTIN_PASSES and ORIGINS.get(name) is None:
        if PASSES[name]() is cls:
            return cls  # the built-in itself
        if not replace:
            raise PassRegistrationError(
                f"pass '{name}' of {where} ({cls.__qualname__}) would replace the built-in pass '{name}'; "
                "rename it, or register it with register_pass(cls, replace=True) to replace the built-in on purpose"
            )
    PASSES[name] = lambda: cls
    ORIGINS[name] = where
    return cls


def load_pass_plugin(path: str) -> list[str]:
    """Run a plugin, a Python file (`my_passes.py`) or an importable module
    (`my_package.passes`), that registers passes with `register_pass`;
    returns the names it added or changed. Errors raise PassRegistrationError
    naming the plugin (and the line, for an error inside it)."""
    import importlib
    import importlib.util
    import sys
    import traceback
    from pathlib import Path

    before = {n: f for n, f in PASSES.items()}
    file = Path(path)
    try:
        if path.endswith(".py") or file.exists():
            if not file.is_file():
                raise PassRegistrationError(f"pass plugin {path}: no such file")
            name = file.stem if file.stem.isidentifier() and file.stem not in sys.modules else None
            name = name or f"hybridize_plugin_{abs(hash(str(file.resolve())))}"
            spec = importlib.util.spec_from_file_location(name, file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # dataclasses look their module up
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        else:
            importlib.import_module(path)
    except PassRegistrationError as e:
        raise PassRegistrationError(f"pass plugin {path}: {e}") from None
    except SyntaxError as e:
        raise PassRegistrationError(f"pass plugin {e.filename}:{e.lineno}: syntax error: {e.msg}") from None
    except Exception as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if Path(f.filename).name == file.name]
        where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else path
        raise PassRegistrationError(f"pass plugin {where}: {type(e).__name__}: {e}") from None
    added = sorted(n for n, f in PASSES.items() if before.get(n) is not f)
    for n in added:
        ORIGINS[n] = path
    return added


_entry_points_loaded = False


def load_entry_points(force: bool = False) -> None:
    """Register the passes other installed packages declare in the
    `hybridize.passes` entry-point group (lazily: a pass's module is imported
    when the pass is used). Called by `parse_pipeline` and `opt-tool`; a
    plugin named as a built-in is refused (PassRegistrationError)."""
    global _entry_points_loaded
    if _entry_points_loaded and not force:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep.dist, "name", None) or "an installed package"
        origin = f"{dist} (entry point {ep.value})"
        if ep.name in BUILTIN_PASSES and ORIGINS.get(ep.name) is None:
            raise PassRegistrationError(
                f"{origin}: its pass '{ep.name}' would replace the built-in pass '{ep.name}'; plugins must use new names"
            )
        PASSES[ep.name] = _entry_point_factory(ep, origin)
        ORIGINS[ep.name] = origin


def _entry_point_factory(ep, origin: str) -> Callable[[], type[ModulePass]]:
    loaded: list[type[ModulePass]] = []

    def factory() -> type[ModulePass]:
        if not loaded:
            try:
                obj = ep.load()
            except Exception as e:
                raise PassRegistrationError(f"{origin}: cannot load pass '{ep.name}': {type(e).__name__}: {e}") from None
            if not (isinstance(obj, type) and issubclass(obj, ModulePass)) and callable(obj):
                obj = obj()  # a function returning the class
            if not (isinstance(obj, type) and issubclass(obj, ModulePass)) or getattr(obj, "name", None) != ep.name:
                raise PassRegistrationError(
                    f"{origin}: entry point '{ep.name}' must name a ModulePass subclass whose name is '{ep.name}', "
                    f"got {obj!r}"
                )
            loaded.append(obj)
        return loaded[0]

    return factory


def pass_description(cls: type[ModulePass]) -> str:
    """The first sentence of a pass's documentation (its class docstring,
    else its module's, without the leading "`name`: ")."""
    import sys

    for doc in (cls.__doc__ if "__doc__" in vars(cls) else None, getattr(sys.modules.get(cls.__module__), "__doc__", None)):
        if doc and doc.strip() and not doc.strip().startswith(f"{cls.__name__}("):
            text = " ".join(doc.strip().split("\n\n")[0].split())
            prefix = f"`{cls.name}`:"
            if text.startswith(prefix):
                text = text[len(prefix) :].strip()
            return text[:1].upper() + text[1:]
    return DESCRIPTIONS.get(cls.name, "")


def pass_options(cls: type[ModulePass]) -> list[tuple[str, str, str, str]]:
    """(option, type, default, description) of each option of a pass: its
    dataclass fields in kebab case, with the docstring under each field."""
    import ast
    import dataclasses
    import inspect
    import textwrap

    docs: dict[str, str] = {}
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, after in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    except (OSError, TypeError, SyntaxError, IndexError):
        pass
    rows = []
    for f in dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ():
        if f.name == "name" or not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        if isinstance(default, bool):
            default = str(default).lower()
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        rows.append((f.name.replace("_", "-"), kind, str(default), docs.get(f.name, "")))
    return rows


def describe_passes() -> str:
    """Every registered pass with its description and options (`opt-tool --list-passes`)."""
    load_entry_points()
    lines = []
    for name in sorted(PASSES):
        try:
            cls = PASSES[name]()
        except PassError as e:
            lines.append(f"{name}\n    (cannot be loaded: {e})")
            continue
        origin = f"  [{ORIGINS[name]}]" if name in ORIGINS else ""
        lines.append(f"{name}{origin}\n    {pass_description(cls) or '(no description)'}")
        for opt, kind, default, doc in pass_options(cls):
            lines.append(f"    {opt}: {kind} = {default}" + (f"    {doc}" if doc else ""))
    return "\n".join(lines) + "\n"


class PipelineError(PassError):
    """A pipeline spec does not parse, names an unknown pass, or a pass failed."""


def parse_pipeline(spec: str) -> list[ModulePass]:
    """`"canonicalize,fuse{max-ops=4},plan"` -> pass instances, checked
    (plugin passes of installed packages are found first)."""
    load_entry_points()
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


class PassFailure(PipelineError):
    """A pass raised, or left IR that does not verify. Carries the pass
    (`pass_name`), the passes run before it (`done`), the failing op if
    the verifier named one (`op`, None otherwise), the error (`__cause__`)
    and, when asked for, a copy of the module before the pass (`before`)."""

    def __init__(self, message: str, pass_name: str, done: list[str], op=None, before: ModuleOp | None = None):
        Exception.__init__(self, message)  # (not CheckError's __init__, for PassVerifyError)
        self.pass_name, self.done, self.op, self.before = pass_name, done, op, before


class PassVerifyError(PassFailure, CheckError):
    """A pass left IR that does not verify (or was given such IR): a
    PassFailure that is also the verifier's CheckError (an xDSL
    VerifyException), as callers of the verifier expect."""


class PassInstrumentation:
    """Hooks of `run_pipeline` (like MLIR's PassInstrumentation): opt-tool's
    --print-ir-after-*, --time-passes, --pass-statistics and reproducers
    are written with them. The default hooks do nothing."""

    keep_before = False
    """Keep a copy of the module before each pass, for `PassFailure.before`."""

    def before_pass(self, p: ModulePass, module: ModuleOp) -> None:
        pass

    def after_pass(self, p: ModulePass, module: ModuleOp, seconds: float) -> None:
        pass

    def after_failure(self, p: ModulePass, module: ModuleOp, error: PassFailure) -> None:
        pass

    def describe_op(self, op) -> str:
        """Where an op is, for messages (opt-tool: the op's `file:line:col`)."""
        return describe_op(op)


def describe_op(op) -> str:
    """`hy.add %3 = ... (op 7 of @forward)`: an op for an error message, one line, constants elided."""
    from hybridize.ir.module import print_op

    text = " ".join(print_op(op, elide_larger_than=8).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    block, k = op.parent_block(), 0
    if block is not None:
        k = next((i for i, o in enumerate(block.ops) if o is op), 0)
    func = op.parent_op()
    fname = getattr(getattr(func, "sym_name", None), "data", None)
    return f"`{text}` (op {k} of @{fname})" if fname else f"`{text}`"


def find_invalid_op(module: ModuleOp):
    """(op, full message) of the first op that does not verify, innermost
    first, then the module-level checks (`hybridize.ir.checks`); None if
    the module verifies."""
    from xdsl.utils.exceptions import VerifyException

    from hybridize.ir.checks import CheckError, verify_module

    for op in module.walk(reverse=True):
        try:
            op.verify(verify_nested_ops=False)
        except VerifyException as e:
            from hybridize.ir.locations import where

            return op, f"{str(e).strip()}{where(op)}"  # with the op's source location, when it has one
        except Exception as e:  # a verifier tripping over IR it did not expect
            return op, f"{op.name}: invalid op ({type(e).__name__}: {first_line(e)})"
    try:
        verify_module(module)
    except CheckError as e:
        return e.op, str(e).strip()
    return None


def _has_plan(module: ModuleOp) -> bool:
    from xdsl.dialects.func import FuncOp

    from hybridize.ir.attributes import ARENA

    return any(isinstance(f, FuncOp) and ARENA in f.attributes for f in module.ops)


def run_pipeline(
    module: ModuleOp, spec: str | list[ModulePass], *, instrument: PassInstrumentation | None = None
) -> ModuleOp:
    """Run passes in order on `module` (in place) and return it. The module is
    verified after every pass; a failure is a `PassFailure` naming the pass,
    the ones before it, and the verifier's full message at the failing op.

    A pass that drops the memory plan an earlier pass of the same pipeline
    made (`-p plan,fuse`: `fuse` rewrites the ops the plan placed) is an
    error, not a silently unplanned module: put `plan` last, or run it again
    after that pass. (Re-optimizing a planned module with a new pipeline is
    fine: its `plan` is expected to come later.)"""
    passes = parse_pipeline(spec) if isinstance(spec, str) else spec
    inst = instrument or PassInstrumentation()
    ctx = make_context()
    done: list[str] = []
    planned_by = None  # the pass of this pipeline that made the module's plan
    for p in passes:
        before = module.clone() if inst.keep_before else None
        had_plan = _has_plan(module)
        after = f" (after {', '.join(done)})" if done else ""

        def fail(message: str, op=None, cause: BaseException | None = None, verify: bool = False):
            error = (PassVerifyError if verify else PassFailure)(message, p.name, list(done), op, before)
            error.__cause__ = cause
            inst.after_failure(p, module, error)
            raise error

        inst.before_pass(p, module)
        start = time.perf_counter()
        try:
            p.apply(ctx, module)
        except Exception as e:
            fail(f"pass '{p.name}'{after} failed: {type(e).__name__}: {str(e).strip() or type(e).__name__}", getattr(e, "op", None), e)
        seconds = time.perf_counter() - start
        has_plan = _has_plan(module)
        if had_plan and not has_plan and planned_by is not None:
            fail(
                f"pass '{p.name}'{after} dropped the memory plan that '{planned_by}' made (it rewrites the ops the "
                f"plan placed); put plan last, or run it again after {p.name} (e.g. {','.join([*done, p.name, 'plan'])})"
            )
        if has_plan and not had_plan:
            planned_by = p.name
        bad = find_invalid_op(module)
        if bad is not None:
            op, message = bad
            where = f" at {inst.describe_op(op)}" if op is not None else ""
            fail(f"pass '{p.name}'{after} left IR that does not verify{where}: {message}", op, verify=True)
        inst.after_pass(p, module, seconds)
        done.append(p.name)
    return module


__all__ = [
    "BUILTIN_PASSES",
    "DEFAULT_PIPELINE",
    "ENTRY_POINT_GROUP",
    "PASSES",
    "PassFailure",
    "PassInstrumentation",
    "PassVerifyError",
    "PassRegistrationError",
    "PipelineError",
    "describe_passes",
    "load_entry_points",
    "load_pass_plugin",
    "parse_pipeline",
    "register_pass",
    "run_pipeline",
]
