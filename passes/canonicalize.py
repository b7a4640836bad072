"""`canonicalize`: run every op's canonicalization patterns and constant
folding to a fixed point, with xDSL's greedy driver.

The laws live beside the ops (`hybridize/ir/canonicalization.py`), e.g.

    // transpose(transpose(x, p), q) = transpose(x, p∘q)
    // matmul(x, transpose(w)) + b = linear(x, w, b)

and any op whose operands are all constants folds into a constant.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.transforms.canonicalize import CanonicalizePass


@dataclass(frozen=True)
class Canonicalize(ModulePass):
    name = "canonicalize"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        CanonicalizePass().apply(ctx, op)
