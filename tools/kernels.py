"""Kernels of the zoo models before and after fusion by op class:

    python -m hybridize.tools.kernels [MODEL ...]

prints, per model of `tools/zoo.py`, the kernels (fused groups and standalone
ops; constants and views do not count) after `canonicalize` alone, after
`fuse` with the rule before the fusion table (one anchor plus elementwise ops:
every new shape switched off), and after `fuse` for the C and NumPy targets.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

OLD_RULE = "fuse{reductions=false injective=false duplicate=false horizontal=false}"

COLUMNS = {
    "unfused": "canonicalize,cse",
    "old rule": f"canonicalize,cse,{OLD_RULE}",
    "fuse (c)": "canonicalize,cse,fuse",
    "fuse (numpy)": "canonicalize,cse,fuse{target=numpy}",
}


def kernel_counts(name: str) -> dict[str, int]:
    """{column: kernels} for one zoo model."""
    import hybridize
    from hybridize.ir.fusion import kernels
    from hybridize.passes import run_pipeline
    from hybridize.tools.zoo import MODELS

    model, args = MODELS[name]()
    traced = hybridize.trace(model, *args)
    return {col: kernels(run_pipeline(traced.clone(), pipe)) for col, pipe in COLUMNS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    from hybridize.tools.zoo import MODELS

    names = list(argv if argv is not None else sys.argv[1:]) or list(MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"kernels: unknown model {unknown[0]!r} (models: {', '.join(MODELS)})", file=sys.stderr)
        return 2
    width = max(map(len, names))
    print(f"{'model':<{width}}  " + "  ".join(f"{c:>12}" for c in COLUMNS))
    for name in names:
        counts = kernel_counts(name)
        print(f"{name:<{width}}  " + "  ".join(f"{counts[c]:>12}" for c in COLUMNS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
