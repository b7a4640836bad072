// RUN: opt-tool --split-input-file --verify-diagnostics %s | filecheck %s
// Verifier errors of the NN ops and reductions name the op and what is wrong.

func.func @forward(%x: tensor<1x6x8x8xf32>, %w: tensor<8x3x3x3xf32>) {
  %0 = hy.conv2d %x, %w stride [1, 1] padding [1, 1] groups 4 : (tensor<1x6x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x8x8xf32>
  func.return
}
// CHECK: invalid-nn.mlir:5:3: hy.conv2d: input channels 6 are not divisible by groups 4

// -----

func.func @forward(%x: tensor<1x4x8x8xf32>, %w: tensor<8x3x3x3xf32>) {
  %0 = hy.conv2d %x, %w stride [1, 1] padding [1, 1] : (tensor<1x4x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x8x8xf32>
  func.return
}
// CHECK: hy.conv2d: weight 8x3x3x3 expects 3 input channels (3 x 1 groups), got 4

// -----

func.func @forward(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>) {
  %0 = hy.conv2d %x, %w stride [2, 2] padding [1, 1] : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x8x8xf32>
  func.return
}
// CHECK: hy.conv2d: result shape 1x8x8x8 does not match the expected 1x8x4x4

// -----

func.func @forward(%x: tensor<1x3x2x2xf32>, %w: tensor<8x3x3x3xf32>) {
  %0 = hy.conv2d %x, %w stride [1, 1] padding [0, 0] : (tensor<1x3x2x2xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x0x0xf32>
  func.return
}
// CHECK: hy.conv2d: the dilated kernel 3x3 does not fit the padded input 2x2

// -----

func.func @forward(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>, %b: tensor<3xf32>) {
  %0 = hy.conv2d %x, %w, %b stride [1, 1] padding [1, 1] : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>, tensor<3xf32>) -> tensor<1x8x8x8xf32>
  func.return
}
// CHECK: hy.conv2d: bias must have shape 8, got 3

// -----

func.func @forward(%x: tensor<1x3x8x8xf32>, %w: tensor<8x3x3x3xf32>) {
  %0 = hy.conv2d %x, %w stride [0, 1] padding [1, 1] : (tensor<1x3x8x8xf32>, tensor<8x3x3x3xf32>) -> tensor<1x8x8x8xf32>
  func.return
}
// CHECK: hy.conv2d: stride must be two integers >= 1, got [0, 1]

// -----

func.func @forward(%x: tensor<1x3x8x8xi32>, %w: tensor<8x3x3x3xi32>) {
  %0 = hy.conv2d %x, %w stride [1, 1] padding [1, 1] : (tensor<1x3x8x8xi32>, tensor<8x3x3x3xi32>) -> tensor<1x8x8x8xi32>
  func.return
}
// CHECK: hy.conv2d: input must be a floating-point tensor, got tensor<1x3x8x8xi32>

// -----

func.func @forward(%x: tensor<1x3x10x10xf32>) {
  %0 = hy.max_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1] : tensor<1x3x10x10xf32> -> tensor<1x3x7x5xf32>
  func.return
}
// CHECK: hy.max_pool2d: output height 7 must be between 5 and 6 for input height 10

// -----

func.func @forward(%x: tensor<3x10x10xf32>) {
  %0 = hy.avg_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] : tensor<3x10x10xf32> -> tensor<3x5x5xf32>
  func.return
}
// CHECK: hy.avg_pool2d: input must be 4-D [N, C, H, W], got 3x10x10

// -----

func.func @forward(%x: tensor<1x3x10x10xf32>) {
  %0 = hy.adaptive_avg_pool2d %x : tensor<1x3x10x10xf32> -> tensor<1x4x2x2xf32>
  func.return
}
// CHECK: hy.adaptive_avg_pool2d: result shape 1x4x2x2 does not match the expected 1x3x2x2

// -----

func.func @forward(%x: tensor<2x3x4x4xf32>, %m: tensor<4xf32>) {
  %0 = hy.batch_norm %x, %m, %m eps 1.0e-05 : tensor<2x3x4x4xf32>, tensor<4xf32>
  func.return
}
// CHECK: hy.batch_norm: mean, var, weight and bias must have shape [3] (the channels), got 4

// -----

