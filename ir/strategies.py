"""Hypothesis strategies for random `hy` graphs, for property-testing passes.

    from hypothesis import given
    from hybridize.ir.strategies import graphs

    @given(graphs())
    def test_my_pass_keeps_results(case):
        module, inputs = case
        expected = hybridize.build(module, "numpy")(*inputs)
        optimized = hybridize.optimize(module, "my-pass")
        np.testing.assert_allclose(hybridize.build(optimized, "numpy")(*inputs), expected, rtol=1e-5)

A graph is a DAG over one or two inputs of random 2-D shapes: linear layers
(random weights and optional bias), matmuls with constants, transposes,
reshapes, elementwise binary ops with broadcast operands (constants or earlier
values) and relus. Values are kept moderate (weights ~ 1/sqrt(fan_in)) so
float32 comparisons at 1e-5 are meaningful. Requires `hypothesis`.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region, SSAValue

from hybridize.ir.elementwise import AddOp, DivOp, MulOp, ReluOp, SubOp
from hybridize.ir.linalg import LinearOp, MatmulOp
from hybridize.ir.shape import ReshapeOp, TransposeOp
from hybridize.ir.structure import ConstantOp
from hybridize.ir.types import shape_of, tensor_type

dims = st.integers(min_value=1, max_value=9)


class GraphCase:
    """A drawn graph: unpacks as `(module, inputs)`; its repr is the IR text,
    so hypothesis reports failing cases readably."""

    def __init__(self, module: ModuleOp, inputs: list[np.ndarray]):
        self.module, self.inputs = module, inputs

    def __iter__(self):
        return iter((self.module, self.inputs))

    def __repr__(self) -> str:
        from hybridize.ir.module import print_module

        shapes = ", ".join(str(a.shape) for a in self.inputs)
        return f"GraphCase(inputs of shapes {shapes}):\n{print_module(self.module)}"


@st.composite
def graphs(draw, max_ops: int = 10, max_inputs: int = 2):
    """`(module, inputs)`: a random module with `@forward` and matching inputs."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_inputs = draw(st.integers(1, max_inputs))
    batch = draw(dims)
    in_shapes = [(batch, draw(dims)) for _ in range(n_inputs)]
    block = Block(arg_types=[tensor_type(s, "float32") for s in in_shapes])
    values: list[SSAValue] = list(block.args)

    def emit(op):
        block.add_op(op)
        values.append(op.results[0])
        return op.results[0]

    def const(shape, scale=1.0):
        return emit(ConstantOp((rng.standard_normal(shape) * scale).astype(np.float32)))

    for _ in range(draw(st.integers(1, max_ops))):
        tensors = [v for v in values if len(shape_of(v)) == 2]
        x = draw(st.sampled_from(tensors))
        m, k = shape_of(x)
        kind = draw(st.sampled_from(["linear", "linear", "matmul", "relu", "binary", "binary", "transpose", "reshape"]))
        if kind == "linear":
            n = draw(dims)
            w = const((n, k), 1 / np.sqrt(k))
            b = const((n,)) if draw(st.booleans()) else None
            emit(LinearOp(x, w, b))
        elif kind == "matmul":
            n = draw(dims)
            emit(MatmulOp(x, const((k, n), 1 / np.sqrt(k))))
        elif kind == "relu":
            emit(ReluOp(x))
        elif kind == "binary":
            op = draw(st.sampled_from([AddOp, SubOp, MulOp, DivOp]))
            same = [v for v in values if shape_of(v) == (m, k) and v is not x]
            choices = ["row", "col", "full", "scalar"] + (["value"] if same and op is not DivOp else [])
            choice = draw(st.sampled_from(choices))
            if choice == "value":
                y = draw(st.sampled_from(same))
            else:
                shape = {"row": (k,), "col": (m, 1), "full": (m, k), "scalar": ()}[choice]
                data = rng.standard_normal(shape)
                if op is DivOp:  # divisors away from zero
                    data = np.abs(data) + 0.5
                y = emit(ConstantOp(np.asarray(data, np.float32)))
            swap = op is not DivOp and draw(st.booleans())
            emit(op(y, x) if swap else op(x, y))
        elif kind == "transpose":
            emit(TransposeOp(x, [1, 0]))
        else:
            flat = emit(ReshapeOp(x, (m * k,)))
            emit(ReshapeOp(flat, (m, k)) if draw(st.booleans()) else ReshapeOp(flat, (k, m)))
    candidates = [v for v in values[n_inputs:] if not isinstance(v.owner, ConstantOp)] or [block.args[0]]
    n_out = draw(st.integers(1, min(2, len(candidates))))
    outputs = candidates[-n_out:]
    block.add_op(ReturnOp(*outputs))
    func = FuncOp("forward", ([a.type for a in block.args], [o.type for o in outputs]), Region(block))
    module = ModuleOp([func])
    module.verify()
    inputs = [rng.standard_normal(s).astype(np.float32) for s in in_shapes]
    return GraphCase(module, inputs)
