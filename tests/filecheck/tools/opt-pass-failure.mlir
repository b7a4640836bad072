// A failing pass: its name, the verifier's full message at the op, a reproducer that re-runs.
// RUN: not opt-tool --load-pass-plugin %S/Inputs/my_passes.py -p canonicalize,break-relu,plan --reproducer %t.repro.mlir %s 2>&1 | filecheck %s
// RUN: not opt-tool --load-pass-plugin %S/Inputs/my_passes.py %t.repro.mlir -p break-relu,plan 2>&1 | filecheck %s --check-prefix=REPRO
// RUN: filecheck %s --check-prefix=FILE < %t.repro.mlir
// RUN: not opt-tool --load-pass-plugin %S/Inputs/my_passes.py -p "boom{where=there}" --no-reproducer %s 2>&1 | filecheck %s --check-prefix=BOOM
// RUN: not opt-tool --load-pass-plugin %S/Inputs/my_passes.py -p boom --show-traceback --no-reproducer %s 2>&1 | filecheck %s --check-prefix=TRACE
// RUN: not opt-tool --load-pass-plugin %S/Inputs/my_passes.py -p break-relu --print-ir-after-failure --no-reproducer %s 2>&1 | filecheck %s --check-prefix=AFTER
// RUN: not opt-tool -p plan,fuse --no-reproducer %s 2>&1 | filecheck %s --check-prefix=ORDER

// CHECK:      opt-pass-failure.mlir:34:3: error: pass 'break-relu' (after canonicalize) left IR that does not verify at `%0 = hy.relu %w : tensor<4xf32>` (op 0 of @forward): result 'result' at position 0 does not verify:
// CHECK-NEXT: attribute tensor<2x2xf32> expected from variable 'T', but got tensor<4xf32>
// CHECK-NEXT: opt-tool: note: reproducer written to {{.*}}repro.mlir (re-run: opt-tool --load-pass-plugin {{.*}}my_passes.py -p break-relu,plan {{.*}}repro.mlir)
// CHECK-NOT:  Traceback

// REPRO:      error: pass 'break-relu' left IR that does not verify

// FILE:       // opt-tool reproducer: pass 'break-relu' failed after canonicalize
// FILE:       // re-run: opt-tool --load-pass-plugin {{.*}}my_passes.py -p break-relu,plan
// FILE:       func.func @forward

// BOOM:       error: pass 'boom' failed: RuntimeError: boom in my pass (there)
// BOOM-NEXT:  opt-tool: note: --show-traceback prints the Python traceback of the failure

// TRACE:      error: pass 'boom' failed: RuntimeError: boom in my pass (here)
// TRACE:      Traceback (most recent call last):
// TRACE:      my_passes.py", line {{[0-9]+}}, in apply
// TRACE:      RuntimeError: boom in my pass (here)

// AFTER:      // -----// IR Dump After break-relu Failed //----- //
// AFTER:      hy.relu %w : tensor<4xf32>

// ORDER:      error: pass 'fuse' (after plan) dropped the memory plan that 'plan' made (it rewrites the ops the plan placed); put plan last, or run it again after fuse (e.g. plan,fuse,plan)
func.func @forward(%x: tensor<4xf32>, %w: tensor<2x2xf32>) -> tensor<4xf32> {
  %0 = hy.relu %x : tensor<4xf32>
  %1 = hy.neg %0 : tensor<4xf32>
  func.return %1 : tensor<4xf32>
}
