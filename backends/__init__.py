"""hybridize.backends: turn an optimized module into a callable.

    >>> model = build(module, backend="c")     # or "numpy"
    >>> y = model(x)                           # NumPy array or torch tensor
    >>> print(model.source)                    # the generated code

Both backends share one walker (`program.lower`) and differ only in their
per-op tables (`numpy.RULES`, `c.SCALAR` / `c.KERNELS`).
"""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from hybridize.backends.program import UnsupportedOpError, lower
from hybridize.backends.runtime import CompiledModel

BACKENDS = ("numpy", "c")


def generate_source(module: ModuleOp, backend: str) -> str:
    """The source `build` would compile, for inspection (`opt-tool -t c`)."""
    source = _prepare(module, backend)[1]
    return source if isinstance(source, str) else source.text


def _prepare(module: ModuleOp, backend: str, profile: bool = False):
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    module.verify()
    if backend == "c":
        from hybridize.ir.attributes import ARENA
        from hybridize.ir.module import forward_func

        if ARENA not in forward_func(module).attributes:
            # C needs every intermediate placed: plan a copy, leave the caller's module alone.
            from hybridize.passes import run_pipeline

            module = run_pipeline(module.clone(), "plan")
        from hybridize.backends import c

        prog = lower(module)
        return prog, c.generate(prog, profile=profile), module
    from hybridize.backends import numpy as np_backend

    prog = lower(module)
    return prog, np_backend.generate(prog), module


def default_threads() -> int:
    """`OMP_NUM_THREADS` when set, else the cores this process may run on."""
    import os

    try:
        n = int(os.environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        n = 0
    if n > 0:
        return n
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def build(
    module: ModuleOp,
    backend: str = "c",
    *,
    threads: int | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    profile: bool = False,
) -> CompiledModel:
    """Generate code for `module`'s @forward and return a callable running it.

    C backend options: `threads` for the kernels' parallel loops (default:
    `OMP_NUM_THREADS` if set, else the machine's cores; small ops always run
    on one), `cache_dir` for compiled code (default
    `$XDG_CACHE_HOME/hybridize/c`), `progress` for the stderr line a cold
    build prints (it also goes to the `hybridize.backends.c` logger),
    `profile` to time every step (`model.profile()` then lists them).
    """
    with _collector_paused():
        return _build(module, backend, threads, cache_dir, progress, profile)


@contextlib.contextmanager
def _collector_paused():
    """Keep Python's cyclic collector off while a build runs. A build makes
    many short-lived objects (freed by reference counting); in a process that
    also holds a framework's heap (torch: ~350k objects) their allocations
    trigger full collections of that heap, ~0.17 s each. Paused, a build right
    after `trace` pays at most the one collection the trace already owed (on
    leaving) instead of two or more."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _build(module, backend, threads, cache_dir, progress, profile) -> CompiledModel:
    prog, source, module = _prepare(module, backend, profile=profile)
    if backend == "numpy":
        from hybridize.backends import numpy as np_backend
        from hybridize.backends.runtime import numpy_runner

        arena = np.zeros(max(prog.arena[0], 1), np.uint8)
        forward = np_backend.load(source, prog.constants, arena)
        return CompiledModel(prog, backend, numpy_runner(forward), source, module, {"profile": profile})
    from hybridize.backends import c
    from hybridize.backends.c.build import compile_module
    from hybridize.backends.runtime import c_runner

    n_ops = sum(1 for _ in prog.steps)
    cdef = c.declaration(prog)
    if profile:
        cdef += f"\nvoid {c.PROFILE_FUNCTION}(double *seconds);"
    ffi, lib = compile_module(source.text, cdef, cache_dir=cache_dir, what=f"a model of {n_ops} ops", progress=progress)
    threads = None if threads is None else max(1, int(threads))
    options = {"threads": threads, "profile": profile}
    run = c_runner(prog, ffi, lib, source.constants, source.used, default_threads() if threads is None else threads)
    model = CompiledModel(prog, backend, run, source.text, module, options)
    if profile:
        model._profile = (ffi, getattr(lib, c.PROFILE_FUNCTION), source.profiled)
    return model


__all__ = ["BACKENDS", "CompiledModel", "UnsupportedOpError", "build", "default_threads", "generate_source"]
