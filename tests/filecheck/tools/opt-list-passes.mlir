// --list-passes: every pass, a line of description, its options with types and defaults.
// RUN: opt-tool --list-passes | filecheck %s
// RUN: opt-tool --help | filecheck %s --check-prefix=HELP
// RUN: opt-tool --version | filecheck %s --check-prefix=VERSION
// RUN: opt-tool -v | filecheck %s --check-prefix=VERSION
// RUN: python -m hybridize --version | filecheck %s --check-prefix=VERSION

// CHECK:      {{^}}canonicalize{{$}}
// CHECK:      {{^}}fuse{{$}}
// CHECK-NEXT:     {{[A-Z].*}}
// CHECK:          max-ops: int = 16    The largest number of ops in one fused region.
// CHECK:      {{^}}layout{{$}}
// CHECK-NEXT:     Channels-last convolutions and pools, with the transposes between
// CHECK-NEXT:     pools: bool = true
// CHECK:      {{^}}plan{{$}}
// CHECK-NEXT:     Place every intermediate of `@forward` in one arena.
// CHECK-NEXT:     alignment: int = 64
// CHECK:      {{^}}schedule{{$}}
// CHECK-NEXT:     Reorder independent ops to lower the peak of live arena bytes.

// HELP:       usage: opt-tool
// HELP:       --list-passes
// HELP:       --load-pass-plugin FILE.py

// VERSION:    opt-tool (hybridize {{[0-9]+\.[0-9]+\.[0-9]+.*}}) built on xdsl {{[0-9]+\.}}
