"""hybridize.backends: turn an optimized module into a callable.

    >>> model = build(module, backend="c")     # or "numpy"
    >>> y = model(x)                           # NumPy array or torch tensor
    >>> print(model.source)                    # the generated code

Both backends share one walker (`program.lower`) and differ only in their
per-op tables (`numpy.RULES`, `c.SCALAR` / `c.KERNELS`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from hybridize.backends.program import UnsupportedOpError, lower
from hybridize.backends.runtime import CompiledModel

BACKENDS = ("numpy", "c")


def generate_source(module: ModuleOp, backend: str) -> str:
    """The source `build` would compile, for inspection (`opt-tool -t c`)."""
    return _prepare(module, backend)[1]


def _prepare(module: ModuleOp, backend: str):
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
        return prog, c.generate(prog), module
    from hybridize.backends import numpy as np_backend

    prog = lower(module)
    return prog, np_backend.generate(prog), module


def build(module: ModuleOp, backend: str = "c", *, cache_dir: str | Path | None = None) -> CompiledModel:
    """Generate code for `module`'s @forward and return a callable running it."""
    prog, source, module = _prepare(module, backend)
    if backend == "numpy":
        from hybridize.backends import numpy as np_backend
        from hybridize.backends.runtime import numpy_runner

        arena = np.zeros(max(prog.arena[0], 1), np.uint8)
        forward = np_backend.load(source, prog.constants, arena)
        return CompiledModel(prog, backend, numpy_runner(forward), source, module)
    from hybridize.backends import c
    from hybridize.backends.cbuild import compile_module
    from hybridize.backends.runtime import c_runner

    ffi, lib = compile_module(source, c.declaration(prog), cache_dir=cache_dir)
    return CompiledModel(prog, backend, c_runner(prog, ffi, lib, prog.constants), source, module)


__all__ = ["BACKENDS", "CompiledModel", "UnsupportedOpError", "build", "generate_source"]
