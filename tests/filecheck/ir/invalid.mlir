// RUN: opt-tool --split-input-file --verify-diagnostics %s | filecheck %s
// Verifier errors name the op, what is wrong, and where it stands.

func.func @forward(%x: tensor<2x3xf32>) -> tensor<3x3xf32> {
  %0 = hy.add %x, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<3x3xf32>
  func.return %0 : tensor<3x3xf32>
}
// CHECK: invalid.mlir:5:3: hy.add: result shape 3x3 does not match the expected 2x3

// -----

func.func @forward(%x: tensor<2x3xf32>, %w: tensor<4x5xf32>) -> tensor<2x4xf32> {
  %0 = hy.linear %x, %w : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
// CHECK: invalid.mlir:13:3: hy.linear: input has 3 features but weight 4x5 expects 5

// -----

func.func @forward(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %0 = hy.transpose %x perm [0, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
  func.return %0 : tensor<3x2xf32>
}
// CHECK: hy.transpose: perm [0, 0] is not a permutation of 2 dimensions

// -----

func.func @forward(%x: tensor<2x3xf32>) -> tensor<7xf32> {
  %0 = hy.reshape %x : tensor<2x3xf32> -> tensor<7xf32>
  func.return %0 : tensor<7xf32>
}
// CHECK: hy.reshape: cannot reshape 2x3 (6 elements) to 7 (7 elements)

// -----

func.func @forward(%x: tensor<2x3xi64>) -> tensor<2x3xi64> {
  %0 = hy.relu %x : tensor<2x3xi64>
  %1 = hy.fused(%0) : (tensor<2x3xi64>) -> tensor<2x3xf32> {
  ^bb0(%a: tensor<2x3xi64>):
    hy.yield %a : tensor<2x3xi64>
  }
  func.return %0 : tensor<2x3xi64>
}
// CHECK: hy.fused: yielded types tensor<2x3xi64> do not match the results tensor<2x3xf32>
