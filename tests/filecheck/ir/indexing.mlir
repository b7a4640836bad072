// RUN: opt-tool %s | opt-tool | filecheck %s
// Shape and indexing ops print, parse and print again to the same text.

// CHECK-LABEL: func.func @shape
// CHECK-NEXT:    %0 = hy.concat %x, %y axis 1 : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
// CHECK-NEXT:    %1 = hy.slice %0 starts [0, 1] steps [1, 3] : tensor<2x8xf32> -> tensor<2x3xf32>
// CHECK-NEXT:    %2 = hy.pad %1 low [1, 0] high [0, 2] value 0.000000e+00 : tensor<2x3xf32> -> tensor<3x5xf32>
// CHECK-NEXT:    %3 = hy.pad %1 low [0, 1] high [0, 0] value -inf : tensor<2x3xf32> -> tensor<2x4xf32>
// CHECK-NEXT:    %4 = hy.pad %1 low [0, 0] high [1, 0] value nan : tensor<2x3xf32> -> tensor<3x3xf32>
// CHECK-NEXT:    %5 = hy.pad %1 low [0, 0] high [0, 1] value 2.500000e-01 : tensor<2x3xf32> -> tensor<2x4xf32>
// CHECK-NEXT:    %6 = hy.broadcast %y : tensor<2x5xf32> -> tensor<4x2x5xf32>
// CHECK-NEXT:    %7 = hy.concat %x axis 0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
func.func @shape(%x: tensor<2x3xf32>, %y: tensor<2x5xf32>) -> tensor<3x5xf32> {
  %0 = hy.concat %x, %y axis 1 : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
  %1 = hy.slice %0 starts [0, 1] steps [1, 3] : tensor<2x8xf32> -> tensor<2x3xf32>
  %2 = hy.pad %1 low [1, 0] high [0, 2] value 0.0 : tensor<2x3xf32> -> tensor<3x5xf32>
  %3 = hy.pad %1 low [0, 1] high [0, 0] value -inf : tensor<2x3xf32> -> tensor<2x4xf32>
  %4 = hy.pad %1 low [0, 0] high [1, 0] value nan : tensor<2x3xf32> -> tensor<3x3xf32>
  %5 = hy.pad %1 low [0, 0] high [0, 1] value 0.25 : tensor<2x3xf32> -> tensor<2x4xf32>
  %6 = hy.broadcast %y : tensor<2x5xf32> -> tensor<4x2x5xf32>
  %7 = hy.concat %x axis 0 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %2 : tensor<3x5xf32>
}

// A dynamic batch dimension passes through whole.
// CHECK-LABEL: func.func @dynamic
// CHECK-NEXT:    %0 = hy.slice %x starts [0, 2] steps [1, 1] : tensor<?x4xf32> -> tensor<?x2xf32>
// CHECK-NEXT:    %1 = hy.concat %0, %0 axis 1 : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x4xf32>
// CHECK-NEXT:    %2 = hy.broadcast %x : tensor<?x4xf32> -> tensor<3x?x4xf32>
func.func @dynamic(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = hy.slice %x starts [0, 2] steps [1, 1] : tensor<?x4xf32> -> tensor<?x2xf32>
  %1 = hy.concat %0, %0 axis 1 : (tensor<?x2xf32>, tensor<?x2xf32>) -> tensor<?x4xf32>
  %2 = hy.broadcast %x : tensor<?x4xf32> -> tensor<3x?x4xf32>
  func.return %1 : tensor<?x4xf32>
}

// CHECK-LABEL: func.func @indexing
// CHECK-NEXT:    %0 = hy.take %w, %ids axis 0 : (tensor<10x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
// CHECK-NEXT:    %1 = hy.take %w, %j axis 1 : (tensor<10x4xf32>, tensor<5xi32>) -> tensor<10x5xf32>
// CHECK-NEXT:    %2 = hy.gather %w, %g axis 1 : (tensor<10x4xf32>, tensor<3x6xi64>) -> tensor<3x6xf32>
// CHECK-NEXT:    %3 = hy.cumsum %w axis 0 : tensor<10x4xf32>
// CHECK-NEXT:    %4 = hy.cumsum %ids axis 1 : tensor<2x3xi64>
func.func @indexing(%w: tensor<10x4xf32>, %ids: tensor<2x3xi64>, %j: tensor<5xi32>, %g: tensor<3x6xi64>) -> tensor<2x3x4xf32> {
  %0 = hy.take %w, %ids axis 0 : (tensor<10x4xf32>, tensor<2x3xi64>) -> tensor<2x3x4xf32>
  %1 = hy.take %w, %j axis 1 : (tensor<10x4xf32>, tensor<5xi32>) -> tensor<10x5xf32>
  %2 = hy.gather %w, %g axis 1 : (tensor<10x4xf32>, tensor<3x6xi64>) -> tensor<3x6xf32>
  %3 = hy.cumsum %w axis 0 : tensor<10x4xf32>
  %4 = hy.cumsum %ids axis 1 : tensor<2x3xi64>
  func.return %0 : tensor<2x3x4xf32>
}

// iota: values along an axis, any shape, also the dynamic batch; a 1 broadcasts to the batch.
// CHECK-LABEL: func.func @iota
// CHECK-NEXT:    %0 = hy.iota axis 0 start 0.000000e+00 step 1.000000e+00 : tensor<?xi64>
// CHECK-NEXT:    %1 = hy.iota axis 1 start 2.000000e+00 step 5.000000e-01 : tensor<3x4xf32>
// CHECK-NEXT:    %2 = hy.broadcast %x : tensor<1x4xf32> -> tensor<?x4xf32>
func.func @iota(%x: tensor<1x4xf32>) -> (tensor<?xi64>, tensor<3x4xf32>, tensor<?x4xf32>) {
  %0 = hy.iota axis 0 start 0.0 step 1.0 : tensor<?xi64>
  %1 = hy.iota axis 1 start 2.0 step 0.5 : tensor<3x4xf32>
  %2 = hy.broadcast %x : tensor<1x4xf32> -> tensor<?x4xf32>
  func.return %0, %1, %2 : tensor<?xi64>, tensor<3x4xf32>, tensor<?x4xf32>
}
