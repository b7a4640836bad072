// RUN: opt-tool -p canonicalize %s | filecheck %s
// Laws of the elementwise, shape and indexing ops (ir/canonicalization.py).

// neg(neg(x)) = x, not(not(c)) = c, cast to the same type = x, where(c, x, x) = x
// CHECK-LABEL: func.func @involutions
// CHECK-NEXT:    func.return %x, %c : tensor<2x3xf32>, tensor<2x3xi1>
func.func @involutions(%x: tensor<2x3xf32>, %c: tensor<2x3xi1>) -> (tensor<2x3xf32>, tensor<2x3xi1>) {
  %0 = hy.neg %x : tensor<2x3xf32>
  %1 = hy.neg %0 : tensor<2x3xf32>
  %2 = hy.cast %1 : tensor<2x3xf32> -> tensor<2x3xf32>
  %3 = hy.where %c, %2, %2 : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %4 = hy.not %c : tensor<2x3xi1>
  %5 = hy.not %4 : tensor<2x3xi1>
  func.return %3, %5 : tensor<2x3xf32>, tensor<2x3xi1>
}

// cast(cast(x : i1) : i64) : f32 = cast(x : i1) : f32 (i1 -> i64 is exact);
// f32 -> i64 truncates, so a cast back to f32 stays.
// CHECK-LABEL: func.func @casts
// CHECK-NEXT:    %0 = hy.cast %c : tensor<4xi1> -> tensor<4xf32>
// CHECK-NEXT:    %1 = hy.cast %x : tensor<4xf32> -> tensor<4xi64>
// CHECK-NEXT:    %2 = hy.cast %1 : tensor<4xi64> -> tensor<4xf32>
// CHECK-NEXT:    func.return %0, %2
func.func @casts(%c: tensor<4xi1>, %x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %0 = hy.cast %c : tensor<4xi1> -> tensor<4xi64>
  %1 = hy.cast %0 : tensor<4xi64> -> tensor<4xf32>
  %2 = hy.cast %x : tensor<4xf32> -> tensor<4xi64>
  %3 = hy.cast %2 : tensor<4xi64> -> tensor<4xf32>
  func.return %1, %3 : tensor<4xf32>, tensor<4xf32>
}

// broadcast to the same type = x, broadcast(broadcast(x)) = broadcast(x),
// slice of the whole tensor = x, slice(slice(x)) = one slice, zero pad = x,
// concat of one input = x
// CHECK-LABEL: func.func @shapes
// CHECK-NEXT:    %0 = hy.broadcast %y : tensor<3xf32> -> tensor<4x2x3xf32>
// CHECK-NEXT:    %1 = hy.slice %x starts [1, 1] steps [1, 2] : tensor<2x3xf32> -> tensor<1x1xf32>
// CHECK-NEXT:    func.return %x, %0, %1
func.func @shapes(%x: tensor<2x3xf32>, %y: tensor<3xf32>) -> (tensor<2x3xf32>, tensor<4x2x3xf32>, tensor<1x1xf32>) {
  %0 = hy.broadcast %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %1 = hy.slice %0 starts [0, 0] steps [1, 1] : tensor<2x3xf32> -> tensor<2x3xf32>
  %2 = hy.pad %1 low [0, 0] high [0, 0] value 0.0 : tensor<2x3xf32> -> tensor<2x3xf32>
  %3 = hy.concat %2 axis 1 : (tensor<2x3xf32>) -> tensor<2x3xf32>
  %4 = hy.broadcast %y : tensor<3xf32> -> tensor<2x3xf32>
  %5 = hy.broadcast %4 : tensor<2x3xf32> -> tensor<4x2x3xf32>
  %6 = hy.slice %x starts [1, 0] steps [1, 1] : tensor<2x3xf32> -> tensor<1x3xf32>
  %7 = hy.slice %6 starts [0, 1] steps [1, 2] : tensor<1x3xf32> -> tensor<1x1xf32>
  func.return %3, %5, %7 : tensor<2x3xf32>, tensor<4x2x3xf32>, tensor<1x1xf32>
}

// clamp(x, min=0) = relu(x); a clamp with a max stays
// CHECK-LABEL: func.func @clamps
// CHECK-NEXT:    %0 = hy.relu %x : tensor<4xf32>
// CHECK-NEXT:    %1 = hy.clamp %0 min 0.000000e+00 max 6.000000e+00 : tensor<4xf32>
func.func @clamps(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = hy.clamp %x min 0.0 : tensor<4xf32>
  %1 = hy.clamp %0 min 0.0 max 6.0 : tensor<4xf32>
  func.return %1 : tensor<4xf32>
}

// pow by a constant: 1 -> x, 2 -> x * x, 0.5 -> sqrt, -1 -> reciprocal, -0.5 -> rsqrt
// CHECK-LABEL: func.func @powers
// CHECK-NOT:     hy.pow %x
// CHECK:         %{{.*}} = hy.mul %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
// CHECK-NEXT:    %{{.*}} = hy.sqrt %x : tensor<4xf32>
// CHECK-NEXT:    %{{.*}} = hy.reciprocal %x : tensor<4xf32>
// CHECK-NEXT:    %{{.*}} = hy.rsqrt %x : tensor<4xf32>
// CHECK-NEXT:    %{{.*}} = hy.pow %x, %{{.*}} : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
// CHECK-NEXT:    func.return %x,
func.func @powers(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) {
  %one = hy.constant dense<1.0> : tensor<f32>
  %two = hy.constant dense<2.0> : tensor<f32>
  %half = hy.constant dense<0.5> : tensor<f32>
  %m1 = hy.constant dense<-1.0> : tensor<f32>
  %mhalf = hy.constant dense<-0.5> : tensor<f32>
  %three = hy.constant dense<3.0> : tensor<f32>
  %0 = hy.pow %x, %one : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %1 = hy.pow %x, %two : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %2 = hy.pow %x, %half : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %3 = hy.pow %x, %m1 : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %4 = hy.pow %x, %mhalf : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  %5 = hy.pow %x, %three : (tensor<4xf32>, tensor<f32>) -> tensor<4xf32>
  func.return %0, %1, %2, %3, %4, %5 : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}

// all-constant operands fold through the NumPy semantics (erf, compare, take)
// CHECK-LABEL: func.func @folds
// CHECK-NEXT:    %{{.*}} = hy.constant dense<[0.000000e+00, 0.842700779]> : tensor<2xf32>
// CHECK-NEXT:    %{{.*}} = hy.constant dense<[false, true]> : tensor<2xi1>
// CHECK-NEXT:    %{{.*}} = hy.constant dense<[1.000000e+00, 1.000000e+00, 0.000000e+00]> : tensor<3xf32>
// CHECK-NEXT:    func.return
func.func @folds() -> (tensor<2xf32>, tensor<2xi1>, tensor<3xf32>) {
  %a = hy.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %i = hy.constant dense<[1, 1, 0]> : tensor<3xi64>
  %0 = hy.erf %a : tensor<2xf32>
  %1 = hy.gt %a, %0 : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xi1>
  %2 = hy.take %a, %i axis 0 : (tensor<2xf32>, tensor<3xi64>) -> tensor<3xf32>
  func.return %0, %1, %2 : tensor<2xf32>, tensor<2xi1>, tensor<3xf32>
}
