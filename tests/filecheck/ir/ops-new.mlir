// RUN: opt-tool %s | opt-tool | filecheck %s
// Transposed convolution, group norm, resize, the ordering ops and cumprod: printing,
// parsing and printing again gives the same text; defaults are not printed.

func.func @forward(%x: tensor<1x4x5x6xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<6xf32>, %g: tensor<4xf32>, %v: tensor<2x7xf32>, %i: tensor<2x7xi32>) -> tensor<1x4x5x6xf32> {
  %0 = hy.conv_transpose2d %x, %w stride [2, 2] padding [1, 1] output_padding [1, 1] : (tensor<1x4x5x6xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x10x12xf32>
  %1 = hy.conv_transpose2d %x, %w, %b stride [1, 1] padding [0, 0] output_padding [0, 0] dilation [1, 1] groups 2 : (tensor<1x4x5x6xf32>, tensor<4x3x3x3xf32>, tensor<6xf32>) -> tensor<1x6x7x8xf32>
  %2 = hy.group_norm %x weight %g bias %g groups 2 eps 1.0e-05 : tensor<1x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>
  %3 = hy.group_norm %x groups 4 eps 1.0e-05 : tensor<1x4x5x6xf32>
  %4 = hy.resize %x mode "linear" align_corners : tensor<1x4x5x6xf32> -> tensor<1x4x10x12xf32>
  %5 = hy.resize %x mode "nearest" scale [2.0, 2.0] : tensor<1x4x5x6xf32> -> tensor<1x4x10x12xf32>
  %6 = hy.resize %x mode "cubic" : tensor<1x4x5x6xf32> -> tensor<1x4x3x3xf32>
  %7 = hy.sort %v axis 1 descending : tensor<2x7xf32>
  %8 = hy.argsort %i axis 0 : tensor<2x7xi32> -> tensor<2x7xi64>
  %9 = hy.argmax %v axis 1 keepdim : tensor<2x7xf32> -> tensor<2x1xi64>
  %10 = hy.argmin %i axis 0 : tensor<2x7xi32> -> tensor<7xi64>
  %11 = hy.cumprod %v axis 1 : tensor<2x7xf32>
  func.return %2 : tensor<1x4x5x6xf32>
}

// CHECK-LABEL: func.func @forward
// CHECK-NEXT:    %0 = hy.conv_transpose2d %x, %w stride [2, 2] padding [1, 1] output_padding [1, 1] : (tensor<1x4x5x6xf32>, tensor<4x3x3x3xf32>) -> tensor<1x3x10x12xf32>
// CHECK-NEXT:    %1 = hy.conv_transpose2d %x, %w, %b stride [1, 1] padding [0, 0] groups 2 : (tensor<1x4x5x6xf32>, tensor<4x3x3x3xf32>, tensor<6xf32>) -> tensor<1x6x7x8xf32>
// CHECK-NEXT:    %2 = hy.group_norm %x weight %g bias %g groups 2 eps 1.000000e-05 : tensor<1x4x5x6xf32>, tensor<4xf32>, tensor<4xf32>
// CHECK-NEXT:    %3 = hy.group_norm %x groups 4 eps 1.000000e-05 : tensor<1x4x5x6xf32>
// CHECK-NEXT:    %4 = hy.resize %x mode "linear" align_corners : tensor<1x4x5x6xf32> -> tensor<1x4x10x12xf32>
// CHECK-NEXT:    %5 = hy.resize %x mode "nearest" scale [2.000000e+00, 2.000000e+00] : tensor<1x4x5x6xf32> -> tensor<1x4x10x12xf32>
// CHECK-NEXT:    %6 = hy.resize %x mode "cubic" : tensor<1x4x5x6xf32> -> tensor<1x4x3x3xf32>
// CHECK-NEXT:    %7 = hy.sort %v axis 1 descending : tensor<2x7xf32>
// CHECK-NEXT:    %8 = hy.argsort %i axis 0 : tensor<2x7xi32> -> tensor<2x7xi64>
// CHECK-NEXT:    %9 = hy.argmax %v axis 1 keepdim : tensor<2x7xf32> -> tensor<2x1xi64>
// CHECK-NEXT:    %10 = hy.argmin %i axis 0 : tensor<2x7xi32> -> tensor<7xi64>
// CHECK-NEXT:    %11 = hy.cumprod %v axis 1 : tensor<2x7xf32>
