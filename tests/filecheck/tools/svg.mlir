// Pictures: the graph as DOT and SVG, the memory plan as an SVG timeline.
// RUN: opt-tool -p fuse,plan -t dot %s | filecheck %s --check-prefix=DOT
// RUN: opt-tool -p fuse,plan -t svg %s | filecheck %s --check-prefix=SVG
// RUN: opt-tool -p fuse,plan -t svg --draw-collapse --draw-rankdir LR %s | filecheck %s --check-prefix=COLLAPSED
// RUN: opt-tool -p fuse,plan -t plan-svg %s | filecheck %s --check-prefix=PLAN
// RUN: not opt-tool -t plan-svg %s 2>&1 | filecheck %s --check-prefix=NOPLAN

// DOT:      digraph hybridize {
// DOT:      in0 [label=<{{.*}}<b>input</b> %x{{.*}}1x8 f32
// DOT:      subgraph cluster_f0 {
// DOT:      op0 [label=<{{.*}}<b>linear</b>{{.*}}◆ %w 4x8 f32
// DOT:      op1 [label=<{{.*}}<b>relu</b>
// DOT:      }
// DOT:      op2 [label=<{{.*}}<b>linear</b>{{.*}}writes output 0
// DOT:      out0 [label=<{{.*}}<b>output 0</b>
// DOT:      in0 -> op0 [label=<1x8>]
// DOT:      op1 -> op2 [label=<1x4>]
// DOT:      op2 -> out0 [label=<1x2>]

// SVG:      <g id="cluster_f0" class="cluster">
// SVG:      @0 · 64 B · live
// SVG:      <g id="op0" class="node">
// SVG-NOT:  cluster_f1

// COLLAPSED:     <g id="op0" class="node">
// COLLAPSED:     linear → relu
// COLLAPSED-NOT: class="cluster"

// PLAN:     <svg xmlns="http://www.w3.org/2000/svg" class="hy-plan"
// PLAN:     lower bound 64 B (100% of the bound)
// PLAN:     <rect id="buf0" class="buffer" data-offset="0" data-bytes="64"
// PLAN-NOT: id="buf1"
// PLAN:     class="lower-bound"

// NOPLAN:     opt-tool: error: @forward has no memory plan: run the plan pass first
// NOPLAN-NOT: Traceback
func.func @forward(%x: tensor<1x8xf32>) -> tensor<1x2xf32> {
  %w = hy.constant dense<0.5> : tensor<4x8xf32>
  %w2 = hy.constant dense<0.25> : tensor<2x4xf32>
  %0 = hy.linear %x, %w : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  %1 = hy.relu %0 : tensor<1x4xf32>
  %2 = hy.linear %1, %w2 : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  func.return %2 : tensor<1x2xf32>
}
