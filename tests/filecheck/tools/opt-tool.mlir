// RUN: opt-tool -p fuse,plan -t c %s | filecheck %s --check-prefix=C
// RUN: opt-tool -p fuse,plan -t numpy %s | filecheck %s --check-prefix=PY
// RUN: not opt-tool -p fuse,nosuch %s 2>&1 | filecheck %s --check-prefix=PASS
// RUN: not opt-tool %S/Inputs/syntax-error.mlir 2>&1 | filecheck %s --check-prefix=SYNTAX

// C:      int hy_forward(int hy_threads, const void *in0, const void *in1, void *out0, const void *const *consts, void *arena)
// C:      /* hy.fused: hy.linear, hy.relu */
// C-NOT:  x.mlir
// PY:     def forward(x0, x1):
// PY:     np.matmul(x0, x1.T, out=y0)
// PASS:   opt-tool: error: unknown pass 'nosuch' (registered passes: canonicalize, cse, dce, fuse, layout, plan, schedule)
// PASS-NOT: Traceback
// SYNTAX: syntax-error.mlir:3:1: error: Expected '>'
// SYNTAX-NOT: Traceback
func.func @forward(%x: tensor<1x8xf32>, %w: tensor<4x8xf32>) -> tensor<1x4xf32> {
  %0 = hy.linear %x, %w : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  %1 = hy.relu %0 : tensor<1x4xf32>
  func.return %1 : tensor<1x4xf32>
}
