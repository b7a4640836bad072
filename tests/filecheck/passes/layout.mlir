// RUN: opt-tool -p layout %s | filecheck %s
// RUN: opt-tool -p layout,fuse %s | filecheck %s --check-prefix=FUSE

// Convolutions and pools run channels-last; the transposes between them
// cancel, so one stays at the input and one where a layout-blind op reads the
// result. The bias (a small [C, 1, 1] operand) is transposed with the add, the
// residual add and relu follow their operands, and the global average pool of
// a channels-last value is a mean over the plane.
// CHECK-LABEL: func.func @forward
// CHECK:         %[[IN:.*]] = hy.transpose %x perm [0, 2, 3, 1] : tensor<2x8x6x6xf32> -> tensor<2x6x6x8xf32>
// CHECK:         %[[C:.*]] = hy.conv2d_nhwc %[[IN]], %{{.*}} stride [1, 1] padding [1, 1] : {{.*}} -> tensor<2x6x6x8xf32>
// CHECK:         %[[B:.*]] = hy.add %[[C]], %{{.*}} : (tensor<2x6x6x8xf32>, tensor<1x1x1x8xf32>) -> tensor<2x6x6x8xf32>
// CHECK:         %[[R:.*]] = hy.add %[[B]], %[[IN]] : (tensor<2x6x6x8xf32>, tensor<2x6x6x8xf32>) -> tensor<2x6x6x8xf32>
// CHECK:         %[[A:.*]] = hy.relu %[[R]] : tensor<2x6x6x8xf32>
// CHECK:         %[[P:.*]] = hy.max_pool2d_nhwc %[[A]] kernel [2, 2] stride [2, 2] padding [0, 0] : tensor<2x6x6x8xf32> -> tensor<2x3x3x8xf32>
// CHECK:         %[[M:.*]] = hy.reduce_mean %[[P]] axes [1, 2] keepdim : tensor<2x3x3x8xf32> -> tensor<2x1x1x8xf32>
// CHECK:         %[[OUT:.*]] = hy.transpose %[[M]] perm [0, 3, 1, 2] : tensor<2x1x1x8xf32> -> tensor<2x8x1x1xf32>
// CHECK-NOT:     hy.transpose
// CHECK:         func.return %[[OUT]]
// FUSE:          hy.fused
// FUSE:            hy.conv2d_nhwc
// FUSE-NEXT:       hy.add
// FUSE-NEXT:       hy.add
// FUSE-NEXT:       hy.relu
func.func @forward(%x: tensor<2x8x6x6xf32>) -> tensor<2x8x1x1xf32> {
  %w = hy.constant dense<0.5> : tensor<8x8x3x3xf32>
  %b = hy.constant dense<0.25> : tensor<8x1x1xf32>
  %0 = hy.conv2d %x, %w stride [1, 1] padding [1, 1] : (tensor<2x8x6x6xf32>, tensor<8x8x3x3xf32>) -> tensor<2x8x6x6xf32>
  %1 = hy.add %0, %b : (tensor<2x8x6x6xf32>, tensor<8x1x1xf32>) -> tensor<2x8x6x6xf32>
  %2 = hy.add %1, %x : (tensor<2x8x6x6xf32>, tensor<2x8x6x6xf32>) -> tensor<2x8x6x6xf32>
  %3 = hy.relu %2 : tensor<2x8x6x6xf32>
  %4 = hy.max_pool2d %3 kernel [2, 2] stride [2, 2] padding [0, 0] : tensor<2x8x6x6xf32> -> tensor<2x8x3x3xf32>
  %5 = hy.adaptive_avg_pool2d %4 : tensor<2x8x3x3xf32> -> tensor<2x8x1x1xf32>
  func.return %5 : tensor<2x8x1x1xf32>
}

// A conv whose weights are not constants, and a float64 conv, stay NCHW.
// CHECK-LABEL: func.func @kept
// CHECK-NOT:     hy.transpose
// CHECK:         hy.conv2d %x, %w
// CHECK:         hy.conv2d %y, %v
func.func @kept(%x: tensor<1x4x6x6xf32>, %w: tensor<4x4x3x3xf32>, %y: tensor<1x4x6x6xf64>) -> (tensor<1x4x6x6xf32>, tensor<1x4x6x6xf64>) {
  %v = hy.constant dense<0.5> : tensor<4x4x3x3xf64>
  %0 = hy.conv2d %x, %w stride [1, 1] padding [1, 1] : (tensor<1x4x6x6xf32>, tensor<4x4x3x3xf32>) -> tensor<1x4x6x6xf32>
  %1 = hy.conv2d %y, %v stride [1, 1] padding [1, 1] : (tensor<1x4x6x6xf64>, tensor<4x4x3x3xf64>) -> tensor<1x4x6x6xf64>
  func.return %0, %1 : tensor<1x4x6x6xf32>, tensor<1x4x6x6xf64>
}
