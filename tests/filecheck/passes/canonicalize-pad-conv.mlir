// RUN: opt-tool -p canonicalize %s | filecheck %s
// RUN: opt-tool -p canonicalize %s | opt-tool | filecheck %s --check-prefix=ROUND
// RUN: not opt-tool %S/Inputs/conv-padding-invalid.mlir 2>&1 | filecheck %s --check-prefix=BAD

// conv2d(pad(x, zeros around H and W), padding p) = conv2d(x, padding p + the pad's sides)
// CHECK-LABEL: func.func @same_stride2
// CHECK-NOT:     hy.pad
// CHECK:         hy.conv2d %x, %{{.*}} stride [2, 2] padding [0, 0, 1, 1] groups 4 : (tensor<1x4x8x8xf32>
// ROUND:         padding [0, 0, 1, 1]
func.func @same_stride2(%x: tensor<1x4x8x8xf32>) -> tensor<1x4x4x4xf32> {
  %w = hy.constant dense<0.5> : tensor<4x1x3x3xf32>
  %p = hy.pad %x low [0, 0, 0, 0] high [0, 0, 1, 1] value 0.0 : tensor<1x4x8x8xf32> -> tensor<1x4x9x9xf32>
  %0 = hy.conv2d %p, %w stride [2, 2] padding [0, 0] groups 4 : (tensor<1x4x9x9xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x4x4xf32>
  func.return %0 : tensor<1x4x4x4xf32>
}

// a symmetric pad adds to the conv's own padding and stays two numbers
// CHECK-LABEL: func.func @symmetric
// CHECK:         hy.conv2d %x, %{{.*}} stride [1, 1] padding [2, 3] :
func.func @symmetric(%x: tensor<1x2x6x6xf32>) -> tensor<1x3x8x10xf32> {
  %w = hy.constant dense<0.5> : tensor<3x2x3x3xf32>
  %p = hy.pad %x low [0, 0, 1, 2] high [0, 0, 1, 2] value 0.0 : tensor<1x2x6x6xf32> -> tensor<1x2x8x10xf32>
  %0 = hy.conv2d %p, %w stride [1, 1] padding [1, 1] : (tensor<1x2x8x10xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x8x10xf32>
  func.return %0 : tensor<1x3x8x10xf32>
}

// a pad of another value, or of the channels, stays
// CHECK-LABEL: func.func @not_zero
// CHECK:         hy.pad
// CHECK:         hy.conv2d %{{.*}} padding [0, 0] :
func.func @not_zero(%x: tensor<1x2x6x6xf32>) -> tensor<1x3x6x6xf32> {
  %w = hy.constant dense<0.5> : tensor<3x2x3x3xf32>
  %p = hy.pad %x low [0, 0, 1, 1] high [0, 0, 1, 1] value 1.0 : tensor<1x2x6x6xf32> -> tensor<1x2x8x8xf32>
  %0 = hy.conv2d %p, %w stride [1, 1] padding [0, 0] : (tensor<1x2x8x8xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x6x6xf32>
  func.return %0 : tensor<1x3x6x6xf32>
}

// BAD: conv-padding-invalid.mlir:2:3: error: hy.conv2d: padding must be two or four integers >= 0, got [1, 1, 1]
