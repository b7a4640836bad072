// RUN: opt-tool --split-input-file --verify-diagnostics %s | filecheck %s
// Verifier errors of the elementwise, shape and indexing ops name the op and what is wrong.

func.func @forward(%x: tensor<2xi64>) -> tensor<2xi64> {
  %0 = hy.exp %x : tensor<2xi64>
  func.return %0 : tensor<2xi64>
}
// CHECK: invalid-elementwise.mlir:5:3: hy.exp: expects a floating-point tensor, got tensor<2xi64>

// -----

func.func @forward(%x: tensor<2xi1>) -> tensor<2xi1> {
  %0 = hy.neg %x : tensor<2xi1>
  func.return %0 : tensor<2xi1>
}
// CHECK: hy.neg: expects a numeric tensor, got tensor<2xi1>

// -----

func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = hy.gelu %x approximate "erf" : tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: hy.gelu: approximate must be "none" or "tanh", got "erf"

// -----

func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = hy.clamp %x : tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: hy.clamp: needs a min, a max or both

// -----

func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = hy.clamp %x min 2.0 max 1.0 : tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: hy.clamp: min 2.0 is larger than max 1.0

// -----

func.func @forward(%x: tensor<2xi32>) -> tensor<2xi32> {
  %0 = hy.clamp %x min 0.5 : tensor<2xi32>
  func.return %0 : tensor<2xi32>
}
// CHECK: hy.clamp: bounds of an integer clamp must be whole numbers, got min 0.5

// -----

func.func @forward(%x: tensor<2xi64>) -> tensor<2xi64> {
  %0 = hy.pow %x, %x : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  func.return %0 : tensor<2xi64>
}
// CHECK: hy.pow: expects floating-point tensors, got tensor<2xi64>

// -----

func.func @forward(%x: tensor<2x3xf32>, %y: tensor<3xi64>) -> tensor<2x3xi1> {
  %0 = hy.lt %x, %y : (tensor<2x3xf32>, tensor<3xi64>) -> tensor<2x3xi1>
  func.return %0 : tensor<2x3xi1>
}
// CHECK: hy.lt: operands and result must share one element type, got f32, i64

// -----

func.func @forward(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = hy.eq %x, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}
// CHECK: hy.eq: result must be a tensor of i1, got tensor<2x3xf32>

// -----

func.func @forward(%x: tensor<2x3xf32>, %y: tensor<4xf32>) -> tensor<2x3xi1> {
  %0 = hy.ge %x, %y : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xi1>
  func.return %0 : tensor<2x3xi1>
}
// CHECK: hy.ge: shapes 2x3, 4 do not broadcast

// -----

func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = hy.and %x, %x : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: hy.and: expects i1 tensors, got tensor<2xf32>

// -----

func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = hy.not %x : tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: hy.not: expects an i1 tensor, got tensor<2xf32>

// -----

