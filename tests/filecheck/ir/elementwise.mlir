// RUN: opt-tool %s | opt-tool | filecheck %s
// Every elementwise op prints, parses and prints again to the same text.

// CHECK-LABEL: func.func @math
// CHECK-NEXT:    %0 = hy.neg %x : tensor<2x3xf32>
// CHECK-NEXT:    %1 = hy.abs %0 : tensor<2x3xf32>
// CHECK-NEXT:    %2 = hy.exp %1 : tensor<2x3xf32>
// CHECK-NEXT:    %3 = hy.expm1 %2 : tensor<2x3xf32>
// CHECK-NEXT:    %4 = hy.log %3 : tensor<2x3xf32>
// CHECK-NEXT:    %5 = hy.log1p %4 : tensor<2x3xf32>
// CHECK-NEXT:    %6 = hy.sqrt %5 : tensor<2x3xf32>
// CHECK-NEXT:    %7 = hy.rsqrt %6 : tensor<2x3xf32>
// CHECK-NEXT:    %8 = hy.reciprocal %7 : tensor<2x3xf32>
// CHECK-NEXT:    %9 = hy.erf %8 : tensor<2x3xf32>
// CHECK-NEXT:    %10 = hy.sigmoid %9 : tensor<2x3xf32>
// CHECK-NEXT:    %11 = hy.tanh %10 : tensor<2x3xf32>
// CHECK-NEXT:    %12 = hy.sin %11 : tensor<2x3xf32>
// CHECK-NEXT:    %13 = hy.cos %12 : tensor<2x3xf32>
// CHECK-NEXT:    %14 = hy.floor %13 : tensor<2x3xf32>
// CHECK-NEXT:    %15 = hy.abs %i : tensor<3xi64>
// CHECK-NEXT:    %16 = hy.neg %15 : tensor<3xi64>
func.func @math(%x: tensor<2x3xf32>, %i: tensor<3xi64>) -> tensor<2x3xf32> {
  %0 = hy.neg %x : tensor<2x3xf32>
  %1 = hy.abs %0 : tensor<2x3xf32>
  %2 = hy.exp %1 : tensor<2x3xf32>
  %3 = hy.expm1 %2 : tensor<2x3xf32>
  %4 = hy.log %3 : tensor<2x3xf32>
  %5 = hy.log1p %4 : tensor<2x3xf32>
  %6 = hy.sqrt %5 : tensor<2x3xf32>
  %7 = hy.rsqrt %6 : tensor<2x3xf32>
  %8 = hy.reciprocal %7 : tensor<2x3xf32>
  %9 = hy.erf %8 : tensor<2x3xf32>
  %10 = hy.sigmoid %9 : tensor<2x3xf32>
  %11 = hy.tanh %10 : tensor<2x3xf32>
  %12 = hy.sin %11 : tensor<2x3xf32>
  %13 = hy.cos %12 : tensor<2x3xf32>
  %14 = hy.floor %13 : tensor<2x3xf32>
  %15 = hy.abs %i : tensor<3xi64>
  %16 = hy.neg %15 : tensor<3xi64>
  func.return %14 : tensor<2x3xf32>
}

