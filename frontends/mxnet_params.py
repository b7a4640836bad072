"""MXNet `.params` files (a saved NDArray list), read without MXNet.

    >>> params = load_params("resnet18_v1-0000.params")
    >>> params["arg:resnetv10_conv0_weight"].shape
    (64, 3, 7, 7)

The format, little-endian and unpadded (MXNet 1.x `NDArray::Save`):

    u64 0x112 | u64 0 | u64 N | N x record | u64 M (0 or N) | M x (u64 length, UTF-8 name)
    record: u32 magic 0xF993FAC9 (V2) or 0xF993FACA (V3, numpy shape semantics)
            i32 storage type (0 dense, 1 row_sparse, 2 csr)
            [sparse: storage shape]
            shape: i32 ndim, ndim x i64
            -- a "none" array ends here: V2 with ndim 0, V3 with ndim -1 or a dim -1
            i32 device type, i32 device id, i32 dtype flag
            [sparse: per aux array (1 row_sparse, 2 csr) i32 dtype flag and a shape]
            raw C-order data (of the storage shape when sparse), then the aux data

Files come from anywhere, so the reader trusts nothing: every count and shape is
checked against the bytes that are left *before* anything is allocated (a crafted
shape cannot ask for terabytes: the arrays together never exceed the file), and
bad magic, unknown dtype flags, negative dims, sparse storage, duplicate names
and trailing bytes are errors that say where in the file they are. Arrays are
only materialized once the whole file has been walked.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from hybridize.frontends import FrontendError

LIST_MAGIC = 0x112
V2_MAGIC = 0xF993FAC9
V3_MAGIC = 0xF993FACA
MAX_NDIM = 32
"""More dimensions than any real array has; a larger count means a corrupted file."""

DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("<f8"),
    2: np.dtype("<f2"),
    3: np.dtype("u1"),
    4: np.dtype("<i4"),
    5: np.dtype("i1"),
    6: np.dtype("<i8"),
    7: np.dtype("?"),
}
"""MXNet's dtype flag -> NumPy dtype (as stored: little-endian)."""

STORAGE = {0: "dense", 1: "row_sparse", 2: "csr"}
_AUX_ARRAYS = {1: 1, 2: 2}  # aux arrays per sparse storage type (indices; indptr + indices)
_MIN_RECORD = 12  # magic, storage type, ndim


class ParamsFormatError(FrontendError):
    """A `.params` file is malformed; the message names the file and byte offset."""


@dataclass
class _Record:
    """One array as found in the file, before its data is copied out."""

    offset: int  # where the record starts (for messages)
    storage: int
    shape: tuple[int, ...] | None  # None: a "none" array
    dtype: np.dtype | None = None
    data_at: int = 0
    aux: list = field(default_factory=list)


class _Reader:
    """A cursor over the file's bytes whose every read is bounds-checked."""

    def __init__(self, data: bytes | memoryview, where: str):
        self.data = memoryview(data).cast("B")
        self.where = where
        self.pos = 0

    @property
    def left(self) -> int:
        return len(self.data) - self.pos

    def fail(self, message: str, at: int | None = None) -> ParamsFormatError:
        return ParamsFormatError(f"{self.where}: byte {self.pos if at is None else at}: {message}")

    def need(self, n: int, what: str) -> None:
        if n > self.left:
            raise self.fail(
                f"{what} needs {n} bytes but only {self.left} are left (truncated or corrupted file)"
            )

    def unpack(self, fmt: str, what: str):
        size = struct.calcsize(fmt)
        self.need(size, what)
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values if len(values) > 1 else values[0]

    def skip(self, n: int, what: str) -> int:
        self.need(n, what)
        start = self.pos
        self.pos += n
        return start


def _read_shape(r: _Reader, what: str, v3: bool) -> tuple[int, ...] | None:
    """A shape, or None for an unknown one (V3: ndim -1 or a dim -1)."""
    at = r.pos
    ndim = r.unpack("<i", f"{what}: ndim")
    if v3 and ndim == -1:
        return None
    if ndim < 0 or ndim > MAX_NDIM:
        raise r.fail(f"{what}: ndim {ndim} is out of range (0 to {MAX_NDIM})", at)
    r.need(8 * ndim, f"{what}: {ndim} dims")
    dims = struct.unpack_from(f"<{ndim}q", r.data, r.pos)
    if v3 and -1 in dims:
        r.pos += 8 * ndim
        return None
    if any(d < 0 for d in dims):
        raise r.fail(f"{what}: negative dimension in shape {dims}", r.pos)
    r.pos += 8 * ndim
    return tuple(dims)


