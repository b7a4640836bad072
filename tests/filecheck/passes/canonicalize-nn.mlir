// RUN: opt-tool -p canonicalize %s | filecheck %s
// RUN: opt-tool -p canonicalize %s | opt-tool -p canonicalize | filecheck %s

// batch_norm(x, m, v, w, b) with constant statistics = x * a + (b - m * a), a = w / sqrt(v + eps)
// CHECK-LABEL: func.func @batch_norm
// CHECK-NOT:     hy.batch_norm
// CHECK-DAG:     %[[A:.*]] = hy.constant dense<{{.*}}5.000000e-01{{.*}}4.000000e+00{{.*}}> : tensor<2x1x1xf32>
// CHECK-DAG:     %[[B:.*]] = hy.constant dense<{{.*}}0.000000e+00{{.*}}4.000000e+00{{.*}}> : tensor<2x1x1xf32>
// CHECK:         %[[M:.*]] = hy.mul %x, %[[A]] : (tensor<1x2x3x3xf32>, tensor<2x1x1xf32>) -> tensor<1x2x3x3xf32>
// CHECK-NEXT:    %{{.*}} = hy.add %[[M]], %[[B]] : (tensor<1x2x3x3xf32>, tensor<2x1x1xf32>) -> tensor<1x2x3x3xf32>
func.func @batch_norm(%x: tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32> {
  %m = hy.constant dense<[2.0, -1.0]> : tensor<2xf32>
  %v = hy.constant dense<[4.0, 0.25]> : tensor<2xf32>
  %w = hy.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %b = hy.constant dense<[1.0, 0.0]> : tensor<2xf32>
  %0 = hy.batch_norm %x, %m, %v weight %w bias %b eps 0.0 : tensor<1x2x3x3xf32>, tensor<2xf32>
  func.return %0 : tensor<1x2x3x3xf32>
}

// conv2d followed by batch norm = one conv2d with scaled weights and a new bias
// CHECK-LABEL: func.func @conv_bn
// CHECK-COUNT-1: hy.conv2d
// CHECK-NOT:     hy.batch_norm
// CHECK-NOT:     hy.mul
// CHECK-NOT:     hy.add
// CHECK:         func.return
func.func @conv_bn(%x: tensor<1x3x5x5xf32>) -> tensor<1x2x5x5xf32> {
  %k = hy.constant dense<0.5> : tensor<2x3x3x3xf32>
  %c = hy.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %m = hy.constant dense<[2.0, -1.0]> : tensor<2xf32>
  %v = hy.constant dense<[4.0, 0.25]> : tensor<2xf32>
  %0 = hy.conv2d %x, %k, %c stride [1, 1] padding [1, 1] : (tensor<1x3x5x5xf32>, tensor<2x3x3x3xf32>, tensor<2xf32>) -> tensor<1x2x5x5xf32>
  %1 = hy.batch_norm %0, %m, %v eps 1.0e-05 : tensor<1x2x5x5xf32>, tensor<2xf32>
  func.return %1 : tensor<1x2x5x5xf32>
}

// conv2d(x, w) * s with s per output channel: the scale moves into the weights
// (w * s = 0.5 * [2, 3]) and a bias appears (0 * s)
// CHECK-LABEL: func.func @conv_scale
// CHECK-DAG:     %[[W:.*]] = hy.constant dense<{{.*}}1.000000e+00{{.*}}1.500000e+00{{.*}}> : tensor<2x1x1x1xf32>
// CHECK-DAG:     %[[B:.*]] = hy.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK:         hy.conv2d %x, %[[W]], %[[B]] stride [1, 1] padding [0, 0]
// CHECK-NOT:     hy.mul
func.func @conv_scale(%x: tensor<1x1x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %k = hy.constant dense<0.5> : tensor<2x1x1x1xf32>
  %s = hy.constant dense<[[[[2.0]], [[3.0]]]]> : tensor<1x2x1x1xf32>
  %0 = hy.conv2d %x, %k stride [1, 1] padding [0, 0] : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %1 = hy.mul %s, %0 : (tensor<1x2x1x1xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  func.return %1 : tensor<1x2x4x4xf32>
}

// Not folded: a conv result with a second use, and a scale that varies along the width.
// CHECK-LABEL: func.func @not_folded
// CHECK:         %[[C:.*]] = hy.conv2d %x
// CHECK:         hy.mul %[[C]]
// CHECK:         hy.mul %[[C]]
func.func @not_folded(%x: tensor<1x1x4x4xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %k = hy.constant dense<0.5> : tensor<2x1x1x1xf32>
  %s = hy.constant dense<[[[2.0]], [[3.0]]]> : tensor<2x1x1xf32>
  %t = hy.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %0 = hy.conv2d %x, %k stride [1, 1] padding [0, 0] : (tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x4x4xf32>
  %1 = hy.mul %0, %s : (tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %2 = hy.mul %0, %t : (tensor<1x2x4x4xf32>, tensor<4xf32>) -> tensor<1x2x4x4xf32>
  func.return %1, %2 : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}
