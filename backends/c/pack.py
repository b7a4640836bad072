"""Weights packed at build time into the panel layout the GEMM micro-kernel
reads (see `library/gemm.c`): the NumPy side of the library's contract.

    A (m x k) -> ceil(m / MR) panels of k rows of MR values   (pack_a)
    B (k x n) -> ceil(n / NR) panels of k rows of NR values   (pack_b)

Lanes past the matrix edge are zero, so the kernel always computes whole
tiles. Arrays are 64-byte aligned so vector loads never split a cache line.
"""

from __future__ import annotations

import math

import numpy as np


def aligned_empty(count: int, dtype=np.float32, align: int = 64) -> np.ndarray:
    """A 1-D array of `count` items whose data starts on an `align`-byte boundary."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty(count * itemsize + align, np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start : start + count * itemsize].view(dtype)


def _panels(matrix: np.ndarray, width: int) -> np.ndarray:
    """Rows of `matrix` (r x k, or a stack ... x r x k, one matrix after another) grouped `width`
    at a time: out[..., p, kk, lane] = matrix[..., p*width + lane, kk]."""
    *stack, r, k = matrix.shape
    count = -(-r // width)
    out = aligned_empty(math.prod(stack) * count * k * width).reshape(*stack, count, k, width)
    full = r // width
    # one strided copy for the whole panels, zero lanes only in the last one
    out[..., :full, :, :] = matrix[..., : full * width, :].reshape(*stack, full, width, k).swapaxes(-1, -2)
    if full < count:
        out[..., full, :, :] = 0
        out[..., full, :, : r - full * width] = matrix[..., full * width :, :].swapaxes(-1, -2)
    return out.reshape(-1)


def pack_a(a: np.ndarray, mr: int) -> np.ndarray:
    """A (m x k) in MR-row panels."""
    return _panels(np.asarray(a, np.float32), mr)


def pack_b(b: np.ndarray, nr: int) -> np.ndarray:
    """B (k x n) in NR-column panels; a stack of them (... x k x n) one after another."""
    return _panels(np.asarray(b, np.float32).swapaxes(-1, -2), nr)


def aligned(array: np.ndarray, align: int = 64) -> np.ndarray:
    """`array` as a C-contiguous array whose data is `align`-byte aligned (copied only when needed)."""
    array = np.asarray(array, order="C")
    if array.ctypes.data % align == 0 and array.flags.c_contiguous:
        return array
    out = aligned_empty(array.size, array.dtype, align).reshape(array.shape)
    out[...] = array
    return out


def pack_conv_weights(w: np.ndarray, nr: int) -> np.ndarray:
    """One group's conv weights [o, c, kh, kw] as B (k x o) in NR-column panels,
    k = (kernel row, kernel column, channel): out[p, (r*kw + q)*c + ch, lane] = w[p*NR + lane, ch, r, q].
    One strided copy (no intermediate transposed array)."""
    w = np.asarray(w, np.float32)
    o, c, kh, kw = w.shape
    count, full = -(-o // nr), o // nr
    out = aligned_empty(count * kh * kw * c * nr).reshape(count, kh, kw, c, nr)
    out[:full] = w[: full * nr].reshape(full, nr, c, kh, kw).transpose(0, 3, 4, 2, 1)
    if full < count:
        out[full] = 0
        out[full, ..., : o - full * nr] = w[full * nr :].transpose(2, 3, 1, 0)
    return out.reshape(-1)
