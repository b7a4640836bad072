// RUN: opt-tool -p fuse %s | filecheck %s
// RUN: opt-tool -p "fuse{anchors=false}" %s | filecheck %s --check-prefix=NOANCHOR
// RUN: opt-tool -p "fuse{max-ops=2}" %s | filecheck %s --check-prefix=SMALL

// linear + bias + relu and the elementwise chain after it: one kernel, the
// chain as the linear's epilogue.
// CHECK-LABEL: func.func @forward
// CHECK:         hy.fused(%x, %w, %b, %s)
// CHECK-NEXT:    ^bb0
// CHECK-NEXT:      hy.linear
// CHECK-NEXT:      hy.relu
// CHECK-NEXT:      hy.mul
// CHECK-NEXT:      hy.add
// CHECK-NEXT:      hy.relu
// CHECK-NEXT:      hy.yield
// CHECK-NOT:     hy.fused
// Without anchors the linear stays alone and the chain fuses by itself.
// NOANCHOR-LABEL: func.func @forward
// NOANCHOR:         hy.linear %x, %w, %b
// NOANCHOR-NEXT:    hy.fused
// NOANCHOR-NOT:     hy.linear
// SMALL-COUNT-2:    hy.fused
func.func @forward(%x: tensor<1x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>, %s: tensor<4xf32>) -> tensor<1x4xf32> {
  %0 = hy.linear %x, %w, %b : (tensor<1x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  %1 = hy.relu %0 : tensor<1x4xf32>
  %2 = hy.mul %1, %s : (tensor<1x4xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  %3 = hy.add %2, %s : (tensor<1x4xf32>, tensor<4xf32>) -> tensor<1x4xf32>
  %4 = hy.relu %3 : tensor<1x4xf32>
  func.return %4 : tensor<1x4xf32>
}
