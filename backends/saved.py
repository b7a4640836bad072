"""The `.hyb` file: one compiled model (its optimized IR, build options and
weights) that reloads in a fresh process without torch or MXNet.

    >>> model.save("my_mlp.hyb")
    >>> same = hybridize.load("my_mlp.hyb")       # rebuilds; the compile cache usually hits

Layout (integers little-endian):

    0   magic     8 bytes  b"\\x89HYB\\r\\n\\x1a\\n"
    8   version   u32      FORMAT_VERSION
    12  meta_len  u32      bytes of the JSON metadata
    16  sha256    32 bytes of everything after this field (metadata and payload)
    48  metadata  JSON: {"backend", "options", "signature", "ir": {offset, size},
                         "tensors": [{dtype, shape, offset, size}, ...]}
    ..  payload   from the next multiple of 64: the IR text, then each tensor's bytes
                  (offsets are relative to the payload)

The IR is printed with source locations and with every `hy.constant`'s data moved out: its value is a
one-element splat of the right type and its `hy.saved = i` attribute names
tensor `i`; loading parses the text and puts the tensors back. So a file is
plain data: nothing in it is executed (no pickle), and every field is checked
before use (magic, version, checksum, metadata types, sizes against shapes,
tensors against the constants' types, the input/output structure spec
of `hybridize.backends.structure`); any failure is a `SavedModelError`
naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import BytesAttr, DenseIntOrFPElementsAttr, IntegerAttr, ModuleOp

from hybridize.errors import SavedModelError

MAGIC = b"\x89HYB\r\n\x1a\n"
FORMAT_VERSION = 1
SAVED = "hy.saved"
"""The attribute that replaces a constant's data in the stored IR: the tensor's index."""

_FIXED = struct.Struct("<8sII32s")
_ALIGN = 64


def dumps(module: ModuleOp, backend: str, options: dict, signature: str = "") -> bytes:
    """The `.hyb` bytes of `module` (the IR a model was built from) and its build options."""
    from hybridize.ir.module import print_module
    from hybridize.ir.structure import ConstantOp

    stripped = module.clone()
    tensors: list[np.ndarray] = []
    for op in stripped.walk():
        if isinstance(op, ConstantOp):
            array = op.numpy()
            tensors.append(array)
            if array.size:
                placeholder = np.zeros(1, array.dtype).tobytes()
                op.properties["value"] = DenseIntOrFPElementsAttr(op.value.type, BytesAttr(placeholder))
            op.attributes[SAVED] = IntegerAttr(len(tensors) - 1, 64)
    ir = print_module(stripped, debuginfo=True).encode()  # source locations kept
    table = []
    payload = bytearray(ir)
    for array in tensors:
        payload += b"\0" * (-len(payload) % _ALIGN)
        data = np.ascontiguousarray(array).tobytes()
        table.append({"dtype": array.dtype.name, "shape": list(array.shape), "offset": len(payload), "size": len(data)})
        payload += data
    meta = {
        "format": "hybridize.hyb",
        "backend": backend,
        "options": options,
        "signature": signature,
        "ir": {"offset": 0, "size": len(ir)},
        "tensors": table,
        "payload": len(payload),
    }
    meta_bytes = json.dumps(meta, sort_keys=True).encode()
    pad = b"\0" * (-(_FIXED.size + len(meta_bytes)) % _ALIGN)
    body = meta_bytes + pad + payload
    return _FIXED.pack(MAGIC, FORMAT_VERSION, len(meta_bytes), hashlib.sha256(body).digest()) + body


def save(path: str | Path, module: ModuleOp, backend: str, options: dict, signature: str = "") -> Path:
    """Write `dumps(...)` to `path` (through a temporary file, so a crash never leaves half a file)."""
    import os

    path = Path(path)
    data = dumps(module, backend, options, signature)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


_DTYPES = {"float32", "float64", "int64", "int32", "bool"}
_OPTIONS = {"threads": (int, type(None)), "profile": (bool,)}


def loads(data: bytes, name: str = "<bytes>") -> tuple[ModuleOp, str, dict]:
    """`(module, backend, options)` from `.hyb` bytes; `name` is what errors call the file."""

    def bad(problem: str) -> SavedModelError:
        return SavedModelError(f"{name}: {problem}")

    data = memoryview(data).cast("B")
    if len(data) < _FIXED.size:
        raise bad(f"truncated: {len(data)} bytes, not even the {_FIXED.size}-byte header (not a .hyb file?)")
    magic, version, meta_len, digest = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise bad("not a hybridize saved model (wrong magic bytes)")
    if version != FORMAT_VERSION:
        raise bad(f"format version {version}, this hybridize reads version {FORMAT_VERSION}")
    body = data[_FIXED.size :]
    if meta_len > len(body):
        raise bad(f"truncated: the metadata needs {meta_len} bytes, the file has {len(body)} after the header")
    if hashlib.sha256(body).digest() != digest:
        raise bad("checksum mismatch: the file is truncated or corrupted")
    try:
        meta = json.loads(bytes(body[:meta_len]).decode())
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"unreadable metadata: {e}") from None
    start = _FIXED.size + meta_len
    start += -start % _ALIGN
    payload = data[start:]
    backend, options, ir_span, table = _check_meta(meta, len(payload), bad)
    from hybridize.backends import BACKENDS

    if backend not in BACKENDS:
        raise bad(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    tensors = []
    for i, t in enumerate(table):
        shape = tuple(t["shape"])
        dtype = np.dtype(t["dtype"])
        if math.prod(shape) * dtype.itemsize != t["size"]:
            raise bad(f"tensor {i}: shape {list(shape)} of {dtype.name} needs {math.prod(shape) * dtype.itemsize} bytes, "
                      f"the table says {t['size']}")
        raw = payload[t["offset"] : t["offset"] + t["size"]]
        tensors.append(np.frombuffer(raw, dtype.newbyteorder("<") if dtype.itemsize > 1 else dtype).reshape(shape))
    module = _parse(bytes(payload[ir_span[0] : ir_span[0] + ir_span[1]]), name, bad)
    _restore(module, tensors, bad)
    return module, backend, options


def _check_meta(meta, payload_bytes: int, bad):
    """The metadata's fields, type-checked, with every span inside the payload."""
    if not isinstance(meta, dict) or meta.get("format") != "hybridize.hyb":
        raise bad("metadata is not a hybridize.hyb record")

    def span(what: str, rec) -> tuple[int, int]:
        if not isinstance(rec, dict):
            raise bad(f"{what}: expected a record, got {type(rec).__name__}")
        off, size = rec.get("offset"), rec.get("size")
        if not all(type(v) is int and v >= 0 for v in (off, size)):
            raise bad(f"{what}: offset and size must be non-negative integers")
        if off + size > payload_bytes:
            raise bad(f"truncated: {what} spans bytes {off}..{off + size} of a {payload_bytes}-byte payload")
        return off, size

    backend, options, tensors = meta.get("backend"), meta.get("options"), meta.get("tensors")
    if meta.get("payload") != payload_bytes:
        raise bad(f"truncated: the metadata declares a {meta.get('payload')}-byte payload, the file holds {payload_bytes}")
    if not isinstance(backend, str) or not isinstance(options, dict) or not isinstance(tensors, list):
        raise bad("metadata lacks backend, options or tensors")
    for key, value in options.items():
        if key not in _OPTIONS or not isinstance(value, _OPTIONS[key]):
            raise bad(f"unknown or ill-typed build option {key!r}: {value!r}")
    ir = span("the IR", meta.get("ir"))
    for i, t in enumerate(tensors):
        span(f"tensor {i}", t)
        shape = t.get("shape")
        if t.get("dtype") not in _DTYPES:
            raise bad(f"tensor {i}: unsupported dtype {t.get('dtype')!r}")
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape) or len(shape) > 64:
            raise bad(f"tensor {i}: shape must be a list of non-negative integers, got {shape!r}")
    return backend, options, ir, tensors


