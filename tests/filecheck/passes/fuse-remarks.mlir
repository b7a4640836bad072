// RUN: opt-tool -p fuse --fusion-remarks %s -o %t 2>&1 | filecheck %s
// RUN: opt-tool -p "fuse{target=numpy}" --fusion-remarks %s -o %t 2>&1 | filecheck %s --check-prefix=NUMPY

// Every edge left between two kernels, with the rule that stopped it.
// CHECK-DAG: remark: hy.fused(hy.conv2d, hy.relu) (op 2) -> hy.max_pool2d (op 3) not fused [one-anchor]
// CHECK-DAG: remark: hy.max_pool2d (op 3) -> hy.fused(hy.exp, hy.add) (op 5) not fused [users]
// CHECK-DAG: remark: hy.max_pool2d (op 3) -> hy.cumsum (op 4) not fused [opaque]
// CHECK-DAG: remark: hy.cumsum (op 4) -> hy.fused(hy.exp, hy.add) (op 5) not fused [opaque]
// NUMPY-DAG: remark: hy.fused(hy.conv2d, hy.relu) (op 2) -> hy.max_pool2d (op 3) not fused [one-anchor]
func.func @forward(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x2x2xf32> {
  %w = hy.constant dense<0.5> : tensor<2x2x1x1xf32>
  %b = hy.constant dense<0.5> : tensor<2xf32>
  %0 = hy.conv2d %x, %w stride [1, 1] padding [0, 0] : (tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) -> tensor<1x2x4x4xf32>
  %1 = hy.relu %0 : tensor<1x2x4x4xf32>
  %2 = hy.max_pool2d %1 kernel [2, 2] stride [2, 2] padding [0, 0] : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
  %3 = hy.cumsum %2 axis 3 : tensor<1x2x2x2xf32>
  %4 = hy.exp %2 : tensor<1x2x2x2xf32>
  %5 = hy.add %4, %3 : (tensor<1x2x2x2xf32>, tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  func.return %5 : tensor<1x2x2x2xf32>
}
