"""Standalone C export: a compiled model as C files that build and run
without Python.

    >>> hybridize.export(fast, "out", name="my_mlp")
    [PosixPath('out/my_mlp.h'), PosixPath('out/my_mlp.c'), PosixPath('out/main.c'), PosixPath('out/Makefile')]
    $ cd out && make && ./my_mlp input.bin output.bin        # or: cc -O3 -march=native -c my_mlp.c

Files written (`name` is the user's, checked to be a C identifier; nothing
from the model's own names reaches the C):

- `<name>.h`: the API: shapes and dtypes (`<NAME>_INPUT0_SHAPE`, ...), arena
  size, `int <name>_forward([long batch,] const float *in0, ..., float *out0, ..., void *arena)`,
  `<name>_set_threads`, `<name>_load_weights`, error codes and `<name>_strerror`;
- `<name>.c`: the tile defines the weights were packed for, the kernel library
  parts the model calls (headers inlined once), the generated schedule (its
  `hy_forward` made static, library symbols renamed `<name>_hy_*` so two
  exports link into one program) and the API;
- the weights: `static const` 64-byte aligned arrays in `<name>.c` when they
  total at most `embed_limit` bytes (or `weights="embed"`), else
  `<name>.weights`, read by `<name>_load_weights(path)`;
- `main.c` (a driver: raw input file or stdin -> raw output file or stdout)
  and a `Makefile`.

`<name>.weights` (integers little-endian):

    0   magic     "HYWEIGHT"
    8   version   u32 (WEIGHTS_VERSION)
    12  count     u32: entries of the constants table
    16  model     u64: the export's id (weights of another export are refused)
    24  payload   u64: bytes of the payload
    32  crc32     u32 (zlib's) of the table and the payload; then u32 0
    40  table     count x (offset u64, size u64), offsets relative to the payload, 64-aligned
    ..  payload   from the next multiple of 64

The loader checks each field against what the export compiled in (count,
model id, every tensor's size, the payload's size) before it allocates, reads
exactly the payload (a short or overlong file is an error), checks the CRC,
and only then replaces the weights in use: a bad file gives an error code,
never a crash.
"""

from __future__ import annotations

import hashlib
import keyword
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np

from hybridize.errors import BackendError

EMBED_LIMIT = 8 << 20
"""Weights up to this many bytes are embedded in `<name>.c` (`weights="auto"`)."""

WEIGHTS_MAGIC = b"HYWEIGHT"
WEIGHTS_VERSION = 1
_WEIGHTS_HEADER = struct.Struct("<8sIIQQII")
_ALIGN = 64

# Codes of the exported API beyond the generated function's own (`generate.ERRORS`).
API_ERRORS: dict[str, tuple[int, str]] = {
    "ARGUMENT": (16, "bad argument (NULL pointer, batch size out of range, or an arena not 64-byte aligned)"),
    "WEIGHTS_OPEN": (17, "cannot open the weights file"),
    "WEIGHTS_FORMAT": (18, "not a weights file, or a malformed one (bad magic, table or length)"),
    "WEIGHTS_VERSION": (19, "unsupported weights file version"),
    "WEIGHTS_MODEL": (20, "the weights file belongs to another model (table or sizes differ)"),
    "WEIGHTS_TRUNCATED": (21, "the weights file is truncated"),
    "WEIGHTS_CHECKSUM": (22, "the weights file is corrupted (checksum mismatch)"),
    "WEIGHTS_MISSING": (23, "no weights loaded (call _load_weights first)"),
    "WEIGHTS_NOMEM": (24, "out of memory reading the weights"),
}
_GENERATED_NAMES = {1: "INDEX", 2: "NOMEM"}

_C_KEYWORDS = set(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert _Thread_local main".split()
)


class ExportError(BackendError):
    """The export cannot be written: a bad name, or a directory that is not empty."""


