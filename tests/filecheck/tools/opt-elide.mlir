// Large constants are elided in IR printed for reading, kept in IR meant to be read back.
// RUN: opt-tool --elide-constants-larger-than=4 %s | filecheck %s
// RUN: opt-tool %s | filecheck %s --check-prefix=PIPE
// RUN: opt-tool %s -o %t.full.mlir && opt-tool %t.full.mlir | filecheck %s --check-prefix=PIPE
// RUN: opt-tool --elide-constants-larger-than=4 %s | not opt-tool 2>&1 | filecheck %s --check-prefix=REREAD
// RUN: opt-tool --elide-constants-larger-than=-1 -p canonicalize --print-ir-after-all %s -o %t.2.mlir 2>&1 | filecheck %s --check-prefix=PIPE
// RUN: opt-tool -p canonicalize --print-ir-after-all %s -o %t.3.mlir 2>&1 | filecheck %s --check-prefix=DUMP

// CHECK:      hy.constant dense_resource<__elided__> : tensor<32xf32>
// CHECK:      hy.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>

// PIPE:       hy.constant dense<[1.000000e+00, {{.*}}, 3.200000e+01]> : tensor<32xf32>

// REREAD:     stdin:{{[0-9]+}}:{{[0-9]+}}: error: this constant was elided when the IR was printed (dense_resource<__elided__>): its values are not in the file
// REREAD-NOT: Traceback

// DUMP:       // -----// IR Dump After canonicalize //----- //
// DUMP:       dense_resource<__elided__> : tensor<32xf32>
func.func @forward(%x: tensor<32xf32>, %y: tensor<2xf32>) -> (tensor<32xf32>, tensor<2xf32>) {
  %w = hy.constant dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0]> : tensor<32xf32>
  %b = hy.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %0 = hy.mul %x, %w : (tensor<32xf32>, tensor<32xf32>) -> tensor<32xf32>
  %1 = hy.add %y, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  func.return %0, %1 : tensor<32xf32>, tensor<2xf32>
}
