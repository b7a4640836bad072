"""C backend: one C function per module, written so that GCC vectorizes its
inner loops at `-O3 -march=native` (contiguous innermost loops, `omp simd`
reductions, sizes known at compile time).

    int hy_forward(const void *in0, void *out0, const void *const *consts, void *arena)
    {
        char *A = (char *)arena;
        const float *x0 = (const float *)in0;
        float *y0 = (float *)out0;
        const float *c0 = (const float *)consts[0];
        float *v0 = (float *)(A + 0);
        /* hy.fused: hy.linear, hy.relu */
        for (long r = 0; r < 1; ++r) { ...dot products...; ...epilogue on the row... }
        ...
    }

The function returns 0, or a nonzero `ERRORS` code when a kernel finds bad
data at run time (an index out of range): kernels emit `return <code>;`.

Rules come from two tables: `SCALAR` gives each elementwise op's C expression
(used alone and inside fused loops), `KERNELS` emits the loop nest of every
other op. Nothing from the model's names reaches the source: the walker names

Package layout (one concern a module):

- `scalar.py`: the scalar table (`SCALAR`) of elementwise ops;
- `loops.py`: `Tensor` and the elementwise loop nests;
- `epilogue.py`: the contract between anchor kernels and fused epilogues;
- `kernels/`: kernel families (gemm, conv, shape, nn) and their tables;
- `generate.py`: the walker's C emission (`generate`, `declaration`).
"""

from __future__ import annotations

from hybridize.backends.c.generate import ERRORS, FUNCTION, PROFILE_FUNCTION, declaration, generate, parameters
from hybridize.backends.c.kernels import ANCHORS, KERNELS
from hybridize.backends.c.scalar import SCALAR, scalar_expr

__all__ = ["ANCHORS", "ERRORS", "FUNCTION", "PROFILE_FUNCTION", "KERNELS", "SCALAR", "declaration", "generate", "parameters", "scalar_expr"]