func.func @forward(%c: tensor<2xf32>, %x: tensor<2xf32>) -> tensor<2xf32> {
  %0 = hy.where %c, %x, %x : (tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %0 : tensor<2xf32>
}
// CHECK: hy.where: condition must be a tensor of i1, got tensor<2xf32>

// -----

func.func @forward(%c: tensor<3x1xi1>, %x: tensor<2xf32>) -> tensor<3x3xf32> {
  %0 = hy.where %c, %x, %x : (tensor<3x1xi1>, tensor<2xf32>, tensor<2xf32>) -> tensor<3x3xf32>
  func.return %0 : tensor<3x3xf32>
}
// CHECK: hy.where: result shape 3x3 does not match the expected 3x2

// -----

func.func @forward(%x: tensor<2x3xf32>) -> tensor<3x2xi64> {
  %0 = hy.cast %x : tensor<2x3xf32> -> tensor<3x2xi64>
  func.return %0 : tensor<3x2xi64>
}
// CHECK: hy.cast: result shape 3x2 differs from the input shape 2x3

// -----

func.func @forward(%x: tensor<2x3xf32>, %y: tensor<3x3xf32>) -> tensor<2x6xf32> {
  %0 = hy.concat %x, %y axis 1 : (tensor<2x3xf32>, tensor<3x3xf32>) -> tensor<2x6xf32>
  func.return %0 : tensor<2x6xf32>
}
// CHECK: hy.concat: inputs 2x3, 3x3 differ outside axis 1

// -----

func.func @forward(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = hy.concat %x axis 2 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}
// CHECK: hy.concat: axis 2 is out of range for rank 2

// -----

func.func @forward(%x: tensor<4x6xf32>) -> tensor<4x4xf32> {
  %0 = hy.slice %x starts [0, 1] steps [1, 2] : tensor<4x6xf32> -> tensor<4x4xf32>
  func.return %0 : tensor<4x4xf32>
}
// CHECK: hy.slice: dimension 1: 4 elements from 1 by 2 do not fit in 6

// -----

func.func @forward(%x: tensor<4x6xf32>) -> tensor<4x3xf32> {
  %0 = hy.slice %x starts [0, 0] steps [1, 0] : tensor<4x6xf32> -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}
// CHECK: hy.slice: dimension 1: start 0 must be >= 0 and step 0 >= 1

// -----

func.func @forward(%x: tensor<?x6xf32>) -> tensor<2x6xf32> {
  %0 = hy.slice %x starts [1, 0] steps [1, 1] : tensor<?x6xf32> -> tensor<2x6xf32>
  func.return %0 : tensor<2x6xf32>
}
// CHECK: hy.slice: dimension 0: a dynamic dimension can only be kept whole

// -----

func.func @forward(%x: tensor<4x6xf32>) -> tensor<4x6xf32> {
  %0 = hy.slice %x starts [0] steps [1] : tensor<4x6xf32> -> tensor<4x6xf32>
  func.return %0 : tensor<4x6xf32>
}
// CHECK: hy.slice: starts has 1 entries for a rank-2 tensor

// -----

func.func @forward(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = hy.pad %x low [0, -1] high [0, 1] value 0.0 : tensor<2x3xf32> -> tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}
// CHECK: hy.pad: dimension 1: padding -1, 1 must be >= 0

// -----

func.func @forward(%x: tensor<2x3xi64>) -> tensor<2x4xi64> {
  %0 = hy.pad %x low [0, 1] high [0, 0] value -inf : tensor<2x3xi64> -> tensor<2x4xi64>
  func.return %0 : tensor<2x4xi64>
}
// CHECK: hy.pad: value -inf is not representable in i64

// -----

func.func @forward(%x: tensor<2x3xf32>) -> tensor<2x5xf32> {
  %0 = hy.pad %x low [0, 1] high [0, 0] value 0.0 : tensor<2x3xf32> -> tensor<2x5xf32>
  func.return %0 : tensor<2x5xf32>
}
// CHECK: hy.pad: result shape 2x5 does not match the expected 2x4

// -----

func.func @forward(%x: tensor<2x3xf32>) -> tensor<4x3xf32> {
  %0 = hy.broadcast %x : tensor<2x3xf32> -> tensor<4x3xf32>
  func.return %0 : tensor<4x3xf32>
}
// CHECK: hy.broadcast: cannot broadcast 2x3 to 4x3

// -----

func.func @forward(%x: tensor<2x3xf32>) -> tensor<?x3xf32> {
  %0 = hy.broadcast %x : tensor<2x3xf32> -> tensor<?x3xf32>
  func.return %0 : tensor<?x3xf32>
}
// CHECK: hy.broadcast: cannot broadcast 2x3 to ?x3

// -----

func.func @forward(%w: tensor<10x4xf32>, %i: tensor<3xf32>) -> tensor<3x4xf32> {
  %0 = hy.take %w, %i axis 0 : (tensor<10x4xf32>, tensor<3xf32>) -> tensor<3x4xf32>
  func.return %0 : tensor<3x4xf32>
}
// CHECK: hy.take: indices must be i64 or i32, got tensor<3xf32>

// -----

func.func @forward(%w: tensor<10x4xf32>, %i: tensor<3xi64>) -> tensor<3x4xf32> {
  %0 = hy.take %w, %i axis 1 : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  func.return %0 : tensor<3x4xf32>
}
// CHECK: hy.take: result shape 3x4 does not match the expected 10x3

// -----

func.func @forward(%w: tensor<10x4xf32>, %i: tensor<3x5xi64>) -> tensor<3x5xf32> {
  %0 = hy.gather %w, %i axis 0 : (tensor<10x4xf32>, tensor<3x5xi64>) -> tensor<3x5xf32>
  func.return %0 : tensor<3x5xf32>
}
// CHECK: hy.gather: index shape 3x5 exceeds the input shape 10x4 in dimension 1

// -----

func.func @forward(%w: tensor<10x4xf32>, %i: tensor<3xi64>) -> tensor<3xf32> {
  %0 = hy.gather %w, %i axis 0 : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<3xf32>
  func.return %0 : tensor<3xf32>
}
// CHECK: hy.gather: index rank 1 differs from the input rank 2

// -----

func.func @forward(%x: tensor<2x3xi1>) -> tensor<2x3xi1> {
  %0 = hy.cumsum %x axis 1 : tensor<2x3xi1>
  func.return %0 : tensor<2x3xi1>
}
// CHECK: hy.cumsum: expects a numeric tensor, got tensor<2x3xi1>

// -----

func.func @forward(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = hy.cumsum %x axis 2 : tensor<2x3xf32>
  func.return %0 : tensor<2x3xf32>
}
// CHECK: hy.cumsum: axis 2 is out of range for rank 2
