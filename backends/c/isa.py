"""The machine the C backend builds for: its compiler, its CPU's features and
the register tile chosen from them.

`-march=native` is resolved by asking the compiler which target macros it
defines, so the compile cache is keyed by the CPU's real features (never by
the literal flag): a cache shared between an AVX-512 and an AVX2 machine
never hands one the other's binary.

    >>> t = target()
    >>> t.isa, t.tile                     # on an AVX-512 machine
    ('avx512f', (64, 12, 32))
    >>> t.defines
    ('-DHY_VB=64', '-DHY_MR=12', '-DHY_NR=32')
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass

from hybridize.errors import BackendError

TILES: tuple[tuple[str, str, int, int, int], ...] = (
    # (name, macro the compiler defines, vector bytes, MR, NR): measured best tiles
    ("avx512f", "__AVX512F__", 64, 12, 32),
    ("avx2", "__AVX2__", 32, 6, 16),
    ("avx", "__AVX__", 32, 6, 16),
    ("neon", "__ARM_NEON", 16, 6, 8),
    ("generic", "", 16, 6, 8),
)
"""Register tiles per ISA, first match wins; the kernel library reads them as -D flags."""

BASE_FLAGS = ("-O3", "-std=gnu11", "-fno-math-errno", "-fno-trapping-math", "-fopenmp", "-fPIC")
"""Flags of every compile (the library and generated code), besides `-march`.
`-fno-trapping-math` lets GCC if-convert selects in loops (a clamp, a
`x < 1 ? p : q`): without it no loop calling `hy_erff` or `hy_expf_neg`
vectorizes (GELU's epilogue ran scalar). Values are unchanged: it assumes
no one traps on IEEE exceptions, not that there are no NaNs or infinities."""

# Macros that name CPU features (x86 and Arm) and the compiler's tuning target (`__tune_znver3__`:
# the library tunes on it), the cache key's part of the machine.
_FEATURE = re.compile(r"#define (__(?:AVX|SSE|FMA|F16C|BMI|AMX|ARM_FEATURE|ARM_NEON|aarch64|x86_64|tune_)\w*__?) ")


@dataclass(frozen=True)
class Target:
    compiler: str
    version: str
    features: tuple[str, ...]
    isa: str
    tile: tuple[int, int, int]  # vector bytes, MR, NR
    march: str = "native"  # another value builds for an older CPU (tests run AVX2 code on AVX-512)

    @property
    def defines(self) -> tuple[str, ...]:
        vb, mr, nr = self.tile
        return (f"-DHY_VB={vb}", f"-DHY_MR={mr}", f"-DHY_NR={nr}")

    @property
    def flags(self) -> tuple[str, ...]:
        return (*BASE_FLAGS, f"-march={self.march}", *self.defines)

    @property
    def key(self) -> str:
        """What a cached binary depends on besides its source."""
        text = "\0".join([self.compiler, self.version, *self.features, *self.flags])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        vb, mr, nr = self.tile
        return f"{self.isa}, {vb * 8}-bit vectors, {mr}x{nr} tile"


def compiler() -> str:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        for alt in ("cc", "gcc", "clang"):
            if shutil.which(alt):
                return alt
        raise BackendError("the C backend needs a C compiler (gcc or clang) on PATH: apt-get install -y gcc")
    return cc


_OVERRIDE: list[Target] = []


def target() -> Target:
    """The machine generated C is built for: this CPU (probed once per process),
    unless `building_for` says otherwise."""
    return _OVERRIDE[-1] if _OVERRIDE else probe("native")


class building_for:
    """`with building_for("haswell"): build(...)` builds for another `-march`
    (an older CPU this one can run: tests check AVX2 and SSE code on AVX-512)."""

    def __init__(self, march: str):
        self.target = probe(march)

    def __enter__(self) -> Target:
        _OVERRIDE.append(self.target)
        return self.target

    def __exit__(self, *exc) -> None:
        _OVERRIDE.remove(self.target)


@functools.cache
def probe(march: str = "native") -> Target:
    """Ask the compiler once: its version and the feature macros `-march=<march>` turns on."""
    cc = compiler()
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout.split("\n")[0]
        macros = subprocess.run(
            [cc, f"-march={march}", "-dM", "-E", "-x", "c", "-"],
            input="",
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BackendError(f"probing the C compiler {cc!r} failed: {e}") from e
    features = tuple(sorted(set(_FEATURE.findall(macros))))
    defined = set(re.findall(r"#define (\w+)", macros))
    for name, macro, vb, mr, nr in TILES:
        if not macro or macro in defined:
            return Target(cc, version, features, name, (vb, mr, nr), march)
    raise AssertionError("TILES ends with a generic entry")