def _read_dtype(r: _Reader, what: str) -> np.dtype:
    at = r.pos
    flag = r.unpack("<i", f"{what}: dtype flag")
    if flag not in DTYPES:
        known = ", ".join(f"{k} {v.name}" for k, v in DTYPES.items())
        raise r.fail(f"{what}: unknown dtype flag {flag} (known: {known})", at)
    return DTYPES[flag]


def _skip_data(r: _Reader, shape: tuple[int, ...], dtype: np.dtype, what: str) -> int:
    count = 1
    for d in shape:
        count *= d  # Python ints: no overflow, however large the claim
    nbytes = count * dtype.itemsize
    if nbytes > r.left:
        raise r.fail(
            f"{what}: shape {shape} of {dtype.name} needs {nbytes} bytes but only {r.left} "
            "are left (truncated or corrupted file)"
        )
    return r.skip(nbytes, what)


def _read_record(r: _Reader, i: int) -> _Record:
    what = f"array {i}"
    start = r.pos
    magic = r.unpack("<I", f"{what}: magic")
    if magic not in (V2_MAGIC, V3_MAGIC):
        raise r.fail(
            f"{what}: unknown record magic 0x{magic:08X} (expected 0x{V2_MAGIC:08X} or "
            f"0x{V3_MAGIC:08X}; files saved before MXNet 1.0 are not supported)",
            start,
        )
    v3 = magic == V3_MAGIC
    at = r.pos
    storage = r.unpack("<i", f"{what}: storage type")
    if storage not in STORAGE:
        raise r.fail(f"{what}: unknown storage type {storage} (known: 0 dense, 1 row_sparse, 2 csr)", at)
    storage_shape = None
    if storage != 0:
        storage_shape = _read_shape(r, f"{what}: storage shape", v3)
    shape = _read_shape(r, f"{what}: shape", v3)
    if shape is None or (not v3 and len(shape) == 0):
        return _Record(start, storage, None)
    r.unpack("<ii", f"{what}: device")
    dtype = _read_dtype(r, what)
    rec = _Record(start, storage, shape, dtype)
    if storage == 0:
        rec.data_at = _skip_data(r, shape, dtype, f"{what}: data")
        return rec
    # Sparse: walk it completely so the error can name the array.
    aux = []
    for k in range(_AUX_ARRAYS[storage]):
        aux_dtype = _read_dtype(r, f"{what}: aux {k}")
        aux_shape = _read_shape(r, f"{what}: aux {k} shape", v3) or ()
        aux.append((aux_shape, aux_dtype))
    _skip_data(r, storage_shape or (), dtype, f"{what}: data")
    for k, (aux_shape, aux_dtype) in enumerate(aux):
        _skip_data(r, aux_shape, aux_dtype, f"{what}: aux {k} data")
    return rec


def _read_names(r: _Reader, n: int) -> list[str]:
    at = r.pos
    m = r.unpack("<Q", "name count")
    if m not in (0, n):
        raise r.fail(f"{m} names for {n} arrays (expected 0 or {n})", at)
    names: list[str] = []
    for i in range(m):
        length = r.unpack("<Q", f"name {i}: length")
        start = r.skip(length, f"name {i}")
        try:
            names.append(bytes(r.data[start : start + length]).decode("utf-8"))
        except UnicodeDecodeError:
            raise r.fail(f"name {i} is not valid UTF-8", start) from None
    if r.left:
        raise r.fail(f"{r.left} unexpected bytes after the last name (corrupted file)")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise r.fail(f"the name {name!r} occurs twice", at)
        seen.add(name)
    return names


def _refuse_sparse(where: str, rec: _Record, label: str):
    raise ParamsFormatError(
        f"{where}: byte {rec.offset}: {label} uses {STORAGE[rec.storage]} storage; only dense arrays "
        "are supported (convert it with .tostype('default') before saving)"
    )


