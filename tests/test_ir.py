"""The dialect: printed IR parses back to the same text; verifiers name the op."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region
from xdsl.utils.exceptions import ParseError

from hybridize.ir import ConstantOp, Hy, parse_module, print_module
from hybridize.ir.module import IRVerifyError

ALL_OPS = """
func.func @forward(%x: tensor<2x3xf32>, %y: tensor<3xf32>) -> (tensor<2x4xf32>, tensor<3x2xf32>) {
  %w = hy.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [1.5, 2.5, 3.5]]> : tensor<4x3xf32>
  %b = hy.constant dense<[0.5, -0.5, 1.0, 2.0]> : tensor<4xf32>
  %0 = hy.add %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %1 = hy.sub %0, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %2 = hy.mul %1, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = hy.div %2, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %4 = hy.relu %3 : tensor<2x3xf32>
  %5 = hy.linear %4, %w, %b : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %6 = hy.linear %4, %w : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x4xf32>
  %7 = hy.transpose %6 perm [1, 0] : tensor<2x4xf32> -> tensor<4x2xf32>
  %8 = hy.matmul %5, %7 : (tensor<2x4xf32>, tensor<4x2xf32>) -> tensor<2x2xf32>
  %9 = hy.reshape %x : tensor<2x3xf32> -> tensor<3x2xf32>
  %10 = hy.fused(%9, %y) : (tensor<3x2xf32>, tensor<3xf32>) -> tensor<3x2xf32> {
  ^bb0(%a: tensor<3x2xf32>, %c: tensor<3xf32>):
    %11 = hy.relu %a : tensor<3x2xf32>
    hy.yield %11 : tensor<3x2xf32>
  }
  func.return %5, %10 : tensor<2x4xf32>, tensor<3x2xf32>
}
"""


def test_round_trip_is_identical():
    text = print_module(parse_module(ALL_OPS))
    assert print_module(parse_module(text)) == text


def test_every_op_is_in_the_round_trip():
    # ALL_OPS here, or a golden round-trip test (`opt-tool %s | opt-tool | filecheck`) of its op family
    texts = [print_module(parse_module(ALL_OPS))]
    for path in sorted((Path(__file__).parent / "filecheck" / "ir").glob("*.mlir")):
        source = path.read_text()
        if "// RUN: opt-tool %s | opt-tool | filecheck %s" in source:
            texts.append(print_module(parse_module(source, str(path))))
    for op in Hy.operations:
        assert any(op.name in t for t in texts), f"{op.name} is missing from the round-trip tests"


def test_large_constant_round_trips_bit_exact():
    a = np.random.default_rng(0).standard_normal((64, 33)).astype(np.float32)
    op = ConstantOp(a)
    np.testing.assert_array_equal(op.numpy(), a)
    block = Block()
    block.add_op(op)
    block.add_op(ReturnOp(op.result))
    module = ModuleOp([FuncOp("forward", ([], [op.result.type]), Region(block))])
    again = parse_module(print_module(module))
    const = next(o for o in again.walk() if isinstance(o, ConstantOp))
    np.testing.assert_array_equal(const.numpy(), a)


@pytest.mark.parametrize(
    "body, message",
    [
        ("%0 = hy.add %x, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>", "hy.add: result shape 3x3"),
        (
            "%w = hy.constant dense<1.0> : tensor<4x5xf32>\n"
            "%0 = hy.linear %x, %w : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x4xf32>",
            "hy.linear: input has 3 features",
        ),
        ("%0 = hy.reshape %x : tensor<2x3xf32> -> tensor<7xf32>", "hy.reshape: cannot reshape 2x3"),
        ("%0 = hy.transpose %x perm [0, 0] : tensor<2x3xf32> -> tensor<2x2xf32>", "hy.transpose: perm [0, 0]"),
        (
            "%w = hy.constant dense<1.0> : tensor<4x2xf32>\n"
            "%0 = hy.matmul %x, %w : (tensor<2x3xf32>, tensor<4x2xf32>) -> tensor<2x2xf32>",
            "hy.matmul: shapes 2x3 and 4x2",
        ),
    ],
)
def test_verifier_errors_name_the_op_and_place(body, message):
    text = f"func.func @forward(%x: tensor<2x3xf32>) {{\n{body}\nfunc.return\n}}"
    with pytest.raises(IRVerifyError) as info:
        parse_module(text, "model.mlir")
    assert message in str(info.value)
    assert str(info.value).startswith("model.mlir:")


def test_syntax_error_is_a_parse_error():
    with pytest.raises(ParseError):
        parse_module("func.func @forward(%x: tensor<2xf32>) {\n  %0 = hy.relu %x : tensor<2xf32\n}")


def test_every_op_has_numpy_and_c_rules():
    """Adding an op means its semantics in both backend tables too."""
    from hybridize.backends import c
    from hybridize.backends import numpy as np_backend

    structural = {"hy.constant", "hy.fused", "hy.yield"}
    for op in Hy.operations:
        if op.name in structural:
            continue
        assert op.name in np_backend.RULES, f"{op.name} has no NumPy rule"
        assert op.name in c.SCALAR or op.name in c.KERNELS or op.name in c.ANCHORS, f"{op.name} has no C rule"
