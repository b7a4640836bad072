// RUN: opt-tool -p fuse %s | filecheck %s
// RUN: opt-tool -p fuse,plan -t c %s | filecheck %s --check-prefix=C

// A head split (slice, reshape, transpose) and the elementwise ops around it
// fold into one loop nest over the result.
// CHECK-LABEL: func.func @forward
// CHECK:         hy.fused(%x, %b)
// CHECK-NEXT:    ^bb0
// CHECK-NEXT:      hy.add
// CHECK-NEXT:      hy.slice
// CHECK-NEXT:      hy.reshape
// CHECK-NEXT:      hy.transpose
// CHECK-NEXT:      hy.relu
// CHECK-NEXT:      hy.yield
// CHECK-NOT:     hy.fused
// C:             /* hy.fused: hy.add, hy.slice, hy.reshape, hy.transpose, hy.relu */
// C-NOT:         memcpy
func.func @forward(%x: tensor<1x6x48xf32>, %b: tensor<48xf32>) -> tensor<1x4x6x4xf32> {
  %0 = hy.add %x, %b : (tensor<1x6x48xf32>, tensor<48xf32>) -> tensor<1x6x48xf32>
  %1 = hy.slice %0 starts [0, 0, 16] steps [1, 1, 1] : tensor<1x6x48xf32> -> tensor<1x6x16xf32>
  %2 = hy.reshape %1 : tensor<1x6x16xf32> -> tensor<1x6x4x4xf32>
  %3 = hy.transpose %2 perm [0, 2, 1, 3] : tensor<1x6x4x4xf32> -> tensor<1x4x6x4xf32>
  %4 = hy.relu %3 : tensor<1x4x6x4xf32>
  func.return %4 : tensor<1x4x6x4xf32>
}
