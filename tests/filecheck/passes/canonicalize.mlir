// RUN: opt-tool -p canonicalize %s | filecheck %s

// transpose(transpose(x)) = x, reshape(reshape(x)) = reshape(x), reshape to the same type = x
// CHECK-LABEL: func.func @forward
// CHECK-NEXT:    func.return %x : tensor<2x3xf32>
func.func @forward(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = hy.transpose %x perm [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
  %1 = hy.transpose %0 perm [1, 0] : tensor<3x2xf32> -> tensor<2x3xf32>
  %2 = hy.reshape %1 : tensor<2x3xf32> -> tensor<6xf32>
  %3 = hy.reshape %2 : tensor<6xf32> -> tensor<2x3xf32>
  func.return %3 : tensor<2x3xf32>
}

// matmul(x, transpose(w)) + b = linear(x, w, b): the decomposed addmm of torch.export
// CHECK-LABEL: func.func @addmm
// CHECK-NOT:     hy.matmul
// CHECK:         %{{.*}} = hy.linear %x, %{{.*}}, %{{.*}} : (tensor<1x4xf32>, tensor<2x4xf32>, tensor<2xf32>) -> tensor<1x2xf32>
// CHECK-NOT:     hy.add
func.func @addmm(%x: tensor<1x4xf32>, %w: tensor<2x4xf32>, %b: tensor<2xf32>) -> tensor<1x2xf32> {
  %t = hy.transpose %w perm [1, 0] : tensor<2x4xf32> -> tensor<4x2xf32>
  %m = hy.matmul %x, %t : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>
  %y = hy.add %m, %b : (tensor<1x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
  func.return %y : tensor<1x2xf32>
}

// an integer matmul stays a matmul (hy.linear is float-only): found by check_pass
// CHECK-LABEL: func.func @int_matmul
// CHECK:         hy.matmul %x, %{{.*}} : (tensor<3x2xi64>, tensor<2x1xi64>) -> tensor<3x1xi64>
// CHECK:         hy.matmul %x, %{{.*}} : (tensor<3x2xi64>, tensor<2x2xi64>) -> tensor<3x2xi64>
// CHECK-NOT:     hy.linear
func.func @int_matmul(%x: tensor<3x2xi64>, %w: tensor<2x2xi64>) -> (tensor<3x1xi64>, tensor<3x2xi64>) {
  %c = hy.constant dense<[[3], [2]]> : tensor<2x1xi64>
  %m = hy.matmul %x, %c : (tensor<3x2xi64>, tensor<2x1xi64>) -> tensor<3x1xi64>
  %t = hy.transpose %w perm [1, 0] : tensor<2x2xi64> -> tensor<2x2xi64>
  %n = hy.matmul %x, %t : (tensor<3x2xi64>, tensor<2x2xi64>) -> tensor<3x2xi64>
  func.return %m, %n : tensor<3x1xi64>, tensor<3x2xi64>
}

// all-constant operands fold: relu(const) = const
// CHECK-LABEL: func.func @fold
// CHECK-NEXT:    %{{.*}} = hy.constant dense<[1.000000e+00, 0.000000e+00]> : tensor<2xf32>
// CHECK-NOT:     hy.relu
func.func @fold() -> tensor<2xf32> {
  %a = hy.constant dense<[1.0, -2.0]> : tensor<2xf32>
  %b = hy.relu %a : tensor<2xf32>
  func.return %b : tensor<2xf32>
}
