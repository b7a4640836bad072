"""Small builders shared by tests."""

from __future__ import annotations

from hybridize.ir import parse_module

MLP_LIKE = """
func.func @forward(%x: tensor<2x8xf32>) -> tensor<2x3xf32> {
  %w0 = hy.constant dense<0.25> : tensor<6x8xf32>
  %b0 = hy.constant dense<-1.0> : tensor<6xf32>
  %w1 = hy.constant dense<0.5> : tensor<3x6xf32>
  %0 = hy.linear %x, %w0, %b0 : (tensor<2x8xf32>, tensor<6x8xf32>, tensor<6xf32>) -> tensor<2x6xf32>
  %1 = hy.relu %0 : tensor<2x6xf32>
  %2 = hy.linear %1, %w1 : (tensor<2x6xf32>, tensor<3x6xf32>) -> tensor<2x3xf32>
  func.return %2 : tensor<2x3xf32>
}
"""


def module(text: str = MLP_LIKE):
    return parse_module(text)


def ops_named(module, name: str) -> list:
    return [op for op in module.walk() if op.name == name]


def top_level_ops(module) -> list:
    from hybridize.ir.module import forward_func

    block = forward_func(module).body.block
    return [op for op in block.ops if op.name not in ("hy.constant", "func.return")]
