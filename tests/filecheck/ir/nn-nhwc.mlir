// RUN: opt-tool %s | opt-tool | filecheck %s
// Channels-last NN ops (the layout pass's): printing, parsing and printing again gives the same text.

func.func @forward(%x: tensor<1x8x8x4xf32>, %w: tensor<8x2x3x3xf32>, %b: tensor<8xf32>) -> tensor<1x8x8x8xf32> {
  %0 = hy.conv2d_nhwc %x, %w, %b stride [1, 1] padding [1, 1] groups 2 : (tensor<1x8x8x4xf32>, tensor<8x2x3x3xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
  %1 = hy.conv2d_nhwc %x, %w stride [2, 1] padding [0, 2] dilation [2, 2] groups 2 : (tensor<1x8x8x4xf32>, tensor<8x2x3x3xf32>) -> tensor<1x2x8x8xf32>
  %2 = hy.max_pool2d_nhwc %x kernel [3, 3] stride [2, 2] padding [1, 1] : tensor<1x8x8x4xf32> -> tensor<1x4x4x4xf32>
  %3 = hy.avg_pool2d_nhwc %x kernel [3, 3] stride [2, 2] padding [1, 1] count_include_pad : tensor<1x8x8x4xf32> -> tensor<1x5x5x4xf32>
  func.return %0 : tensor<1x8x8x8xf32>
}

// CHECK-LABEL: func.func @forward
// CHECK-NEXT:    %0 = hy.conv2d_nhwc %x, %w, %b stride [1, 1] padding [1, 1] groups 2 : (tensor<1x8x8x4xf32>, tensor<8x2x3x3xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
// CHECK-NEXT:    %1 = hy.conv2d_nhwc %x, %w stride [2, 1] padding [0, 2] dilation [2, 2] groups 2 : (tensor<1x8x8x4xf32>, tensor<8x2x3x3xf32>) -> tensor<1x2x8x8xf32>
// CHECK-NEXT:    %2 = hy.max_pool2d_nhwc %x kernel [3, 3] stride [2, 2] padding [1, 1] : tensor<1x8x8x4xf32> -> tensor<1x4x4x4xf32>
// CHECK-NEXT:    %3 = hy.avg_pool2d_nhwc %x kernel [3, 3] stride [2, 2] padding [1, 1] count_include_pad : tensor<1x8x8x4xf32> -> tensor<1x5x5x4xf32>