def _parse(text: bytes, name: str, bad) -> ModuleOp:
    from xdsl.utils.exceptions import ParseError, VerifyException

    from hybridize.ir.module import parse_module

    from hybridize.backends.structure import StructureError, of_module

    try:
        module = parse_module(text.decode(), name)
        of_module(module)  # the input/output structure (plain JSON) is well formed
        return module
    except StructureError as e:
        raise bad(f"the stored IR's {e}") from None
    except UnicodeDecodeError as e:
        raise bad(f"the IR is not UTF-8 text: {e}") from None
    except (ParseError, VerifyException, ValueError) as e:
        raise bad(f"the stored IR does not parse: {str(e).strip().splitlines()[0] if str(e).strip() else e}") from None


def _restore(module: ModuleOp, tensors: list[np.ndarray], bad) -> None:
    """Give every `hy.constant` its tensor back; each tensor is used exactly once, by a constant of its type."""
    from hybridize.ir.structure import ConstantOp, dense_attr
    from hybridize.ir.types import numpy_dtype, shape_of

    seen = 0
    for op in module.walk():
        if not isinstance(op, ConstantOp):
            continue
        index = op.attributes.pop(SAVED, None)
        if not isinstance(index, IntegerAttr) or index.value.data != seen or seen >= len(tensors):
            raise bad(f"constant {seen} of the IR does not name tensor {seen} of the table")
        array = tensors[seen]
        want = (tuple(shape_of(op.result)), numpy_dtype(op.result.type))
        if (array.shape, array.dtype.newbyteorder("=")) != (want[0], want[1]):
            raise bad(f"tensor {seen}: {list(array.shape)} of {array.dtype.name} does not match its constant's "
                      f"type {op.result.type}")
        op.properties["value"] = dense_attr(array, op.result.type)
        seen += 1
    if seen != len(tensors):
        raise bad(f"the table holds {len(tensors)} tensors, the IR has {seen} constants")


def load_bytes(data: bytes, name: str = "<bytes>", **build_options):
    """A `CompiledModel` from `.hyb` bytes: the saved options, overridden by `build_options`."""
    from hybridize.backends import build

    module, backend, options = loads(data, name)
    return build(module, backend, **{**options, **build_options})


def load(path: str | Path, **build_options):
    """`hybridize.load(path)`: the model `CompiledModel.save(path)` wrote, rebuilt.

    `build_options` (`threads`, `cache_dir`, `progress`, `profile`) override
    the saved ones."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SavedModelError(f"{path}: cannot read: {e.strerror or e}") from None
    return load_bytes(data, str(path), **build_options)


def _unpickle(data: bytes):
    """What a pickled `CompiledModel` reduces to: its `.hyb` bytes, rebuilt (quietly)."""
    return load_bytes(data, "<pickle>", progress=False)
