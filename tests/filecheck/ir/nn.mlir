// RUN: opt-tool %s | opt-tool | filecheck %s
// NN ops and reductions: printing, parsing and printing again gives the same text.

func.func @forward(%x: tensor<1x4x8x8xf32>, %w: tensor<8x2x3x3xf32>, %b: tensor<8xf32>, %c: tensor<4xf32>) -> tensor<1x8x8x8xf32> {
  %0 = hy.conv2d %x, %w, %b stride [1, 1] padding [1, 1] groups 2 : (tensor<1x4x8x8xf32>, tensor<8x2x3x3xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
  %1 = hy.conv2d %x, %w stride [2, 1] padding [0, 2] dilation [2, 2] groups 2 : (tensor<1x4x8x8xf32>, tensor<8x2x3x3xf32>) -> tensor<1x8x2x8xf32>
  %2 = hy.max_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1] : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  %3 = hy.avg_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1] count_include_pad : tensor<1x4x8x8xf32> -> tensor<1x4x5x5xf32>
  %4 = hy.avg_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
  %5 = hy.adaptive_avg_pool2d %x : tensor<1x4x8x8xf32> -> tensor<1x4x3x3xf32>
  %6 = hy.batch_norm %x, %c, %c weight %c bias %c eps 1.0e-05 : tensor<1x4x8x8xf32>, tensor<4xf32>
  %7 = hy.batch_norm %x, %c, %c bias %c eps 0.001 : tensor<1x4x8x8xf32>, tensor<4xf32>
  %8 = hy.softmax %x axis 1 : tensor<1x4x8x8xf32>
  %9 = hy.log_softmax %x axis 3 : tensor<1x4x8x8xf32>
  func.return %0 : tensor<1x8x8x8xf32>
}

// CHECK-LABEL: func.func @forward
// CHECK-NEXT:    %0 = hy.conv2d %x, %w, %b stride [1, 1] padding [1, 1] groups 2 : (tensor<1x4x8x8xf32>, tensor<8x2x3x3xf32>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
// CHECK-NEXT:    %1 = hy.conv2d %x, %w stride [2, 1] padding [0, 2] dilation [2, 2] groups 2 : (tensor<1x4x8x8xf32>, tensor<8x2x3x3xf32>) -> tensor<1x8x2x8xf32>
// CHECK-NEXT:    %2 = hy.max_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1] : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
// CHECK-NEXT:    %3 = hy.avg_pool2d %x kernel [3, 3] stride [2, 2] padding [1, 1] count_include_pad : tensor<1x4x8x8xf32> -> tensor<1x4x5x5xf32>
// CHECK-NEXT:    %4 = hy.avg_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] : tensor<1x4x8x8xf32> -> tensor<1x4x4x4xf32>
// CHECK-NEXT:    %5 = hy.adaptive_avg_pool2d %x : tensor<1x4x8x8xf32> -> tensor<1x4x3x3xf32>
// CHECK-NEXT:    %6 = hy.batch_norm %x, %c, %c weight %c bias %c eps 1.000000e-05 : tensor<1x4x8x8xf32>, tensor<4xf32>
// CHECK-NEXT:    %7 = hy.batch_norm %x, %c, %c bias %c eps 1.000000e-03 : tensor<1x4x8x8xf32>, tensor<4xf32>
// CHECK-NEXT:    %8 = hy.softmax %x axis 1 : tensor<1x4x8x8xf32>
// CHECK-NEXT:    %9 = hy.log_softmax %x axis 3 : tensor<1x4x8x8xf32>

// Default dilation and groups are not printed; a dynamic batch passes through.
func.func @defaults(%x: tensor<?x3x5x5xf32>, %w: tensor<2x3x1x1xf32>) -> tensor<?x2x5x5xf32> {
  %0 = hy.conv2d %x, %w stride [1, 1] padding [0, 0] dilation [1, 1] groups 1 : (tensor<?x3x5x5xf32>, tensor<2x3x1x1xf32>) -> tensor<?x2x5x5xf32>
  func.return %0 : tensor<?x2x5x5xf32>
}

// CHECK-LABEL: func.func @defaults
// CHECK-NEXT:    %0 = hy.conv2d %x, %w stride [1, 1] padding [0, 0] : (tensor<?x3x5x5xf32>, tensor<2x3x1x1xf32>) -> tensor<?x2x5x5xf32>

