"""Compile the kernel library and generated C, through a validated cache.

Two kinds of binaries, both cached under `$XDG_CACHE_HOME/hybridize/c`
(`~/.cache/hybridize/c` by default):

- the kernel library (`library/*.c`: GEMM, packing, micro-kernels), compiled
  once per machine, compiler and flags into one object file;
- one cffi extension per generated source, linked with that object: a model's
  own C is only its schedule (calls with its shapes, fused epilogues), so a
  cold build takes about a second and a warm one only loads the module.

Every cache entry has a sidecar `.json` with its size and SHA-256, written
after the binary; an entry is loaded only when both match, so a truncated or
corrupted file is rebuilt, never loaded. Entries are touched on use and the
least recently used are removed when the cache grows past `cache_limit`
bytes. Builds run in a temporary folder and are renamed into place, so
concurrent processes never see half-written files.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hybridize.backends.c.isa import Target, target
from hybridize.errors import CBuildError

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
"""The kernel library's sources and its header `hy_kernels.h`."""

DEFAULT_CACHE_LIMIT = 2 << 30
"""Bytes the compile cache may hold before the least recently used entries go."""

log = logging.getLogger("hybridize.backends.c")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hybridize" / "c"


def library_sources() -> list[Path]:
    return sorted(LIBRARY_DIR.glob("*.c"))


@functools.cache
def library_text() -> str:
    """Every header and source of the kernel library, in a stable order: the
    library's cache key (read once per process)."""
    return "\n".join(p.read_text() for p in sorted(LIBRARY_DIR.glob("*.[ch]")))


# --- validated cache entries ---


def _digest(path: Path) -> tuple[int, str]:
    data = path.read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


def _valid(path: Path) -> bool:
    meta = path.with_name(path.name + ".json")
    try:
        record = json.loads(meta.read_text())
        size, sha = _digest(path)
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("size") == size and record.get("sha256") == sha


def _install(built: Path, path: Path) -> None:
    """Copy `built` into the cache as `path` with its sidecar, atomically each."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tag = f".{os.getpid()}.{time.monotonic_ns()}.tmp"
    staged = path.with_name(path.name + tag)
    shutil.copyfile(built, staged)
    size, sha = _digest(staged)
    meta_staged = path.with_name(path.name + ".json" + tag)
    meta_staged.write_text(json.dumps({"size": size, "sha256": sha}))
    os.replace(staged, path)
    os.replace(meta_staged, path.with_name(path.name + ".json"))


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def _evict(cache_dir: Path, limit: int, keep: set[Path]) -> None:
    """Remove the least recently used entries until the cache is under `limit` bytes."""
    entries = []
    total = 0
    for p in cache_dir.glob("*"):
        if p.suffix in (".json", ".tmp") or not p.is_file():
            continue
        try:
            st = p.stat()
        except OSError:
            continue
        total += st.st_size
        entries.append((st.st_mtime, st.st_size, p))
    for _, size, p in sorted(entries):
        if total <= limit:
            break
        if p in keep:
            continue
        for q in (p, p.with_name(p.name + ".json"), p.with_suffix(".c")):
            try:
                q.unlink()
            except OSError:
                pass
        total -= size


# --- the kernel library ---

_LIBRARIES: dict[tuple[str, Path], Path] = {}


def kernel_library(cache_dir: Path, tgt: Target | None = None, *, progress: bool = True) -> Path:
    """The compiled kernel library for this machine (built on first use)."""
    tgt = tgt or target()
    key = hashlib.sha256((tgt.key + "\0" + library_text()).encode()).hexdigest()[:24]
    memo = _LIBRARIES.get((key, cache_dir))
    if memo is not None:
        return memo
    path = cache_dir / f"hykernels-{key}.o"
    if not _valid(path):
        start = time.perf_counter()
        _say(progress, f"compiling the kernel library for this CPU ({tgt.describe()})")
        with tempfile.TemporaryDirectory(prefix="hybridize-lib-") as tmp:
            unit = Path(tmp) / "hykernels.c"
            unit.write_text("".join(f'#include "{p.name}"\n' for p in library_sources()))
            obj = Path(tmp) / "hykernels.o"
            cmd = [tgt.compiler, *tgt.flags, f"-I{LIBRARY_DIR}", "-c", str(unit), "-o", str(obj)]
            _run(cmd, "the kernel library")
            _install(obj, path)
        _say(progress, f"kernel library ready in {time.perf_counter() - start:.1f} s")
    _touch(path)
    _LIBRARIES[(key, cache_dir)] = path
    return path


def _run(cmd: list[str], what: str) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CBuildError(f"compiling {what} failed: {e}") from e
    if done.returncode:
        raise CBuildError(f"compiling {what} failed ({' '.join(cmd[:2])} ...):\n{done.stderr[-4000:]}")


def _say(progress: bool, text: str) -> None:
    log.info(text)
    if progress:
        print(f"hybridize: {text}", file=sys.stderr, flush=True)


# --- generated modules ---

_LOADED: dict[str, tuple] = {}


def compile_module(
    source: str,
    cdef: str,
    *,
    cache_dir: str | Path | None = None,
    cache_limit: int = DEFAULT_CACHE_LIMIT,
    what: str = "generated C",
    progress: bool = True,
):
    """Build (or load from the cache) a cffi module exposing `cdef`; returns (ffi, lib)."""
    import cffi

    cache_dir = (Path(cache_dir) if cache_dir is not None else default_cache_dir()).resolve()
    tgt = target()
    lib = kernel_library(cache_dir, tgt, progress=progress)
    key = "\0".join([source, cdef, tgt.key, lib.name, sys.implementation.cache_tag, cffi.__version__])
    name = "_hy_" + hashlib.sha256(key.encode()).hexdigest()[:24]
    if name in _LOADED:
        return _LOADED[name]
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    path = cache_dir / (name + suffix)
    if not _valid(path):
        start = time.perf_counter()
        lines = source.count("\n")
        if progress and lines > 2000:
            _say(progress, f"compiling {what} ({lines} lines of C)")
        else:
            log.info("compiling %s (%d lines of C)", what, lines)
        ffi = cffi.FFI()
        ffi.cdef(cdef)
        ffi.set_source(
            name,
            source,
            extra_compile_args=[*tgt.flags, "-Wno-unused-variable", "-Wno-unused-but-set-variable"],
            include_dirs=[str(LIBRARY_DIR)],
            extra_objects=[str(lib)],
            extra_link_args=["-fopenmp"],
        )
        with tempfile.TemporaryDirectory(prefix="hybridize-build-") as tmp:
            try:
                built = ffi.compile(tmpdir=tmp, verbose=False)
            except Exception as e:  # cffi wraps compiler failures in several types
                raise CBuildError(f"compiling {what} failed: {e}") from e
            _install(Path(built), path)
            shutil.copyfile(Path(tmp) / f"{name}.c", cache_dir / f"{name}.c")
        log.info("compiled %s in %.2f s", what, time.perf_counter() - start)
        _evict(cache_dir, cache_limit, keep={path, lib})
    _touch(path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as e:
        raise CBuildError(f"loading the compiled module {path} failed: {e}") from e
    _LOADED[name] = (module.ffi, module.lib)
    return _LOADED[name]