def check_name(name: str) -> str:
    """`name` if it is a C identifier the API's symbols can start with, else ExportError."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", name) or name in _C_KEYWORDS:
        raise ExportError(
            f"export name {name!r} must be a C identifier (a letter, then letters, digits or _; at most 64) "
            "and not a C keyword"
        )
    if keyword.iskeyword(name) or name.startswith("hy_"):
        raise ExportError(f"export name {name!r} is reserved")
    return name


# --- the pieces of the library a schedule calls ---

_DEFINED = re.compile(r"^(?:int|void|double|float|long)\s+\**(hy_\w+)\s*\(", re.M)
_LOCAL_INCLUDE = re.compile(r'^#include "([\w.]+)"\s*$', re.M)


def library_unit(generated: str) -> tuple[str, list[str]]:
    """The library's headers (each once, dependencies first) and the sources
    `generated` calls (transitively), with their local includes removed; and
    the external symbols of the library, to be renamed."""
    from hybridize.backends.c.build import LIBRARY_DIR, library_sources

    sources = {p.name: p.read_text() for p in library_sources()}
    defined = {name: set(_DEFINED.findall(text)) for name, text in sources.items()}
    symbols = sorted(set().union(*defined.values()))
    wanted: list[str] = []
    todo = [generated]
    while todo:
        text = todo.pop()
        for name, syms in defined.items():
            if name not in wanted and any(re.search(rf"\b{s}\s*\(", text) for s in syms):
                wanted.append(name)
                todo.append(sources[name])
    headers: list[str] = []
    visiting: set[str] = set()

    def visit(header: str) -> None:  # dependencies first, each header once
        if header in headers or header in visiting:
            return
        visiting.add(header)
        for dep in _LOCAL_INCLUDE.findall((LIBRARY_DIR / header).read_text()):
            if dep.endswith(".h"):
                visit(dep)
        headers.append(header)

    for header in sorted(p.name for p in LIBRARY_DIR.glob("*.h")):
        visit(header)
    parts = [f"/* ---- library/{h} ---- */\n" + _LOCAL_INCLUDE.sub("", (LIBRARY_DIR / h).read_text()) for h in headers]
    parts += [f"/* ---- library/{s} ---- */\n" + _LOCAL_INCLUDE.sub("", sources[s]) for s in sorted(wanted)]
    return "\n".join(parts), symbols


# --- the files ---


def export_files(model, name: str, *, weights: str = "auto", embed_limit: int = EMBED_LIMIT) -> dict[str, bytes]:
    """The exported files of `model` (a `CompiledModel` or an IR module), by file name."""
    from xdsl.dialects.builtin import ModuleOp

    from hybridize.backends import _prepare
    from hybridize.backends.runtime import CompiledModel
    from hybridize.backends.c.isa import target

    check_name(name)
    if weights not in ("auto", "embed", "file"):
        raise ExportError(f"weights={weights!r}: choose auto, embed or file")
    module = model.module if isinstance(model, CompiledModel) else model
    if not isinstance(module, ModuleOp):
        raise TypeError(f"export: expected a CompiledModel or an IR module, got {type(model).__name__}")
    prog, source, _ = _prepare(module, "c")
    used = source.used
    tensors = [np.ascontiguousarray(c).tobytes() if i in used else b"" for i, c in enumerate(source.constants)]
    total = sum(map(len, tensors))
    embed = weights == "embed" or (weights == "auto" and total <= embed_limit)
    tgt = target()
    model_id = int.from_bytes(
        hashlib.sha256("\0".join([source.text, repr(tgt.tile), *map(str, map(len, tensors))]).encode()).digest()[:8],
        "little",
    )
    api = _Api(name, prog, tgt, len(tensors), embed)
    files = {f"{name}.h": api.header(), f"{name}.c": api.source(source.text, tensors, model_id)}
    if not embed:
        files[f"{name}.weights"] = weights_file(tensors, model_id)
    files["main.c"] = api.driver()
    files["Makefile"] = api.makefile(files)
    return {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}


def weights_file(tensors: list[bytes], model_id: int) -> bytes:
    """`<name>.weights` for the constants table `tensors` (b"" for the unused)."""
    table = bytearray()
    payload = bytearray()
    for data in tensors:
        payload += b"\0" * (-len(payload) % _ALIGN)
        table += struct.pack("<QQ", len(payload) if data else 0, len(data))
        payload += data
    crc = zlib.crc32(payload, zlib.crc32(table))
    head = _WEIGHTS_HEADER.pack(WEIGHTS_MAGIC, WEIGHTS_VERSION, len(tensors), model_id, len(payload), crc, 0)
    head += table
    return bytes(head + b"\0" * (-len(head) % _ALIGN) + payload)


def _payload_bytes(tensors: list[bytes]) -> int:
    n = 0
    for data in tensors:
        n += -n % _ALIGN
        n += len(data)
    return n


def export(model, out_dir: str | Path, name: str = "model", *, weights: str = "auto",
           embed_limit: int = EMBED_LIMIT, force: bool = False) -> list[Path]:
    """Write `export_files(model, name)` into `out_dir` and return their paths.

    An existing directory that holds anything is refused (`ExportError`)
    unless `force=True`, which overwrites the files of the export and leaves
    others alone. Each file is written to a temporary name and renamed."""
    files = export_files(model, name, weights=weights, embed_limit=embed_limit)
    return write_files(files, out_dir, force=force)


def write_files(files: dict[str, bytes], out_dir: str | Path, *, force: bool = False) -> list[Path]:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ExportError(f"{out}: directory is not empty (pass force=True, or --force, to overwrite the export's files)")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fname, data in files.items():
        path = out / fname
        tmp = out / f".{fname}.{os.getpid()}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)
        paths.append(path)
    return paths


def _embedded(index: int, data: bytes) -> list[str]:
    """`data` as a 64-byte aligned array of little-endian 64-bit words (fewer tokens than bytes: compiles fast)."""
    padded = data + b"\0" * (-len(data) % 8)
    words = np.frombuffer(padded, "<u8").tolist() or [0]
    lines = [f"static const uint64_t hy_w{index}[{len(words)}] __attribute__((aligned(64))) = {{"]
    for i in range(0, len(words), 8):
        lines.append(",".join(f"{w:#x}" for w in words[i : i + 8]) + ",")
    lines.append("};")
    return lines


class _Api:
    """The text of the header, the API part of the source, the driver and the Makefile."""

    def __init__(self, name: str, prog, tgt, n_consts: int, embed: bool):
        from hybridize.ir.types import DYNAMIC, element_kind, numpy_dtype, shape_of

        self.name, self.NAME = name, name.upper()
        self.prog, self.tgt, self.n_consts, self.embed = prog, tgt, n_consts, embed
        self.dynamic = prog.dynamic

        def spec(v):
            shape = shape_of(v)
            return {
                "ctype": element_kind(v).c,
                "dtype": numpy_dtype(v).name,
                "shape": [-1 if d == DYNAMIC else d for d in shape],
                "item": numpy_dtype(v).itemsize,
            }

        self.ins = [spec(v) for v in prog.inputs]
        self.outs = [spec(v) for v in prog.outputs]
        per = [prog.arena[1]] + [_static_bytes(s) for s in self.ins + self.outs if -1 in s["shape"]]
        self.max_batch = (1 << 62) // max(max(per), 1) if self.dynamic else 1
        if any(s["shape"].count(-1) > 1 for s in self.ins + self.outs):
            self.max_batch = min(self.max_batch, 1 << 20)

    # -- pieces --
    def params(self, types_only: bool = False) -> str:
        ps = ["long batch"] if self.dynamic else []
        ps += [f"const {s['ctype']} *in{i}" for i, s in enumerate(self.ins)]
        ps += [f"{s['ctype']} *out{i}" for i, s in enumerate(self.outs)]
        return ", ".join([*ps, "void *arena"])

    def errors(self) -> list[tuple[str, int, str]]:
        from hybridize.backends.c.generate import ERRORS

        codes = [("OK", 0, "success")]
        codes += [(f"ERR_{_GENERATED_NAMES.get(k, k)}", k, v) for k, v in sorted(ERRORS.items())]
        codes += [(f"ERR_{k}", code, text) for k, (code, text) in API_ERRORS.items()]
        return codes

    def header(self) -> str:
        n, N = self.name, self.NAME
        vb, mr, nr = self.tgt.tile
        lines = [
            f"/* {n}.h: the C API of a model exported by hybridize (standalone: no Python needed).",
            " *",
            f" *   forward{self.prog.signature()}",
            " *",
            f" * Build: cc -O3 -march=native -fno-math-errno -fno-trapping-math -fopenmp-simd -c {n}.c",
            " * (hybridize's C backend's flags: the same bits; -fopenmp instead of -fopenmp-simd runs threaded)",
            f" * The weights are packed for a {vb}-byte-vector {mr}x{nr} register tile ({self.tgt.isa}); build on a",
            " * CPU with that instruction set (the code compiles anywhere, but runs slowly without it).",
            f" * Weights: {'embedded in ' + n + '.c' if self.embed else n + '.weights, read by ' + n + '_load_weights()'}.",
            " *",
            " * Tensors are dense row-major arrays in native byte order. Inputs need no alignment; the arena",
            f" * must be {N}_ARENA_ALIGN-byte aligned and hold {n}_arena_bytes(batch) bytes; it is scratch",
            " * space and may be reused between calls, but calls sharing it must not overlap. Setting",
            " * threads and loading weights must not overlap with calls.",
            " *",
            f" *     void *arena = aligned_alloc({N}_ARENA_ALIGN, {n}_arena_bytes({'batch' if self.dynamic else '1'}) + {N}_ARENA_ALIGN);",
            f" *     int rc = {n}_forward({'batch, ' if self.dynamic else ''}{', '.join(f'in{i}' for i in range(len(self.ins)))}, "
            f"{', '.join(f'out{i}' for i in range(len(self.outs)))}, arena);",
            f" *     if (rc) fprintf(stderr, \"%s\\n\", {n}_strerror(rc));",
            " */",
            f"#ifndef {N}_H",
            f"#define {N}_H",
            "",
            "#include <stddef.h>",
            "#include <stdint.h>",
            "",
            "#ifdef __cplusplus",
            'extern "C" {',
            "#endif",
            "",
            f"#define {N}_NUM_INPUTS {len(self.ins)}",
            f"#define {N}_NUM_OUTPUTS {len(self.outs)}",
            f"#define {N}_DYNAMIC_BATCH {int(self.dynamic)}  /* 1: forward takes the batch size; -1 in a shape stands for it */",
            f"#define {N}_MAX_BATCH {self.max_batch}L",
            f"#define {N}_EMBEDDED_WEIGHTS {int(self.embed)}",
            "",
        ]
        for kind, specs in (("INPUT", self.ins), ("OUTPUT", self.outs)):
            for i, s in enumerate(specs):
                lines += [
                    f"/* {kind.lower()} {i}: {s['dtype']} {s['shape']} */",
                    f'#define {N}_{kind}{i}_DTYPE "{s["dtype"]}"',
                    f"#define {N}_{kind}{i}_RANK {len(s['shape'])}",
                    f"#define {N}_{kind}{i}_SHAPE {{{', '.join(map(str, s['shape'])) or '0'}}}",
                    f"#define {N}_{kind}{i}_BYTES(batch) ({_bytes_expr(s)})",
                ]
        static, per = self.prog.arena
        lines += [
            "",
            f"#define {N}_ARENA_ALIGN 64",
            f"#define {N}_ARENA_STATIC_BYTES {static}",
            f"#define {N}_ARENA_BATCH_BYTES {per}  /* arena bytes = STATIC + BATCH * batch */",
            "",
            "/* return codes */",
        ]
        lines += [f"#define {N}_{code} {value}  /* {text} */" for code, value, text in self.errors()]
        lines += [
            "",
            f"/* Run the model: 0, or an error code ({n}_strerror names it). */",
            f"int {n}_forward({self.params()});",
            "/* Bytes of arena a call at this batch size needs (0 if batch is out of range). */",
            f"size_t {n}_arena_bytes(long batch);",
            "/* Threads the kernels may use (default 1; more need -fopenmp); returns the previous value. */",
            f"int {n}_set_threads(int threads);",
            "/* Read the weights file (a no-op returning 0 when the weights are embedded). A bad file",
            "   returns an error code and keeps the weights in use. */",
            f"int {n}_load_weights(const char *path);",
            "/* Free the weights the last load read. */",
            f"void {n}_free_weights(void);",
            f"const char *{n}_strerror(int code);",
            "",
            "#ifdef __cplusplus",
            "}",
            "#endif",
            "",
            f"#endif /* {N}_H */",
            "",
        ]
        return "\n".join(lines)

    def source(self, generated: str, tensors: list[bytes], model_id: int) -> str:
        n, N = self.name, self.NAME
        vb, mr, nr = self.tgt.tile
        library, symbols = library_unit(generated)
        body = generated.replace('#include "hy_kernels.h"\n', "")
        body, count = re.subn(r"^int hy_forward\(", "static int hy_forward(", body, flags=re.M)
        assert count == 1, "the generated source defines hy_forward once"
        lines = [
            f"/* {n}.c: a model exported by hybridize (C backend): kernel library, schedule, weights, API.",
            f" * Standalone: cc -O3 -march=native -fno-math-errno -fno-trapping-math -fopenmp-simd -c {n}.c",
            " * (with -fopenmp: threaded). Generated: do not edit. */",
            f'#include "{n}.h"',
            "",
            "#include <stdint.h>",
            "#include <stdio.h>",
            "#include <stdlib.h>",
            "#include <string.h>",
            "",
            "/* the register tile the weights were packed for (the schedule checks it) */",
            f"#define HY_VB {vb}",
            f"#define HY_MR {mr}",
            f"#define HY_NR {nr}",
            "",
            "#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__",
            '#error "the weights are little-endian"',
            "#endif",
            "",
            "/* Built without the tile's ISA, wide vector types note an ABI change (only static functions pass them;",
            " * GCC reports it where code is emitted, so this one holds for the whole file). */",
            '#pragma GCC diagnostic ignored "-Wpsabi"',
            "/* Without OpenMP the library's `omp` pragmas are unknown and its thread counts unread. */",
            "#pragma GCC diagnostic push",
            "#ifndef _OPENMP",
            '#pragma GCC diagnostic ignored "-Wunknown-pragmas"',
            '#pragma GCC diagnostic ignored "-Wunused-but-set-variable"',
            "#endif",
            "/* The schedule declares every value it names, used or not. */",
            '#pragma GCC diagnostic ignored "-Wunused-variable"',
            '#pragma GCC diagnostic ignored "-Wunused-parameter"',
            "",
            "/* the library's external symbols, private to this export */",
            *[f"#define {s} {n}_{s}" for s in symbols],
            "",
            library,
            "",
            "/* ---- the model's schedule (backends/c/generate.py) ---- */",
            body,
            "#pragma GCC diagnostic pop",
            "",
            f"/* ---- weights: {sum(map(len, tensors))} bytes in {sum(1 for t in tensors if t)} tensors ---- */",
        ]
        if self.embed:
            for i, data in enumerate(tensors):
                if data:
                    lines += _embedded(i, data)
            table = ", ".join(f"hy_w{i}" if data else "0" for i, data in enumerate(tensors)) or "0"
            lines += [
                f"static const void *const hy_consts[{max(len(tensors), 1)}] = {{{table}}};",
                "",
                f"int {n}_load_weights(const char *path) {{ (void)path; return {N}_OK; }}",
                f"void {n}_free_weights(void) {{}}",
                "static int hy_loaded(void) { return 1; }",
            ]
        else:
            lines += self.loader(tensors, model_id)
        lines += self.api()
        return "\n".join(lines) + "\n"

    def loader(self, tensors: list[bytes], model_id: int) -> list[str]:
        n, N = self.name, self.NAME
        count = max(len(tensors), 1)
        sizes = ", ".join(f"{len(t)}u" for t in tensors) or "0u"
        table_bytes = 16 * len(tensors)
        head = _WEIGHTS_HEADER.size
        return [
            f"static const void *hy_consts[{count}];",
            "static unsigned char *hy_block; /* the payload the last good load read */",
            f"static const uint64_t hy_sizes[{count}] = {{{sizes}}};",
            f"#define HY_MODEL_ID {model_id:#x}ull",
            f"#define HY_COUNT {len(tensors)}u",
            f"#define HY_PAYLOAD {_payload_bytes(tensors)}ull",
            f"#define HY_HEAD {head}",
            f"#define HY_TABLE {table_bytes}",
            "",
            "static uint64_t hy_le(const unsigned char *p, int bytes)",
            "{",
            "    uint64_t v = 0;",
            "    for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p[i];",
            "    return v;",
            "}",
            "",
            "static uint32_t hy_crc32(uint32_t crc, const unsigned char *p, size_t n)",
            "{",
            "    static uint32_t table[256];",
            "    if (!table[1])",
            "        for (uint32_t i = 0; i < 256; ++i) {",
            "            uint32_t c = i;",
            "            for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;",
            "            table[i] = c;",
            "        }",
            "    crc = ~crc;",
            "    for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);",
            "    return ~crc;",
            "}",
            "",
            "static int hy_load(FILE *f)",
            "{",
            "    unsigned char head[HY_HEAD + HY_TABLE + 64];",
            "    const size_t want = (HY_HEAD + HY_TABLE + 63) / 64 * 64; /* header, table and padding */",
            "    const size_t got = fread(head, 1, want, f);",
            f"    if (got < 8) return got ? {N}_ERR_WEIGHTS_TRUNCATED : {N}_ERR_WEIGHTS_FORMAT;",
            f'    if (memcmp(head, "HYWEIGHT", 8)) return {N}_ERR_WEIGHTS_FORMAT;',
            f"    if (got < 12) return {N}_ERR_WEIGHTS_TRUNCATED;",
            f"    if (hy_le(head + 8, 4) != {WEIGHTS_VERSION}) return {N}_ERR_WEIGHTS_VERSION;",
            f"    if (got < 16) return {N}_ERR_WEIGHTS_TRUNCATED;",
            f"    if (hy_le(head + 12, 4) != HY_COUNT) return {N}_ERR_WEIGHTS_MODEL;",
            f"    if (got < want) return {N}_ERR_WEIGHTS_TRUNCATED;",
            f"    if (hy_le(head + 16, 8) != HY_MODEL_ID || hy_le(head + 24, 8) != HY_PAYLOAD) return {N}_ERR_WEIGHTS_MODEL;",
            "    for (unsigned i = 0; i < HY_COUNT; ++i) {",
            "        const uint64_t off = hy_le(head + HY_HEAD + 16 * i, 8), size = hy_le(head + HY_HEAD + 16 * i + 8, 8);",
            f"        if (size != hy_sizes[i]) return {N}_ERR_WEIGHTS_MODEL;",
            f"        if (off % 64 || off > HY_PAYLOAD || size > HY_PAYLOAD - off) return {N}_ERR_WEIGHTS_FORMAT;",
            "    }",
            "    unsigned char *block = aligned_alloc(64, (HY_PAYLOAD + 63) / 64 * 64 + 64);",
            f"    if (!block) return {N}_ERR_WEIGHTS_NOMEM;",
            "    if (fread(block, 1, HY_PAYLOAD, f) != HY_PAYLOAD) {",
            "        free(block);",
            f"        return {N}_ERR_WEIGHTS_TRUNCATED;",
            "    }",
            "    if (fgetc(f) != EOF) {",
            "        free(block);",
            f"        return {N}_ERR_WEIGHTS_FORMAT; /* trailing bytes */",
            "    }",
            "    const uint32_t crc = hy_crc32(hy_crc32(0, head + HY_HEAD, HY_TABLE), block, HY_PAYLOAD);",
            "    if (crc != (uint32_t)hy_le(head + 32, 4)) {",
            "        free(block);",
            f"        return {N}_ERR_WEIGHTS_CHECKSUM;",
            "    }",
            "    free(hy_block);",
            "    hy_block = block;",
            "    for (unsigned i = 0; i < HY_COUNT; ++i)",
            "        hy_consts[i] = hy_sizes[i] ? block + hy_le(head + HY_HEAD + 16 * i, 8) : 0;",
            f"    return {N}_OK;",
            "}",
            "",
            f"int {n}_load_weights(const char *path)",
            "{",
            f"    if (!path) return {N}_ERR_ARGUMENT;",
            '    FILE *f = fopen(path, "rb");',
            f"    if (!f) return {N}_ERR_WEIGHTS_OPEN;",
            "    const int rc = hy_load(f);",
            "    fclose(f);",
            "    return rc;",
            "}",
            "",
            f"void {n}_free_weights(void)",
            "{",
            "    free(hy_block);",
            "    hy_block = 0;",
            "    memset(hy_consts, 0, sizeof hy_consts);",
            "}",
            "",
            "static int hy_loaded(void) { return HY_COUNT == 0 || hy_block != 0; }",
        ]

    def api(self) -> list[str]:
        n, N = self.name, self.NAME
        ins = ", ".join(f"in{i}" for i in range(len(self.ins)))
        outs = ", ".join(f"out{i}" for i in range(len(self.outs)))
        nulls = " || ".join([f"!in{i}" for i in range(len(self.ins))] + [f"!out{i}" for i in range(len(self.outs))])
        args = ", ".join(a for a in ["hy_nthreads", "batch" if self.dynamic else "", ins, outs, "hy_consts", "arena"] if a)
        messages = "\n".join(f"    case {value}: return \"{text}\";" for _, value, text in self.errors())
        return [
            "",
            "/* ---- the API (" + n + ".h) ---- */",
            "static int hy_nthreads = 1;",
            "",
            f"int {n}_set_threads(int threads)",
            "{",
            "    const int before = hy_nthreads;",
            "#ifdef _OPENMP",
            "    hy_nthreads = threads < 1 ? 1 : threads;",
            "#else",
            "    (void)threads; /* no OpenMP: one thread */",
            "#endif",
            "    return before;",
            "}",
            "",
            f"size_t {n}_arena_bytes(long batch)",
            "{",
            f"    if (batch < 1 || batch > {N}_MAX_BATCH) return 0;",
            f"    return (size_t){N}_ARENA_STATIC_BYTES + (size_t){N}_ARENA_BATCH_BYTES * (size_t)batch;",
            "}",
            "",
            f"int {n}_forward({self.params()})",
            "{",
            *([] if self.dynamic else ["    const long batch = 1;"]),
            f"    if (batch < 1 || batch > {N}_MAX_BATCH{' || ' + nulls if nulls else ''}) return {N}_ERR_ARGUMENT;",
            f"    if ({n}_arena_bytes(batch) && (!arena || (uintptr_t)arena % {N}_ARENA_ALIGN)) return {N}_ERR_ARGUMENT;",
            f"    if (!hy_loaded()) return {N}_ERR_WEIGHTS_MISSING;",
            f"    return hy_forward({args});",
            "}",
            "",
            f"const char *{n}_strerror(int code)",
            "{",
            "    switch (code) {",
            messages,
            "    default: return \"unknown error code\";",
            "    }",
            "}",
        ]

    def driver(self) -> str:
        n, N = self.name, self.NAME
        n_in, n_out = len(self.ins), len(self.outs)
        in_bytes = [f"{N}_INPUT{i}_BYTES(batch)" for i in range(n_in)]
        out_bytes = [f"{N}_OUTPUT{i}_BYTES(batch)" for i in range(n_out)]
        fixed = sum(_static_bytes(s) for s in self.ins if -1 not in s["shape"])
        per = sum(_static_bytes(s) for s in self.ins if s["shape"].count(-1) == 1)
        quadratic = any(s["shape"].count(-1) > 1 for s in self.ins)
        casts_in = ", ".join(f"(const void *)in[{i}]" for i in range(n_in))
        casts_out = ", ".join(f"(void *)out[{i}]" for i in range(n_out))
        call_args = ", ".join(a for a in ["batch" if self.dynamic else "", casts_in, casts_out, "arena"] if a)
        infer = []
        if self.dynamic:
            if per and not quadratic:
                infer = [
                    "    if (batch == 0) { /* from the input's size */",
                    f"        if ({f'size < {fixed}u || ' if fixed else ''}(size - {fixed}u) % {per}u) {{",
                    f'            fprintf(stderr, "{n}: %zu input bytes is no whole batch (%u + %u * batch)\\n", size, {fixed}u, {per}u);',
                    "            return 1;",
                    "        }",
                    f"        batch = (long)((size - {fixed}u) / {per}u);",
                    "    }",
                ]
            else:
                infer = [f'    if (batch == 0) {{ fprintf(stderr, "{n}: give the batch size with -b\\n"); return 1; }}']
        weights = [] if self.embed else [
            f"    int rc = {n}_load_weights(weights);",
            f'    if (rc) {{ fprintf(stderr, "{n}: %s: %s\\n", weights, {n}_strerror(rc)); return 2; }}',
        ]
        return "\n".join([
            f"/* main.c: an example driver for {n} (generated by hybridize).",
            " *",
            f" *   ./{n} [-w {n}.weights] [-t threads] [-b batch] [-r repeats] [input.bin|-] [output.bin|-]",
            " *",
            " * Reads the inputs as raw bytes, one after another (native byte order, row-major; `-` or",
            " * nothing: stdin), runs the model and writes the outputs the same way (default: stdout).",
            " * With -r N it runs N times and prints the time per call on stderr. Exit: 0, 1 on a usage",
            " * or I/O error, 2 when the model returns an error code. */",
            "#define _POSIX_C_SOURCE 200809L",
            "#include <stdio.h>",
            "#include <stdlib.h>",
            "#include <string.h>",
            "#include <time.h>",
            "",
            f'#include "{n}.h"',
            "",
            "static unsigned char *read_all(FILE *f, size_t *size)",
            "{",
            "    size_t cap = 1 << 16, n = 0;",
            "    unsigned char *buf = malloc(cap);",
            "    while (buf) {",
            "        n += fread(buf + n, 1, cap - n, f);",
            "        if (n < cap) break;",
            "        unsigned char *more = realloc(buf, cap *= 2);",
            "        if (!more) free(buf);",
            "        buf = more;",
            "    }",
            "    if (buf && ferror(f)) { free(buf); buf = 0; }",
            "    *size = n;",
            "    return buf;",
            "}",
            "",
            "static void *alloc64(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64); }",
            "",
            "static long number(const char *text, const char *what)",
            "{",
            "    char *end;",
            "    const long v = strtol(text, &end, 10);",
            "    if (*text == 0 || *end != 0 || v < 0) {",
            f'        fprintf(stderr, "{n}: bad %s: %s\\n", what, text);',
            "        exit(1);",
            "    }",
            "    return v;",
            "}",
            "",
            "int main(int argc, char **argv)",
            "{",
            f'    const char *weights = "{n}.weights", *in_path = "-", *out_path = "-";',
            "    long batch = 0, repeats = 1, threads = 1;",
            "    int positional = 0;",
            "    for (int i = 1; i < argc; ++i) {",
            "        const char *a = argv[i];",
            '        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {',
            f'            printf("usage: %s [-w {n}.weights] [-t threads] [-b batch] [-r repeats] [input|-] [output|-]\\n", argv[0]);',
            "            return 0;",
            "        }",
            '        if (a[0] == \'-\' && a[1] && !a[2] && strchr("wtbr", a[1])) {',
            f'            if (i + 1 == argc) {{ fprintf(stderr, "{n}: %s needs a value\\n", a); return 1; }}',
            "            const char *v = argv[++i];",
            "            if (a[1] == 'w') weights = v;",
            '            else if (a[1] == \'t\') threads = number(v, "thread count");',
            '            else if (a[1] == \'b\') batch = number(v, "batch size");',
            '            else repeats = number(v, "repeat count");',
            "        } else if (a[0] == '-' && a[1]) {",
            f'            fprintf(stderr, "{n}: unknown option %s (see -h)\\n", a);',
            "            return 1;",
            "        } else if (positional == 0) {",
            "            in_path = a, positional = 1;",
            "        } else if (positional == 1) {",
            "            out_path = a, positional = 2;",
            "        } else {",
            f'            fprintf(stderr, "{n}: unexpected argument %s (see -h)\\n", a);',
            "            return 1;",
            "        }",
            "    }",
            "    (void)weights;",
            *weights,
            f"    {n}_set_threads((int)(threads > 1024 ? 1024 : threads));",
            "",
            '    FILE *fin = strcmp(in_path, "-") ? fopen(in_path, "rb") : stdin;',
            '    if (!fin) { perror(in_path); return 1; }',
            "    size_t size = 0;",
            "    unsigned char *data = read_all(fin, &size);",
            "    if (fin != stdin) fclose(fin);",
            f'    if (!data) {{ fprintf(stderr, "{n}: cannot read %s\\n", in_path); return 1; }}',
            *(infer if self.dynamic else ["    batch = 1;"]),
            f'    if (batch < 1 || batch > {N}_MAX_BATCH) {{ fprintf(stderr, "{n}: batch size %ld out of range\\n", batch); return 1; }}',
            f"    const size_t in_bytes[{max(n_in, 1)}] = {{{', '.join(in_bytes) or '0'}}};",
            f"    const size_t out_bytes[{max(n_out, 1)}] = {{{', '.join(out_bytes) or '0'}}};",
            "    size_t want = 0;",
            f"    for (int i = 0; i < {n_in}; ++i) want += in_bytes[i];",
            "    if (size != want) {",
            f'        fprintf(stderr, "{n}: %s holds %zu bytes, the inputs take %zu\\n", in_path, size, want);',
            "        return 1;",
            "    }",
            f"    unsigned char *in[{max(n_in, 1)}] = {{0}}, *out[{max(n_out, 1)}] = {{0}};",
            "    size_t at = 0;",
            f"    for (int i = 0; i < {n_in}; ++i) {{",
            "        in[i] = alloc64(in_bytes[i]);",
            f'        if (!in[i]) {{ fprintf(stderr, "{n}: out of memory\\n"); return 1; }}',
            "        memcpy(in[i], data + at, in_bytes[i]);",
            "        at += in_bytes[i];",
            "    }",
            f"    for (int i = 0; i < {n_out}; ++i) {{",
            "        out[i] = alloc64(out_bytes[i]);",
            f'        if (!out[i]) {{ fprintf(stderr, "{n}: out of memory\\n"); return 1; }}',
            "    }",
            f"    void *arena = alloc64({n}_arena_bytes(batch));",
            f'    if (!arena) {{ fprintf(stderr, "{n}: out of memory\\n"); return 1; }}',
            "",
            "    struct timespec t0, t1;",
            "    clock_gettime(CLOCK_MONOTONIC, &t0);",
            "    int status = 0;",
            "    for (long r = 0; r < (repeats ? repeats : 1) && !status; ++r)",
            f"        status = {n}_forward({call_args});",
            "    clock_gettime(CLOCK_MONOTONIC, &t1);",
            f'    if (status) {{ fprintf(stderr, "{n}: %s\\n", {n}_strerror(status)); return 2; }}',
            "    if (repeats > 1) {",
            "        const double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3;",
            f'        fprintf(stderr, "{n}: %ld calls, %.2f us per call\\n", repeats, us / (double)repeats);',
            "    }",
            "",
            '    FILE *fout = strcmp(out_path, "-") ? fopen(out_path, "wb") : stdout;',
            "    if (!fout) { perror(out_path); return 1; }",
            "    int failed = 0;",
            f"    for (int i = 0; i < {n_out}; ++i) failed |= fwrite(out[i], 1, out_bytes[i], fout) != out_bytes[i];",
            "    failed |= (fout != stdout ? fclose(fout) : fflush(fout)) != 0;",
            f'    if (failed) {{ fprintf(stderr, "{n}: cannot write %s\\n", out_path); return 1; }}',
            f"    for (int i = 0; i < {n_in}; ++i) free(in[i]);",
            f"    for (int i = 0; i < {n_out}; ++i) free(out[i]);",
            "    free(arena);",
            "    free(data);",
            f"    {n}_free_weights();",
            "    return 0;",
            "}",
            "",
        ])

    def makefile(self, files: dict) -> str:
        n = self.name
        return "\n".join([
            f"# Build the {n} driver (generated by hybridize). `make OPENMP=-fopenmp` runs threaded.",
            "CC ?= cc",
            "# hybridize's C backend's flags: results bit-identical to it (-fno-trapping-math and",
            "# -fopenmp-simd let the elementwise and reduction loops vectorize as they do there)",
            "OPENMP ?= -fopenmp-simd",
            "CFLAGS ?= -O3 -march=native -fno-math-errno -fno-trapping-math $(OPENMP)",
            "LDLIBS ?= -lm",
            "",
            f"{n}: main.c {n}.c {n}.h",
            f"\t$(CC) $(CFLAGS) -o $@ main.c {n}.c $(LDLIBS)",
            "",
            ".PHONY: clean",
            "clean:",
            f"\trm -f {n}",
            "",
        ])


def _static_bytes(spec) -> int:
    """Bytes of a tensor with every `?` read as 1."""
    count = 1
    for d in spec["shape"]:
        count *= 1 if d == -1 else d
    return count * spec["item"]


def _bytes_expr(spec) -> str:
    """The C expression for a tensor's bytes at `batch`."""
    dyn = spec["shape"].count(-1)
    return " * ".join(["(size_t)(batch)"] * dyn + [f"(size_t){_static_bytes(spec)}"])
