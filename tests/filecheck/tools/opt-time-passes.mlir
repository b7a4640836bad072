// --time-passes and --pass-statistics report on stderr; stdout holds only the IR.
// RUN: opt-tool -p canonicalize,fuse,plan --time-passes %s -o %t.mlir 2>&1 | filecheck %s
// RUN: opt-tool -p canonicalize,fuse,plan --time-passes --pass-statistics --print-between-passes %s 2>%t.err | filecheck %s --check-prefix=OUT
// RUN: opt-tool -p canonicalize,fuse,plan --pass-statistics %s -o %t.mlir 2>&1 | filecheck %s --check-prefix=STATS
// RUN: opt-tool -p canonicalize,fuse,plan --print-ir-after=fuse %s -o %t.mlir 2>&1 | filecheck %s --check-prefix=AFTER
// RUN: not opt-tool -p canonicalize --print-ir-after=fuse %s 2>&1 | filecheck %s --check-prefix=NOTIN

// CHECK:      ... Execution time report ...
// CHECK:      Total Execution Time: {{[0-9.]+}} seconds
// CHECK:      ----Wall Time----  ----Name----
// CHECK-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  parse
// CHECK-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  canonicalize
// CHECK-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  fuse
// CHECK-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  plan
// CHECK-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  print
// CHECK-NEXT: {{[0-9.]+}} (100.0%)  Total

// OUT:        builtin.module
// OUT-NOT:    Execution time
// OUT-NOT:    IR Dump
// OUT-NOT:    statistics

// STATS:      ... Pass statistics report ...
// STATS:      'fuse'
// STATS-NEXT: (S) 2 ops-removed
// STATS-NEXT: (S) 1 ops-added
// STATS-NEXT: (S) 1 groups-formed
// STATS:      'plan'
// STATS:      (S) 0 arena-bytes
// STATS-NEXT: (S) 0 arena-bytes-saved

// AFTER:      // -----// IR Dump After fuse //----- //
// AFTER-NEXT: builtin.module
// AFTER-NOT:  IR Dump After

// NOTIN:      opt-tool: error: --print-ir-after fuse: not in the pipeline 'canonicalize'
func.func @forward(%x: tensor<1x8xf32>, %w: tensor<4x8xf32>) -> tensor<1x4xf32> {
  %0 = hy.linear %x, %w : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  %1 = hy.relu %0 : tensor<1x4xf32>
  func.return %1 : tensor<1x4xf32>
}
