"""The `.params` reader (no MXNet needed): files MXNet 1.9.1 wrote (embedded
below as hex), round trips, and crafted bad files. A bad file is always a
ParamsFormatError that says where, never a crash or a huge allocation."""

from __future__ import annotations

import struct
import tracemalloc

import numpy as np
import pytest

from hybridize.frontends.mxnet_params import (
    ParamsFormatError,
    dump_params,
    load_params,
    read_ndarray_list,
)

# Written by MXNet 1.9.1: `mx.nd.save(f, {"a": int32 [1, 2, 3], "c": float32 [1.5], "d": bool [True],
# "u": uint8 [7], "i8": int8 [7], "i64": int64 [7], "f64": float64 [7]})`.
MXNET_MISC = bytes.fromhex(
    "120100000000000000000000000000000700000000000000c9fa93f9000000000100000003000000000000000100000000000000"
    "04000000010000000200000003000000c9fa93f9000000000100000001000000000000000100000000000000000000000000c03f"
    "c9fa93f90000000001000000010000000000000001000000000000000700000001c9fa93f9000000000100000001000000000000"
    "0001000000000000000300000007c9fa93f90000000001000000010000000000000001000000000000000500000007c9fa93f900"
    "0000000100000001000000000000000100000000000000060000000700000000000000c9fa93f900000000010000000100000000"
    "0000000100000000000000010000000000000000001c4007000000000000000100000000000000610100000000000000630100"
    "000000000000640100000000000000750200000000000000693803000000000000006936340300000000000000663634"
)
# `npx.save(f, {"s": np.array(3.0), "e": np.zeros((2, 0)), "v": np.ones(2)})` in numpy mode (V3 records).
MXNET_NUMPY = bytes.fromhex(
    "120100000000000000000000000000000300000000000000cafa93f900000000000000000100000000000000000000000000"
    "4040cafa93f9000000000200000002000000000000000000000000000000010000000000000000000000cafa93f900000000"
    "0100000002000000000000000100000000000000000000000000803f0000803f030000000000000001000000000000007301"
    "0000000000000065010000000000000076"
)
# A row_sparse and a csr array.
MXNET_ROW_SPARSE = bytes.fromhex(
    "120100000000000000000000000000000100000000000000c9fa93f9010000000200000001000000000000000200000000000000"
    "0200000003000000000000000200000000000000010000000000000000000000060000000100000001000000000000000000803f"
    "0000803f01000000000000000100000000000000010000000000000072"
)
MXNET_CSR = bytes.fromhex(
    "120100000000000000000000000000000100000000000000c9fa93f9020000000100000000000000000000000200000002000000"
    "0000000002000000000000000100000000000000000000000600000001000000030000000000000006000000010000000200000000"
    "0000000000803f0000803f00000000000000000100000000000000020000000000000000000000000000000100000000000000010000"
    "0000000000010000000000000063"
)


def test_reads_files_mxnet_wrote():
    p = load_params(MXNET_MISC)
    assert list(p) == ["a", "c", "d", "u", "i8", "i64", "f64"]
    assert p["a"].dtype == np.int32 and p["a"].tolist() == [1, 2, 3]
    assert p["c"].dtype == np.float32 and p["c"].tolist() == [1.5]
    assert p["d"].dtype == np.bool_ and p["d"].tolist() == [True]
    assert p["u"].dtype == np.uint8 and p["i8"].dtype == np.int8
    assert p["i64"].dtype == np.int64 and p["f64"].tolist() == [7.0]
    q = load_params(MXNET_NUMPY)
    assert q["s"].shape == () and float(q["s"]) == 3.0  # V3: ndim 0 is a scalar
    assert q["e"].shape == (2, 0)
    assert q["v"].tolist() == [1.0, 1.0]


def test_writer_matches_mxnet_bytes():
    arrays = {"s": np.float32(3.0), "e": np.zeros((2, 0), np.float32), "v": np.ones(2, np.float32)}
    assert dump_params(arrays, numpy_shape=True) == MXNET_NUMPY


@pytest.mark.parametrize("numpy_shape", [False, True])
def test_round_trip_every_dtype(numpy_shape):
    rng = np.random.default_rng(0)
    arrays = {
        "arg:w": rng.standard_normal((3, 4)).astype(np.float32),
        "aux:m": rng.standard_normal(5),
        "h": rng.standard_normal((2, 2)).astype(np.float16),
        "i": np.arange(6, dtype=np.int32).reshape(2, 3),
        "l": np.arange(4, dtype=np.int64),
        "u": np.arange(3, dtype=np.uint8),
        "b": np.array([True, False]),
        "naïve ünïcode": np.ones((1, 1, 1, 1, 2), np.int8),
    }
    back = load_params(dump_params(arrays, numpy_shape=numpy_shape))
    assert list(back) == list(arrays)
    for k in arrays:
        assert back[k].dtype == arrays[k].dtype and np.array_equal(back[k], arrays[k])
        assert back[k].flags.writeable


def test_unnamed_list_and_empty_file(tmp_path):
    data = dump_params([np.ones((2, 2), np.float32), np.zeros(1, np.float32)])
    assert list(load_params(data)) == ["0", "1"]
    arrays, names = read_ndarray_list(data)
    assert names == [] and len(arrays) == 2
    assert load_params(dump_params({})) == {}
    path = tmp_path / "x.params"
    path.write_bytes(data)
    assert list(load_params(path)) == ["0", "1"]
    with pytest.raises(FileNotFoundError):
        load_params(tmp_path / "missing.params")


