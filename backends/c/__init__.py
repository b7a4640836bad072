"""C backend: a model's C is a schedule over a kernel library.

`hy_forward` calls the library (`library/`: GEMM, direct and depthwise
convolution, attention) with the model's shapes, weights packed at build
time for the CPU's register tile, and its fused epilogues; the ops the
library does not cover are generated loops that GCC vectorizes.

    int hy_forward(int hy_threads, const void *in0, void *out0, const void *const *consts, void *arena)
    {
        const float *x0 = (const float *)in0;
        float *y0 = (float *)out0;
        /* hy.fused: hy.linear, hy.relu */
        {
            const hy_operand ga = { HY_STRIDED, x0, 512, 1, 0, 0 };
            const hy_operand gb = { HY_PACKED, ((const float *)consts[6]), 0, 0, 0, 0 };
            const hy_epilogue ge = { c1, 0, HY_ACT_RELU, 0, 0, 0, 0, 0, 0 };
            const int rc = hy_sgemm(1, 1, 256, 512, &ga, &gb, y0, 0, 256, 0, &ge, hy_threads);
            if (rc) return rc;
        }
        return 0;
    }

The function returns 0, or a nonzero `ERRORS` code (an index out of range,
a kernel out of memory). Nothing from the model's names reaches the source:
the walker names values `x0`, `c3`, `v7`, ...

Package layout (one concern a module):

- `scalar.py`: the scalar table (`SCALAR`) of elementwise ops;
- `loops.py`: `Tensor` and the elementwise loop nests;
- `epilogue.py`: the contract between anchor kernels and fused epilogues;
- `kernels/`: kernel families (gemm, conv, attention, shape, nn) and their tables;
- `generate.py`: emission (`generate`, `declaration`), the `Unit` a file is built in;
- `pack.py`: weights packed into the library's panels;
- `isa.py`: the CPU's features and register tile; `build.py`: the library, modules and cache;
- `export.py`: standalone C (`hybridize.export`); `library/`: the kernel library's C.
"""

from __future__ import annotations

from hybridize.backends.c.generate import ERRORS, FUNCTION, PROFILE_FUNCTION, declaration, generate, parameters
from hybridize.backends.c.kernels import ANCHORS, KERNELS
from hybridize.backends.c.scalar import SCALAR, scalar_expr

__all__ = ["ANCHORS", "ERRORS", "FUNCTION", "PROFILE_FUNCTION", "KERNELS", "SCALAR", "declaration", "generate", "parameters", "scalar_expr"]
