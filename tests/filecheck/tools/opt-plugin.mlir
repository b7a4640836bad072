// A pass from a plugin file, as mlir-opt's --load-pass-plugin; built-ins are not shadowed.
// RUN: opt-tool --load-pass-plugin %S/Inputs/my_passes.py -p fold-double-relu %s | filecheck %s
// RUN: opt-tool --load-pass-plugin=%S/Inputs/my_passes.py -p fold-double-relu,fuse,plan %s | filecheck %s --check-prefix=PIPE
// RUN: not opt-tool --load-pass-plugin %S/Inputs/shadow_fuse.py -p fuse %s 2>&1 | filecheck %s --check-prefix=SHADOW
// RUN: not opt-tool --load-pass-plugin %S/Inputs/no_such_plugin.py -p fuse %s 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: opt-tool --load-pass-plugin %S/Inputs/my_passes.py --list-passes | filecheck %s --check-prefix=LIST

// CHECK:      func.func @forward
// CHECK-NEXT:   %{{.*}} = hy.relu %x
// CHECK-NEXT:   func.return

// PIPE:       hy.arena
// PIPE:       hy.relu
// PIPE-NOT:   hy.relu

// SHADOW:     opt-tool: error: pass plugin {{.*}}shadow_fuse.py: pass 'fuse' of {{.*}} (MyFuse) would replace the built-in pass 'fuse'
// SHADOW-NOT: Traceback

// MISSING:    opt-tool: error: pass plugin {{.*}}no_such_plugin.py: no such file

// LIST:       boom  [{{.*}}my_passes.py]
// LIST-NEXT:      Raise, as a buggy pass does.
// LIST-NEXT:      where: str = here    Where it explodes.
// LIST:       fold-double-relu  [{{.*}}my_passes.py]
// LIST-NEXT:      Fold relu(relu(x)) into relu(x).
func.func @forward(%x: tensor<3xf32>) -> tensor<3xf32> {
  %0 = hy.relu %x : tensor<3xf32>
  %1 = hy.relu %0 : tensor<3xf32>
  func.return %1 : tensor<3xf32>
}