def test_none_arrays_are_none():
    # V2 with ndim 0, V3 with ndim -1 and V3 with a dim -1 are "none" arrays
    header = struct.pack("<QQQ", 0x112, 0, 3)
    records = (
        struct.pack("<Iii", 0xF993FAC9, 0, 0)
        + struct.pack("<Iii", 0xF993FACA, 0, -1)
        + struct.pack("<Iiiqq", 0xF993FACA, 0, 2, 3, -1)
    )
    names = struct.pack("<Q", 0)
    arrays, _ = read_ndarray_list(header + records + names)
    assert arrays == [None, None, None]


def valid() -> bytes:
    return dump_params({"arg:w": np.arange(12, dtype=np.float32).reshape(3, 4), "aux:b": np.ones(3)})


def test_every_truncation_is_a_clear_error():
    data = valid()
    for n in range(len(data)):
        with pytest.raises(ParamsFormatError, match=r"<bytes>: byte \d+: "):
            read_ndarray_list(data[:n])


def test_every_byte_corruption_is_an_error_or_a_valid_read():
    data = valid()
    for i in range(len(data)):
        for value in (0x00, 0x80, 0xFF):
            broken = bytearray(data)
            broken[i] = value
            try:
                read_ndarray_list(bytes(broken))
            except ParamsFormatError:
                pass


def test_trailing_bytes():
    with pytest.raises(ParamsFormatError, match="3 unexpected bytes after the last name"):
        read_ndarray_list(valid() + b"abc")


def header(n: int, magic: int = 0x112, reserved: int = 0) -> bytes:
    return struct.pack("<QQQ", magic, reserved, n)


def dense(shape, flag=0, magic=0xF993FAC9, ndim=None, stype=0) -> bytes:
    ndim = len(shape) if ndim is None else ndim
    return struct.pack(f"<Iii{len(shape)}q", magic, stype, ndim, *shape) + struct.pack("<iii", 1, 0, flag)


BAD_FILES = [
    (b"", "too short for a .params header"),
    (header(1, magic=0x113) + b"\0" * 40, "not an MXNet .params file: magic 0x113"),
    (header(1, reserved=7) + b"\0" * 40, "reserved header field is 7"),
    (header(2**63) + b"\0" * 40, "claims 9223372036854775808 arrays"),
    (header(1) + dense((2,), magic=0x12345678) + b"\0" * 16, "unknown record magic 0x12345678"),
    (header(1) + dense((2,), stype=5) + b"\0" * 16, "unknown storage type 5"),
    (header(1) + dense((2,), flag=12) + b"\0" * 16, "unknown dtype flag 12"),
    (header(1) + dense((2,), flag=-1) + b"\0" * 16, "unknown dtype flag -1"),
    (header(1) + dense((), ndim=-5) + b"\0" * 16, "ndim -5 is out of range"),
    (header(1) + dense((), ndim=1_000_000_000) + b"\0" * 16, "ndim 1000000000 is out of range"),
    (header(1) + dense((), ndim=20) + b"\0" * 16, r"20 dims needs 160 bytes but only 28 are left"),
    (header(1) + dense((3, -2)) + b"\0" * 16, r"negative dimension in shape \(3, -2\)"),
    (header(1) + dense((1 << 40, 1 << 40)) + b"\0" * 64, r"needs 4835703278458516698824704 bytes but only 64"),
    (header(1) + dense((2,)) + struct.pack("<ff", 1, 2) + struct.pack("<Q", 2), "2 names for 1 arrays"),
    (header(1) + dense((2,)) + struct.pack("<ff", 1, 2) + struct.pack("<QQ", 1, 1 << 62), "name 0 needs 4611686018427387904 bytes"),
    (header(1) + dense((2,)) + struct.pack("<ff", 1, 2) + struct.pack("<QQ", 1, 2) + b"\xff\xfe", "name 0 is not valid UTF-8"),
    (header(2) + dense((1,)) + struct.pack("<f", 1) + dense((1,)) + struct.pack("<f", 1) + struct.pack("<QQ", 2, 1) + b"a" + struct.pack("<Q", 1) + b"a", "the name 'a' occurs twice"),
]


@pytest.mark.parametrize("data, message", BAD_FILES, ids=[m.split(":")[0][:40] for _, m in BAD_FILES])
def test_crafted_bad_files(data, message):
    with pytest.raises(ParamsFormatError, match=message):
        read_ndarray_list(data)


def test_huge_claimed_shapes_allocate_nothing():
    crafted = header(1) + dense((1 << 20, 1 << 20, 1 << 20)) + b"\0" * 1024
    tracemalloc.start()
    try:
        with pytest.raises(ParamsFormatError, match="truncated or corrupted"):
            read_ndarray_list(crafted)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_sparse_arrays_are_refused_by_name_or_index():
    with pytest.raises(ParamsFormatError, match="'r' uses row_sparse storage; only dense arrays"):
        load_params(MXNET_ROW_SPARSE)
    with pytest.raises(ParamsFormatError, match="array 0 uses csr storage"):
        load_params(MXNET_CSR)


def test_error_names_the_file(tmp_path):
    path = tmp_path / "net-0000.params"
    path.write_bytes(valid()[:-3])
    with pytest.raises(ParamsFormatError, match="net-0000.params: byte "):
        load_params(path)
