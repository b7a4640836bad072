// RUN: opt-tool -p plan %s | filecheck %s
// RUN: opt-tool -p "plan{reuse=false}" %s | filecheck %s --check-prefix=NOREUSE

// Elementwise ops write over an operand that dies at them (inplace 0); the
// arena meets the lower bound; the last op writes the output directly.
// CHECK:      attributes {hy.arena = #hy.arena<bytes 2048, lower_bound 2048, no_reuse 4096>
// CHECK-SAME: hy.peak_bytes = {given_order = 2048 : i64, scheduled = 2048 : i64}}
// CHECK:      hy.relu %x {hy.buf = #hy.buf<offset [[A:[0-9]+]], bytes 1024, live 1 to 2>}
// CHECK-NEXT: hy.add %0, %0 {hy.buf = #hy.buf<offset [[A]], bytes 1024, live 3 to 7, inplace 0>}
// CHECK-NEXT: hy.relu %1 {hy.buf = #hy.buf<offset [[B:[0-9]+]], bytes 1024, live 5 to 6>}
// CHECK-NEXT: hy.mul %2, %1 {hy.buf = #hy.buf<offset [[B]], bytes 1024, live 7 to 9, inplace 0>}
// CHECK-NEXT: hy.sub %3, %x : (
// NOREUSE:    #hy.arena<bytes 4096, lower_bound 3072, no_reuse 4096>
func.func @forward(%x: tensor<16x16xf32>) -> tensor<16x16xf32> {
  %0 = hy.relu %x : tensor<16x16xf32>
  %1 = hy.add %0, %0 : (tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32>
  %2 = hy.relu %1 : tensor<16x16xf32>
  %3 = hy.mul %2, %1 : (tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32>
  %4 = hy.sub %3, %x : (tensor<16x16xf32>, tensor<16x16xf32>) -> tensor<16x16xf32>
  func.return %4 : tensor<16x16xf32>
}
