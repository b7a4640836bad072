// RUN: opt-tool --split-input-file --verify-diagnostics %s | filecheck %s
// Verifier errors of transposed convolution, group norm, resize, the ordering
// ops and ceil-mode pooling name the op and what is wrong.

func.func @forward(%x: tensor<1x4x5x6xf32>, %w: tensor<4x3x3x3xf32>) {
  %0 = hy.conv_transpose2d %x, %w stride [2, 2] padding [1, 1] output_padding [2, 2] : (tensor<1x4x5x6xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x11x13xf32>
  func.return
}
// CHECK: ops-new-invalid.mlir:6:3: hy.conv_transpose2d: output_padding [2, 2] must be smaller than the stride [2, 2] or the dilation [1, 1]

// -----

func.func @forward(%x: tensor<1x5x5x6xf32>, %w: tensor<4x3x3x3xf32>) {
  %0 = hy.conv_transpose2d %x, %w stride [1, 1] padding [0, 0] : (tensor<1x5x5x6xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x7x8xf32>
  func.return
}
// CHECK: hy.conv_transpose2d: weight 4x3x3x3 expects 4 input channels, got 5

// -----

func.func @forward(%x: tensor<1x4x5x6xf32>, %w: tensor<4x3x3x3xf32>) {
  %0 = hy.conv_transpose2d %x, %w stride [1, 1] padding [0, 0] : (tensor<1x4x5x6xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x8x8xf32>
  func.return
}
// CHECK: hy.conv_transpose2d: result shape 1x3x8x8 does not match the expected 1x3x7x8

// -----

func.func @forward(%x: tensor<1x6x5x6xf32>) {
  %0 = hy.group_norm %x groups 4 eps 1.0e-05 : tensor<1x6x5x6xf32>
  func.return
}
// CHECK: hy.group_norm: channels 6 are not divisible by groups 4

// -----

func.func @forward(%x: tensor<1x4x5x6xf32>, %g: tensor<3xf32>) {
  %0 = hy.group_norm %x weight %g groups 2 eps 1.0e-05 : tensor<1x4x5x6xf32>, tensor<3xf32>
  func.return
}
// CHECK: hy.group_norm: weight and bias must have shape [4] (the channels), got 3

// -----

func.func @forward(%x: tensor<1x4x5x6xf32>) {
  %0 = hy.resize %x mode "area" : tensor<1x4x5x6xf32> -> tensor<1x4x10x12xf32>
  func.return
}
// CHECK: hy.resize: mode must be one of nearest, nearest-exact, linear, cubic, got "area"

// -----

func.func @forward(%x: tensor<1x4x5x6xf32>) {
  %0 = hy.resize %x mode "nearest" align_corners : tensor<1x4x5x6xf32> -> tensor<1x4x10x12xf32>
  func.return
}
// CHECK: hy.resize: align_corners applies to linear and cubic modes, not nearest

// -----

func.func @forward(%x: tensor<1x4x5x6xf32>) {
  %0 = hy.resize %x mode "linear" scale [2.0] : tensor<1x4x5x6xf32> -> tensor<1x4x10x12xf32>
  func.return
}
// CHECK: hy.resize: scale must hold 2 factors >= 0 (0: none), got [2.0]

// -----

func.func @forward(%x: tensor<2x7xi1>) {
  %0 = hy.sort %x axis 1 : tensor<2x7xi1>
  func.return
}
// CHECK: hy.sort: expects a numeric (non-i1) tensor, got tensor<2x7xi1>

// -----

func.func @forward(%x: tensor<2x7xf32>) {
  %0 = hy.argsort %x axis 2 : tensor<2x7xf32> -> tensor<2x7xi64>
  func.return
}
// CHECK: hy.argsort: axis 2 is out of range for rank 2 (must be in [0, 2))

// -----

func.func @forward(%x: tensor<2x0xf32>) {
  %0 = hy.argmax %x axis 1 : tensor<2x0xf32> -> tensor<2xi64>
  func.return
}
// CHECK: hy.argmax: axis 1 of 2x0 is empty: there is no extreme

// -----

func.func @forward(%x: tensor<2x7xf32>) {
  %0 = hy.argmin %x axis 1 : tensor<2x7xf32> -> tensor<2xi32>
  func.return
}
// CHECK: hy.argmin: result must be i64 indices, got tensor<2xi32>

// -----

// A kernel larger than the input is one window in ceil mode (EfficientNet's
// AvgPool2d(7, ceil_mode=True) on 5x5) but none in floor mode.
func.func @forward(%x: tensor<1x4x5x5xf32>) {
  %0 = hy.avg_pool2d %x kernel [7, 7] stride [7, 7] padding [0, 0] count_include_pad : tensor<1x4x5x5xf32> -> tensor<1x4x1x1xf32>
  %1 = hy.avg_pool2d %x kernel [7, 7] stride [7, 7] padding [0, 0] : tensor<1x4x5x5xf32> -> tensor<1x4x0x1xf32>
  func.return
}
// CHECK: hy.avg_pool2d: output height 0 must be 1 for input height 5
