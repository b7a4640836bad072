// RUN: opt-tool -p fuse %s | filecheck %s
// RUN: opt-tool -p fuse,plan -t c %s | filecheck %s --check-prefix=C

// A conv2d is an anchor: its bias add, residual add and relu run as the epilogue
// of each finished output row (one kernel), and the pooling stays a kernel of its own.
// CHECK-LABEL: func.func @forward
// CHECK-COUNT-1: hy.fused
// CHECK-NEXT:    ^bb0
// CHECK-NEXT:      hy.conv2d
// CHECK-NEXT:      hy.add
// CHECK-NEXT:      hy.add
// CHECK-NEXT:      hy.relu
// CHECK-NEXT:      hy.yield
// CHECK:         hy.max_pool2d
// CHECK-NOT:     hy.fused
// C:             /* hy.fused: hy.conv2d, hy.add, hy.add, hy.relu */
// C-COUNT-1:     const long r = (b * 8 + oc) * 6 + i2;
// C:             = -INFINITY;
func.func @forward(%x: tensor<2x8x6x6xf32>, %w: tensor<8x8x3x3xf32>, %b: tensor<8x1x1xf32>) -> tensor<2x8x3x3xf32> {
  %0 = hy.conv2d %x, %w stride [1, 1] padding [1, 1] : (tensor<2x8x6x6xf32>, tensor<8x8x3x3xf32>) -> tensor<2x8x6x6xf32>
  %1 = hy.add %0, %b : (tensor<2x8x6x6xf32>, tensor<8x1x1xf32>) -> tensor<2x8x6x6xf32>
  %2 = hy.add %1, %x : (tensor<2x8x6x6xf32>, tensor<2x8x6x6xf32>) -> tensor<2x8x6x6xf32>
  %3 = hy.relu %2 : tensor<2x8x6x6xf32>
  %4 = hy.max_pool2d %3 kernel [2, 2] stride [2, 2] padding [0, 0] : tensor<2x8x6x6xf32> -> tensor<2x8x3x3xf32>
  func.return %4 : tensor<2x8x3x3xf32>
}
