// RUN: opt-tool %s | opt-tool | filecheck %s
// Printing, parsing and printing again gives the same text for every op.

func.func @forward(%x: tensor<2x3xf32>, %y: tensor<3xf32>) -> tensor<2x4xf32> {
  %w = hy.constant dense<1.5> : tensor<4x3xf32>
  %b = hy.constant dense<[0.5, -0.5, 1.0, 2.0]> : tensor<4xf32>
  %0 = hy.add %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %1 = hy.sub %0, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %2 = hy.mul %1, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = hy.div %2, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %4 = hy.relu %3 : tensor<2x3xf32>
  %5 = hy.transpose %4 perm [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
  %6 = hy.reshape %5 : tensor<3x2xf32> -> tensor<2x3xf32>
  %7 = hy.matmul %6, %5 : (tensor<2x3xf32>, tensor<3x2xf32>) -> tensor<2x2xf32>
  %8 = hy.fused(%6, %w, %b) : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<2x4xf32> {
  ^bb0(%a: tensor<2x3xf32>, %c: tensor<4x3xf32>, %d: tensor<4xf32>):
    %9 = hy.linear %a, %c, %d : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %10 = hy.relu %9 : tensor<2x4xf32>
    hy.yield %10 : tensor<2x4xf32>
  }
  func.return %8 : tensor<2x4xf32>
}

// CHECK:      func.func @forward(%x: tensor<2x3xf32>, %y: tensor<3xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT:   %w = hy.constant dense<1.500000e+00> : tensor<4x3xf32>
// CHECK-NEXT:   %b = hy.constant dense<[5.000000e-01, -5.000000e-01, 1.000000e+00, 2.000000e+00]> : tensor<4xf32>
// CHECK-NEXT:   %0 = hy.add %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:   %1 = hy.sub %0, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:   %2 = hy.mul %1, %x : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:   %3 = hy.div %2, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:   %4 = hy.relu %3 : tensor<2x3xf32>
// CHECK-NEXT:   %5 = hy.transpose %4 perm [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
// CHECK-NEXT:   %6 = hy.reshape %5 : tensor<3x2xf32> -> tensor<2x3xf32>
// CHECK-NEXT:   %7 = hy.matmul %6, %5 : (tensor<2x3xf32>, tensor<3x2xf32>) -> tensor<2x2xf32>
// CHECK-NEXT:   %8 = hy.fused(%6, %w, %b) : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<2x4xf32> {
// CHECK-NEXT:   ^bb0(%a: tensor<2x3xf32>, %c: tensor<4x3xf32>, %d: tensor<4xf32>):
// CHECK-NEXT:     %9 = hy.linear %a, %c, %d : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<2x4xf32>
// CHECK-NEXT:     %10 = hy.relu %9 : tensor<2x4xf32>
// CHECK-NEXT:     hy.yield %10 : tensor<2x4xf32>
// CHECK-NEXT:   }
// CHECK-NEXT:   func.return %8 : tensor<2x4xf32>
