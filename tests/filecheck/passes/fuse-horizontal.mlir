// RUN: opt-tool -p fuse %s | filecheck %s
// RUN: opt-tool -p "fuse{horizontal=false}" %s | filecheck %s --check-prefix=OFF

// Q/K/V: three linears over one input with constant weights become one GEMM
// over the concatenated weights; each head split reads its slice of it.
// CHECK-LABEL: func.func @forward
// CHECK:         %[[QKV:.*]] = hy.linear %x, %{{.*}}, %{{.*}} : {{.*}} -> tensor<2x12xf32>
// CHECK-NOT:     hy.linear
// CHECK:         hy.fused(%[[QKV]])
// CHECK:           hy.slice {{.*}} starts [0, 0]
// CHECK:         hy.fused(%[[QKV]])
// CHECK:           hy.slice {{.*}} starts [0, 4]
// CHECK:         hy.fused(%[[QKV]])
// CHECK:           hy.slice {{.*}} starts [0, 8]
// OFF-COUNT-3:   hy.linear %x
func.func @forward(%x: tensor<2x8xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>) {
  %wq = hy.constant dense<0.5> : tensor<4x8xf32>
  %wk = hy.constant dense<0.25> : tensor<4x8xf32>
  %wv = hy.constant dense<-0.5> : tensor<4x8xf32>
  %b = hy.constant dense<1.0> : tensor<4xf32>
  %q = hy.linear %x, %wq, %b : (tensor<2x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %k = hy.linear %x, %wk, %b : (tensor<2x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %v = hy.linear %x, %wv, %b : (tensor<2x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %0 = hy.transpose %q perm [1, 0] : tensor<2x4xf32> -> tensor<4x2xf32>
  %1 = hy.transpose %k perm [1, 0] : tensor<2x4xf32> -> tensor<4x2xf32>
  %2 = hy.transpose %v perm [1, 0] : tensor<2x4xf32> -> tensor<4x2xf32>
  func.return %0, %1, %2 : tensor<4x2xf32>, tensor<4x2xf32>, tensor<4x2xf32>
}
