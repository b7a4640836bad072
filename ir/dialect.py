"""The `hy` dialect: every op and attribute of hybridize's shared IR.

Adding an op: one class in the family module (elementwise, linalg, shape,
indexing, reduce, nn, sort, recurrent, structure) listed in that module's `*_OPS`, its NumPy
rule in `backends/numpy.py`, its C rule in `backends/c/`, and a round-trip
test under `tests/filecheck/ir/`.
"""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialect_interfaces.constant_materialization import ConstantMaterializationInterface
from xdsl.dialects.builtin import Builtin, DenseIntOrFPElementsAttr
from xdsl.dialects.func import Func
from xdsl.ir import Attribute, Dialect, Operation

from hybridize.ir.attributes import ArenaAttr, BufferAttr
from hybridize.ir.elementwise import ELEMENTWISE_OPS
from hybridize.ir.indexing import INDEXING_OPS
from hybridize.ir.linalg import LINALG_OPS
from hybridize.ir.nn import NN_OPS
from hybridize.ir.recurrent import RECURRENT_OPS
from hybridize.ir.reduce import REDUCE_OPS
from hybridize.ir.shape import SHAPE_OPS
from hybridize.ir.sort import SORT_OPS
from hybridize.ir.structure import ConstantOp, FusedOp, YieldOp


class HyConstantMaterialization(ConstantMaterializationInterface):
    """Folded values become `hy.constant` ops."""

    def materialize_constant(self, value: Attribute, type: Attribute) -> Operation | None:
        if isinstance(value, DenseIntOrFPElementsAttr) and value.type == type:
            return ConstantOp(value)
        return None


Hy = Dialect(
    "hy",
    [
        ConstantOp,
        FusedOp,
        YieldOp,
        *ELEMENTWISE_OPS,
        *LINALG_OPS,
        *SHAPE_OPS,
        *INDEXING_OPS,
        *REDUCE_OPS,
        *NN_OPS,
        *SORT_OPS,
        *RECURRENT_OPS,
    ],
    [BufferAttr, ArenaAttr],
    [HyConstantMaterialization()],
)


def make_context() -> Context:
    """A context that knows builtin, func and hy (what hybridize IR uses)."""
    ctx = Context()
    ctx.load_dialect(Builtin)
    ctx.load_dialect(Func)
    ctx.load_dialect(Hy)
    return ctx
