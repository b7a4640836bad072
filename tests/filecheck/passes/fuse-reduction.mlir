// RUN: opt-tool --split-input-file -p fuse %s | filecheck %s
// RUN: opt-tool --split-input-file -p "fuse{reductions=false}" %s | filecheck %s --check-prefix=OFF
// RUN: opt-tool --split-input-file -p fuse,plan -t c %s | filecheck %s --check-prefix=C

// Attention scores: scale, mask, softmax and the product after it are one
// reduction group (one kernel: a row at a time, a pass per statistic).
// CHECK-LABEL: func.func @forward
// CHECK:         hy.fused(%x, %{{.*}}, %mask)
// CHECK-NEXT:    ^bb0
// CHECK-NEXT:      hy.mul
// CHECK-NEXT:      hy.add
// CHECK-NEXT:      hy.softmax
// CHECK-NEXT:      hy.mul
// CHECK-NEXT:      hy.yield
// CHECK-NOT:     hy.fused
// Without reductions the softmax stands alone between two loops.
// OFF:           hy.fused
// OFF:           hy.softmax
// OFF:           hy.fused
// C:             /* hy.fused: hy.mul, hy.add, hy.softmax, hy.mul */
// C:             for (long r = 0; r < 8; ++r) {
// C-COUNT-3:     for (long k = 0; k < 8; ++k) {
func.func @forward(%x: tensor<2x4x8xf32>, %mask: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %s = hy.constant dense<0.35> : tensor<1xf32>
  %0 = hy.mul %x, %s : (tensor<2x4x8xf32>, tensor<1xf32>) -> tensor<2x4x8xf32>
  %1 = hy.add %0, %mask : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  %2 = hy.softmax %1 axis 2 : tensor<2x4x8xf32>
  %3 = hy.mul %2, %x : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  func.return %3 : tensor<2x4x8xf32>
}

// -----
// A hand-written layer norm (mean, centre, variance, scale): one kernel.
// CHECK-LABEL: func.func @forward
// CHECK-COUNT-1: hy.fused
// CHECK:           hy.reduce_mean
// CHECK:           hy.reduce_mean
// CHECK:           hy.rsqrt
// CHECK-NOT:     hy.fused
func.func @forward(%x: tensor<3x16xf32>) -> tensor<3x16xf32> {
  %eps = hy.constant dense<1.0e-05> : tensor<1xf32>
  %0 = hy.reduce_mean %x axes [1] keepdim : tensor<3x16xf32> -> tensor<3x1xf32>
  %1 = hy.sub %x, %0 : (tensor<3x16xf32>, tensor<3x1xf32>) -> tensor<3x16xf32>
  %2 = hy.mul %1, %1 : (tensor<3x16xf32>, tensor<3x16xf32>) -> tensor<3x16xf32>
  %3 = hy.reduce_mean %2 axes [1] keepdim : tensor<3x16xf32> -> tensor<3x1xf32>
  %4 = hy.add %3, %eps : (tensor<3x1xf32>, tensor<1xf32>) -> tensor<3x1xf32>
  %5 = hy.rsqrt %4 : tensor<3x1xf32>
  %6 = hy.mul %1, %5 : (tensor<3x16xf32>, tensor<3x1xf32>) -> tensor<3x16xf32>
  func.return %6 : tensor<3x16xf32>
}