def read_ndarray_list(data: bytes | memoryview, where: str = "<bytes>") -> tuple[list[np.ndarray | None], list[str]]:
    """Parse a saved NDArray list: (arrays, names). A "none" array is None;
    `names` is empty for an unnamed list. Raises ParamsFormatError."""
    r = _Reader(data, where)
    if r.left < 24:
        raise r.fail(f"too short for a .params header: {r.left} bytes, need at least 24", 0)
    magic, reserved, n = r.unpack("<QQQ", "header")
    if magic != LIST_MAGIC:
        raise r.fail(f"not an MXNet .params file: magic 0x{magic:X}, expected 0x{LIST_MAGIC:X}", 0)
    if reserved != 0:
        raise r.fail(f"reserved header field is {reserved}, expected 0 (corrupted file?)", 8)
    if n > r.left // _MIN_RECORD:
        raise r.fail(f"the header claims {n} arrays but only {r.left} bytes follow (corrupted file)", 16)
    records: list[_Record] = []
    try:
        for i in range(n):
            records.append(_read_record(r, i))
        names = _read_names(r, n)
    except ParamsFormatError:
        # A sparse record's sizes are not always consistent in files MXNet wrote:
        # name the first sparse array by its index rather than the knock-on error.
        sparse = next((i for i, rec in enumerate(records) if rec.storage != 0), None)
        if sparse is None:
            raise
        _refuse_sparse(where, records[sparse], f"array {sparse}")
    for i, rec in enumerate(records):
        if rec.storage != 0:
            _refuse_sparse(where, rec, repr(names[i]) if names else f"array {i}")
    arrays: list[np.ndarray | None] = []
    for rec in records:
        if rec.shape is None:
            arrays.append(None)
            continue
        count = int(np.prod(rec.shape, dtype=np.int64)) if rec.shape else 1
        flat = np.frombuffer(r.data, dtype=rec.dtype, count=count, offset=rec.data_at)
        arrays.append(flat.astype(rec.dtype.newbyteorder("="), copy=True).reshape(rec.shape))
    return arrays, names


def load_params(source: str | PathLike | bytes) -> dict[str, np.ndarray | None]:
    """A `.params` file (path or bytes) as {name: array}, in file order.

    Exported models name arrays `arg:<name>` and `aux:<name>`; files written by
    `save_parameters` use plain names; an unnamed list gets the keys "0", "1", ....
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data, where = source, "<bytes>"
    else:
        where = str(source)
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(2, f"{where}: no such file", where) from None
    arrays, names = read_ndarray_list(data, where)
    keys = names or [str(i) for i in range(len(arrays))]
    return dict(zip(keys, arrays))


def _flag_of(dtype: np.dtype) -> int:
    for flag, d in DTYPES.items():
        if d.kind == dtype.kind and d.itemsize == dtype.itemsize:
            return flag
    raise ValueError(f"dtype {dtype.name} has no MXNet dtype flag")


def dump_params(arrays: Mapping[str, np.ndarray] | Sequence[np.ndarray], *, numpy_shape: bool = False) -> bytes:
    """The bytes MXNet's `nd.save` writes for dense CPU arrays (V3 records with
    `numpy_shape=True`, as `npx.save` does). For tests and tools."""
    named = isinstance(arrays, Mapping)
    items = list(arrays.items()) if named else [("", a) for a in arrays]
    out = [struct.pack("<QQQ", LIST_MAGIC, 0, len(items))]
    for _, a in items:
        a = np.asarray(a)
        if not numpy_shape and a.ndim == 0:
            raise ValueError("a 0-d array needs numpy_shape=True (V2 records read ndim 0 as 'none')")
        flag = _flag_of(a.dtype)
        out.append(struct.pack("<Iii", V3_MAGIC if numpy_shape else V2_MAGIC, 0, a.ndim))
        out.append(struct.pack(f"<{a.ndim}q", *a.shape))
        out.append(struct.pack("<iii", 1, 0, flag))
        out.append(np.ascontiguousarray(a, dtype=DTYPES[flag]).tobytes())
    out.append(struct.pack("<Q", len(items) if named else 0))
    if named:
        for name, _ in items:
            raw = name.encode("utf-8")
            out.append(struct.pack("<Q", len(raw)) + raw)
    return b"".join(out)


__all__ = ["DTYPES", "ParamsFormatError", "dump_params", "load_params", "read_ndarray_list"]
