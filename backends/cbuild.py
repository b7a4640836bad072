"""Compile generated C through cffi (API mode), once per distinct source.

The cache key is a hash of the source, the declaration, the compiler flags,
the compiler and the Python ABI, so a cache hit is always the same machine
code. Builds go to a temporary folder and are renamed into the cache, so two
processes building the same module never see half-written files.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

DEFAULT_FLAGS = (
    "-O3",
    "-march=native",
    "-fopenmp-simd",
    "-std=gnu11",
    "-fno-math-errno",
    "-Wno-unused-variable",
    "-Wno-unused-but-set-variable",
)


class CBuildError(RuntimeError):
    """The C compiler rejected generated code (a hybridize bug: please report)."""


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "hybridize" / "c"


_LOADED: dict[str, tuple] = {}


def compile_module(source: str, cdef: str, flags: tuple[str, ...] = DEFAULT_FLAGS, cache_dir: Path | None = None):
    """Build (or load from cache) a cffi module exposing `cdef`; returns (ffi, lib)."""
    import cffi

    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    compiler = sysconfig.get_config_var("CC") or "cc"
    key = "\0".join([source, cdef, " ".join(flags), compiler, sys.implementation.cache_tag, cffi.__version__])
    name = "_hy_" + hashlib.sha256(key.encode()).hexdigest()[:24]
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    target = cache_dir / (name + suffix)
    if name in _LOADED:
        return _LOADED[name]
    if not target.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        ffi = cffi.FFI()
        ffi.cdef(cdef)
        ffi.set_source(name, source, extra_compile_args=list(flags))
        with tempfile.TemporaryDirectory(prefix="hybridize-build-") as tmp:
            try:
                built = ffi.compile(tmpdir=tmp, verbose=False)
            except Exception as e:  # cffi wraps compiler failures in several types
                raise CBuildError(f"compiling generated C failed: {e}") from e
            staged = cache_dir / f".{name}.{os.getpid()}.tmp"
            shutil.copyfile(built, staged)
            os.replace(staged, target)
            shutil.copyfile(Path(tmp) / f"{name}.c", cache_dir / f"{name}.c")
    spec = importlib.util.spec_from_file_location(name, target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _LOADED[name] = (module.ffi, module.lib)
    return _LOADED[name]