// Activations; properties print only when they differ from their default
// (gelu's approximate "none"), floats in xDSL's lossless notation.
// CHECK-LABEL: func.func @activations
// CHECK-NEXT:    %0 = hy.silu %x : tensor<4xf32>
// CHECK-NEXT:    %1 = hy.hardswish %0 : tensor<4xf32>
// CHECK-NEXT:    %2 = hy.hardsigmoid %1 : tensor<4xf32>
// CHECK-NEXT:    %3 = hy.softplus %2 : tensor<4xf32>
// CHECK-NEXT:    %4 = hy.gelu %3 : tensor<4xf32>
// CHECK-NEXT:    %5 = hy.gelu %4 approximate "tanh" : tensor<4xf32>
// CHECK-NEXT:    %6 = hy.leaky_relu %5 slope 1.000000e-02 : tensor<4xf32>
// CHECK-NEXT:    %7 = hy.elu %6 alpha 1.500000e+00 : tensor<4xf32>
// CHECK-NEXT:    %8 = hy.clamp %7 min -1.000000e+00 max 1.000000e+00 : tensor<4xf32>
// CHECK-NEXT:    %9 = hy.clamp %8 min 0.000000e+00 : tensor<4xf32>
// CHECK-NEXT:    %10 = hy.clamp %9 max 6.000000e+00 : tensor<4xf32>
// CHECK-NEXT:    %11 = hy.clamp %i min 0.000000e+00 max 9.000000e+00 : tensor<4xi32>
// CHECK-NEXT:    %12 = hy.leaky_relu %10 slope 0.123456789 : tensor<4xf32>
func.func @activations(%x: tensor<4xf32>, %i: tensor<4xi32>) -> tensor<4xf32> {
  %0 = hy.silu %x : tensor<4xf32>
  %1 = hy.hardswish %0 : tensor<4xf32>
  %2 = hy.hardsigmoid %1 : tensor<4xf32>
  %3 = hy.softplus %2 : tensor<4xf32>
  %4 = hy.gelu %3 approximate "none" : tensor<4xf32>
  %5 = hy.gelu %4 approximate "tanh" : tensor<4xf32>
  %6 = hy.leaky_relu %5 slope 0.01 : tensor<4xf32>
  %7 = hy.elu %6 alpha 1.5 : tensor<4xf32>
  %8 = hy.clamp %7 min -1.0 max 1.0 : tensor<4xf32>
  %9 = hy.clamp %8 min 0.0 : tensor<4xf32>
  %10 = hy.clamp %9 max 6.0 : tensor<4xf32>
  %11 = hy.clamp %i min 0.0 max 9.0 : tensor<4xi32>
  %12 = hy.leaky_relu %10 slope 0.123456789 : tensor<4xf32>
  func.return %12 : tensor<4xf32>
}

// Broadcasting binaries, comparisons (i1 results), logic, where and casts.
// CHECK-LABEL: func.func @select
// CHECK-NEXT:    %0 = hy.pow %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %1 = hy.maximum %0, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %2 = hy.minimum %y, %1 : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %3 = hy.eq %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    %4 = hy.ne %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    %5 = hy.lt %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    %6 = hy.le %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    %7 = hy.gt %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    %8 = hy.ge %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
// CHECK-NEXT:    %9 = hy.and %3, %4 : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
// CHECK-NEXT:    %10 = hy.or %9, %5 : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
// CHECK-NEXT:    %11 = hy.xor %10, %6 : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
// CHECK-NEXT:    %12 = hy.not %11 : tensor<2x3xi1>
// CHECK-NEXT:    %13 = hy.where %12, %c, %y : (tensor<2x3xi1>, tensor<f32>, tensor<3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:    %14 = hy.cast %13 : tensor<2x3xf32> -> tensor<2x3xi64>
// CHECK-NEXT:    %15 = hy.cast %12 : tensor<2x3xi1> -> tensor<2x3xf32>
func.func @select(%x: tensor<2x3xf32>, %y: tensor<3xf32>, %c: tensor<f32>) -> tensor<2x3xi64> {
  %0 = hy.pow %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %1 = hy.maximum %0, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %2 = hy.minimum %y, %1 : (tensor<3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %3 = hy.eq %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %4 = hy.ne %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %5 = hy.lt %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %6 = hy.le %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %7 = hy.gt %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %8 = hy.ge %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xi1>
  %9 = hy.and %3, %4 : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  %10 = hy.or %9, %5 : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  %11 = hy.xor %10, %6 : (tensor<2x3xi1>, tensor<2x3xi1>) -> tensor<2x3xi1>
  %12 = hy.not %11 : tensor<2x3xi1>
  %13 = hy.where %12, %c, %y : (tensor<2x3xi1>, tensor<f32>, tensor<3xf32>) -> tensor<2x3xf32>
  %14 = hy.cast %13 : tensor<2x3xf32> -> tensor<2x3xi64>
  %15 = hy.cast %12 : tensor<2x3xi1> -> tensor<2x3xf32>
  func.return %14 : tensor<2x3xi64>
}