func.func @forward(%x: tensor<2x3x4xf32>) {
  %0 = hy.layer_norm %x axis 3 eps 1.0e-05 : tensor<2x3x4xf32>
  func.return
}
// CHECK: hy.layer_norm: axis 3 is out of range for rank 3 (must be in [0, 3))

// -----

func.func @forward(%x: tensor<2x3x4xf32>, %w: tensor<4xf32>) {
  %0 = hy.layer_norm %x weight %w axis 1 eps 1.0e-05 : tensor<2x3x4xf32>, tensor<4xf32>
  func.return
}
// CHECK: hy.layer_norm: weight and bias must have shape 3x4, got 4

// -----

func.func @forward(%x: tensor<2x3xf32>) {
  %0 = hy.softmax %x axis 2 : tensor<2x3xf32>
  func.return
}
// CHECK: hy.softmax: axis 2 is out of range for rank 2 (must be in [0, 2))

// -----

func.func @forward(%x: tensor<2x3x4xf32>) {
  %0 = hy.reduce_sum %x axes [2, 0] : tensor<2x3x4xf32> -> tensor<3xf32>
  func.return
}
// CHECK: hy.reduce_sum: axes [2, 0] must be sorted, distinct and in [0, 3) for input 2x3x4

// -----

func.func @forward(%x: tensor<2x3x4xf32>) {
  %0 = hy.reduce_max %x axes [1] keepdim : tensor<2x3x4xf32> -> tensor<2x4xf32>
  func.return
}
// CHECK: hy.reduce_max: result shape 2x4 does not match the expected 2x1x4

// -----

func.func @forward(%x: tensor<2x3xf32>) {
  %0 = hy.reduce_any %x axes [1] : tensor<2x3xf32> -> tensor<2xf32>
  func.return
}
// CHECK: hy.reduce_any: expects an i1 tensor, got tensor<2x3xf32>

// -----

func.func @forward(%x: tensor<2x3xi32>) {
  %0 = hy.reduce_mean %x axes [1] : tensor<2x3xi32> -> tensor<2xi32>
  func.return
}
// CHECK: hy.reduce_mean: expects a floating-point tensor, got tensor<2x3xi32>

// -----

func.func @forward(%x: tensor<2x3xf32>) {
  %0 = hy.reduce_min %x axes [] : tensor<2x3xf32> -> tensor<2x3xf32>
  func.return
}
// CHECK: hy.reduce_min: axes must not be empty

// -----

func.func @forward(%q: tensor<2x5x8xf32>, %k: tensor<2x7x4xf32>, %v: tensor<2x7x6xf32>) {
  %0 = hy.attention %q, %k, %v scale 1.0 : (tensor<2x5x8xf32>, tensor<2x7x4xf32>, tensor<2x7x6xf32>) -> tensor<2x5x6xf32>
  func.return
}
// CHECK: hy.attention: query width 8 and key width 4 differ

// -----

func.func @forward(%q: tensor<2x5x8xf32>, %k: tensor<3x7x8xf32>, %v: tensor<2x7x6xf32>) {
  %0 = hy.attention %q, %k, %v scale 1.0 : (tensor<2x5x8xf32>, tensor<3x7x8xf32>, tensor<2x7x6xf32>) -> tensor<2x5x6xf32>
  func.return
}
// CHECK: hy.attention: batch dims of query 2x5x8, key 3x7x8 and value 2x7x6 differ

// -----

func.func @forward(%q: tensor<2x5x8xf32>, %k: tensor<2x7x8xf32>, %v: tensor<2x7x6xf32>, %m: tensor<5x6xi1>) {
  %0 = hy.attention %q, %k, %v mask %m scale 1.0 : (tensor<2x5x8xf32>, tensor<2x7x8xf32>, tensor<2x7x6xf32>, tensor<5x6xi1>) -> tensor<2x5x6xf32>
  func.return
}
// CHECK: hy.attention: mask 5x6 does not broadcast to the scores 2x5x7

// -----

func.func @forward(%q: tensor<2x5x8xf32>, %k: tensor<2x7x8xf32>, %v: tensor<2x7x6xf32>, %m: tensor<5x7xi32>) {
  %0 = hy.attention %q, %k, %v mask %m scale 1.0 : (tensor<2x5x8xf32>, tensor<2x7x8xf32>, tensor<2x7x6xf32>, tensor<5x7xi32>) -> tensor<2x5x6xf32>
  func.return
}
// CHECK: hy.attention: mask must be i1 or f32, got i32
