"""Attention (`hy.attention`) on the kernel library: float32 heads run
`library/attention.c` (QK^T and PV on the GEMM, a vectorized softmax
between); other dtypes and batch shapes it cannot address with two strides
keep the generated kernel (`kernels/nn.py`).

    {
        const hy_attention_call ga = { 4, 128, 128, 64, 64, v3, v4, v5, 8192, 8192, 8192, v6, 0.125f,
                                       0, 2, c7, 4, 0, 0, 0, 1 };
        const int rc = hy_attention(&ga, hy_threads);
        if (rc) return rc;
    }
"""

from __future__ import annotations

from xdsl.ir import Operation

from hybridize.backends.c.epilogue import run_stride
from hybridize.backends.c.generate import THREADS
from hybridize.backends.c.kernels.nn import attention as generated_attention
from hybridize.backends.c.loops import Tensor
from hybridize.backends.c.scalar import c_number
from hybridize.backends.dims import Dim, broadcast_strides, product


def _batch_strides(batch: list[Dim], strides: list[Dim]) -> tuple[Dim, Dim, Dim] | None:
    """(inner count, outer stride, inner stride) with offset(h) = (h / inner) * outer + (h % inner) * inner_stride,
    for a flat head index h over `batch`; None when two strides cannot express it."""
    one = run_stride(batch, strides)
    if one is not None:  # a single run: all of it in the inner term
        return product(batch), Dim(0), one
    if len(batch) == 2:
        return batch[1], strides[0], strides[1]
    return None


def attention(op: Operation, args: list[Tensor], out: Tensor) -> list[str]:
    q, k, v = args[:3]
    mask = args[3] if len(args) > 3 else None
    same_batch = q.shape[:-2] == k.shape[:-2] == v.shape[:-2] == out.shape[:-2]
    if any(t.ctype != "float" for t in (out, q, k, v)) or not same_batch or (mask is not None and mask.ctype not in ("float", "_Bool")):
        return generated_attention(op, args, out)
    batch = list(q.shape[:-2])
    length, e = q.shape[-2], q.shape[-1]
    keys, ev = k.shape[-2], v.shape[-1]
    kind, mask_ptr, mask_terms = 0, "0", (Dim(1), Dim(0), Dim(0), Dim(0), Dim(0))
    if mask is not None:
        ms = broadcast_strides(mask.shape, [*batch, length, keys])
        terms = _batch_strides(batch, ms[:-2])
        if terms is None:
            return generated_attention(op, args, out)
        kind, mask_ptr, mask_terms = (1 if mask.ctype == "_Bool" else 2), mask.ptr, (*terms, ms[-2], ms[-1])
    fields = [
        product(batch), length, keys, e, ev, q.ptr, k.ptr, v.ptr, length * e, keys * e, keys * ev, out.ptr,
        c_number(op.scale_value, "float"), int(op.is_causal), kind, mask_ptr, *mask_terms,
    ]  # fmt: skip
    return [
        "{",
        f"const hy_attention_call ga = {{ {', '.join(str(f) for f in fields)} }};",
        f"const int rc = hy_attention(&ga, {THREADS});",
        "if (rc) return rc;",
        "}",
    ]