func.func @norms(%x: tensor<2x3x8xf64>, %w: tensor<8xf64>) -> tensor<2x3x8xf64> {
  %0 = hy.layer_norm %x weight %w bias %w axis 2 eps 1.0e-05 : tensor<2x3x8xf64>, tensor<8xf64>, tensor<8xf64>
  %1 = hy.layer_norm %x weight %w axis 2 eps 1.0e-05 : tensor<2x3x8xf64>, tensor<8xf64>
  %2 = hy.layer_norm %x axis 1 eps 1.0e-06 : tensor<2x3x8xf64>
  func.return %0 : tensor<2x3x8xf64>
}

// CHECK-LABEL: func.func @norms
// CHECK-NEXT:    %0 = hy.layer_norm %x weight %w bias %w axis 2 eps 1.000000e-05 : tensor<2x3x8xf64>, tensor<8xf64>, tensor<8xf64>
// CHECK-NEXT:    %1 = hy.layer_norm %x weight %w axis 2 eps 1.000000e-05 : tensor<2x3x8xf64>, tensor<8xf64>
// CHECK-NEXT:    %2 = hy.layer_norm %x axis 1 eps 1.000000e-06 : tensor<2x3x8xf64>

func.func @reductions(%x: tensor<2x3x4xf32>, %b: tensor<2x3xi1>, %i: tensor<5xi32>) -> tensor<2x4xf32> {
  %0 = hy.reduce_sum %x axes [1] : tensor<2x3x4xf32> -> tensor<2x4xf32>
  %1 = hy.reduce_mean %x axes [0, 2] keepdim : tensor<2x3x4xf32> -> tensor<1x3x1xf32>
  %2 = hy.reduce_max %x axes [0, 1, 2] : tensor<2x3x4xf32> -> tensor<f32>
  %3 = hy.reduce_min %i axes [0] keepdim : tensor<5xi32> -> tensor<1xi32>
  %4 = hy.reduce_any %b axes [1] : tensor<2x3xi1> -> tensor<2xi1>
  func.return %0 : tensor<2x4xf32>
}

// CHECK-LABEL: func.func @reductions
// CHECK-NEXT:    %0 = hy.reduce_sum %x axes [1] : tensor<2x3x4xf32> -> tensor<2x4xf32>
// CHECK-NEXT:    %1 = hy.reduce_mean %x axes [0, 2] keepdim : tensor<2x3x4xf32> -> tensor<1x3x1xf32>
// CHECK-NEXT:    %2 = hy.reduce_max %x axes [0, 1, 2] : tensor<2x3x4xf32> -> tensor<f32>
// CHECK-NEXT:    %3 = hy.reduce_min %i axes [0] keepdim : tensor<5xi32> -> tensor<1xi32>
// CHECK-NEXT:    %4 = hy.reduce_any %b axes [1] : tensor<2x3xi1> -> tensor<2xi1>

func.func @attention(%q: tensor<2x4x5x8xf32>, %k: tensor<2x4x7x8xf32>, %v: tensor<2x4x7x6xf32>, %m: tensor<5x7xi1>, %f: tensor<4x1x7xf32>) -> tensor<2x4x5x6xf32> {
  %0 = hy.attention %q, %k, %v scale 0.35355339059327373 : (tensor<2x4x5x8xf32>, tensor<2x4x7x8xf32>, tensor<2x4x7x6xf32>) -> tensor<2x4x5x6xf32>
  %1 = hy.attention %q, %k, %v mask %m scale 0.125 causal : (tensor<2x4x5x8xf32>, tensor<2x4x7x8xf32>, tensor<2x4x7x6xf32>, tensor<5x7xi1>) -> tensor<2x4x5x6xf32>
  %2 = hy.attention %q, %k, %v mask %f scale 1.0 : (tensor<2x4x5x8xf32>, tensor<2x4x7x8xf32>, tensor<2x4x7x6xf32>, tensor<4x1x7xf32>) -> tensor<2x4x5x6xf32>
  func.return %0 : tensor<2x4x5x6xf32>
}

// CHECK-LABEL: func.func @attention
// CHECK-NEXT:    %0 = hy.attention %q, %k, %v scale 0.35355339059327373 : (tensor<2x4x5x8xf32>, tensor<2x4x7x8xf32>, tensor<2x4x7x6xf32>) -> tensor<2x4x5x6xf32>
// CHECK-NEXT:    %1 = hy.attention %q, %k, %v mask %m scale 1.250000e-01 causal : (tensor<2x4x5x8xf32>, tensor<2x4x7x8xf32>, tensor<2x4x7x6xf32>, tensor<5x7xi1>) -> tensor<2x4x5x6xf32>
// CHECK-NEXT:    %2 = hy.attention %q, %k, %v mask %f scale 1.000000e+00 : (tensor<2x4x5x8xf32>, tensor<2x4x7x8xf32>, tensor<2x4x7x6xf32>, tensor<4x1x7xf32>) -> tensor<2x4x5x6xf32>
