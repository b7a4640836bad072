"""Fusion by op class: the table covers the dialect, `fuse` forms the groups
the table allows for each target, both backends run every group exactly (the
unfused NumPy program is the reference), and kernels are counted as tinygrad's
tests do: fused groups plus standalone ops."""

from __future__ import annotations

import numpy as np
import pytest

import hybridize
from hybridize.ir import parse_module
from hybridize.ir.dialect import Hy
from hybridize.ir.fusion import KINDS, Kind, Shape, classify, kernels, missing_rows, runs_in_place
from hybridize.ir.module import forward_func
from hybridize.ir.types import numpy_dtype, shape_of
from hybridize.passes import run_pipeline
from hybridize.passes.fuse import fusion_remarks


def test_every_op_of_the_dialect_has_a_fusion_kind():
    missing = missing_rows(Hy.operations)
    assert not missing, "\n".join(missing)


def test_c_declares_the_anchors_its_kernels_take():
    from hybridize.backends.c.fused import ANCHOR_OPS
    from hybridize.backends.c.kernels import ANCHORS

    assert ANCHOR_OPS == set(ANCHORS)


def inputs_for(module, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for a in forward_func(module).body.block.args:
        dtype = numpy_dtype(a)
        out.append(rng.standard_normal(shape_of(a)).astype(dtype))
    return out


def as_list(x):
    return list(x) if isinstance(x, tuple) else [x]


def check_fused(module, c_cache, pipeline="fuse,plan", rtol=2e-5, atol=2e-5):
    """Kernels after `pipeline` for each target; both backends match the
    unfused NumPy program. Returns {target: kernels}."""
    args = inputs_for(module)
    want = as_list(hybridize.build(module, "numpy")(*args))
    counts = {}
    for target in ("c", "numpy"):
        fused = run_pipeline(module.clone(), pipeline.replace("fuse", f"fuse{{target={target}}}"))
        counts[target] = kernels(fused)
        backends = ("numpy", "c") if target == "c" else ("numpy",)
        for backend in backends:
            model = hybridize.build(fused, backend, **({"cache_dir": c_cache} if backend == "c" else {}))
            for g, w in zip(as_list(model(*args)), want):
                np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{target} -> {backend}")
    return counts


def traced(model, *xs, pipeline="canonicalize"):
    return run_pipeline(hybridize.trace(model, *xs), pipeline)


# --- reductions with their producers and consumers ---

SOFTMAX = """
func.func @forward(%x: tensor<2x4x8xf32>, %m: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %s = hy.constant dense<0.35> : tensor<1xf32>
  %0 = hy.mul %x, %s : (tensor<2x4x8xf32>, tensor<1xf32>) -> tensor<2x4x8xf32>
  %1 = hy.add %0, %m : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  %2 = hy.softmax %1 axis 2 : tensor<2x4x8xf32>
  %3 = hy.mul %2, %x : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  func.return %3 : tensor<2x4x8xf32>
}"""


def test_softmax_with_scale_mask_and_consumer_is_one_kernel(c_cache):
    m = parse_module(SOFTMAX)
    assert kernels(m) == 4
    assert check_fused(m, c_cache) == {"c": 1, "numpy": 1}
    (fused,) = [op for op in run_pipeline(m.clone(), "fuse").walk() if op.name == "hy.fused"]
    assert classify(fused.ops, fused.yielded.values[0]).shape == Shape.REDUCTION
    assert not runs_in_place(fused)


MEAN_VAR = """
func.func @forward(%x: tensor<3x5x16xf32>, %r: tensor<3x5x16xf32>, %w: tensor<16xf32>) -> tensor<3x5x16xf32> {
  %eps = hy.constant dense<1.0e-05> : tensor<1xf32>
  %0 = hy.add %x, %r : (tensor<3x5x16xf32>, tensor<3x5x16xf32>) -> tensor<3x5x16xf32>
  %1 = hy.reduce_mean %0 axes [2] keepdim : tensor<3x5x16xf32> -> tensor<3x5x1xf32>
  %2 = hy.sub %0, %1 : (tensor<3x5x16xf32>, tensor<3x5x1xf32>) -> tensor<3x5x16xf32>
  %3 = hy.mul %2, %2 : (tensor<3x5x16xf32>, tensor<3x5x16xf32>) -> tensor<3x5x16xf32>
  %4 = hy.reduce_mean %3 axes [2] keepdim : tensor<3x5x16xf32> -> tensor<3x5x1xf32>
  %5 = hy.add %4, %eps : (tensor<3x5x1xf32>, tensor<1xf32>) -> tensor<3x5x1xf32>
  %6 = hy.rsqrt %5 : tensor<3x5x1xf32>
  %7 = hy.mul %2, %6 : (tensor<3x5x16xf32>, tensor<3x5x1xf32>) -> tensor<3x5x16xf32>
  %8 = hy.mul %7, %w : (tensor<3x5x16xf32>, tensor<16xf32>) -> tensor<3x5x16xf32>
  func.return %8 : tensor<3x5x16xf32>
}"""


def test_mean_var_chain_is_one_kernel(c_cache):
    m = parse_module(MEAN_VAR)
    assert kernels(m) == 9
    assert check_fused(m, c_cache) == {"c": 1, "numpy": 1}
    assert kernels(run_pipeline(m.clone(), "fuse{reductions=false}")) == 5  # add, 2 means, 2 loops


def test_layer_norm_chain_and_reduce_to_rows(c_cache):
    text = """
func.func @forward(%x: tensor<4x6x8xf32>, %r: tensor<4x6x8xf32>, %w: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<4x6xf32> {
  %0 = hy.add %x, %r : (tensor<4x6x8xf32>, tensor<4x6x8xf32>) -> tensor<4x6x8xf32>
  %1 = hy.layer_norm %0 weight %w bias %b axis 2 eps 1.0e-05 : tensor<4x6x8xf32>, tensor<8xf32>, tensor<8xf32>
  %2 = hy.gelu %1 : tensor<4x6x8xf32>
  %3 = hy.reduce_max %2 axes [2] : tensor<4x6x8xf32> -> tensor<4x6xf32>
  func.return %3 : tensor<4x6xf32>
}"""
    m = parse_module(text)
    # C recomputes no normalized row on a second pass: the max is a kernel of its own
    assert check_fused(m, c_cache) == {"c": 2, "numpy": 1}
    (remark,) = [r for r in fusion_remarks(run_pipeline(m.clone(), "fuse")) if "hy.reduce_max" in str(r)]
    assert remark.rule == "target-group"


# --- injective ops folded into loops ---

SHAPES = """
func.func @forward(%x: tensor<2x3x4xf32>, %y: tensor<4x3xf32>, %z: tensor<2x6x4xf32>) -> tensor<2x9x4xf32> {
  %0 = hy.transpose %x perm [0, 2, 1] : tensor<2x3x4xf32> -> tensor<2x4x3xf32>
  %1 = hy.add %0, %y : (tensor<2x4x3xf32>, tensor<4x3xf32>) -> tensor<2x4x3xf32>
  %2 = hy.relu %1 : tensor<2x4x3xf32>
  %3 = hy.reshape %2 : tensor<2x4x3xf32> -> tensor<2x3x4xf32>
  %4 = hy.slice %z starts [0, 1, 0] steps [1, 2, 1] : tensor<2x6x4xf32> -> tensor<2x3x4xf32>
  %5 = hy.concat %3, %4, %x axis 1 : (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x9x4xf32>
  %6 = hy.pad %5 low [0, 0, 1] high [0, 0, 0] value 2.5 : tensor<2x9x4xf32> -> tensor<2x9x5xf32>
  %7 = hy.slice %6 starts [0, 0, 1] steps [1, 1, 1] : tensor<2x9x5xf32> -> tensor<2x9x4xf32>
  %8 = hy.exp %7 : tensor<2x9x4xf32>
  func.return %8 : tensor<2x9x4xf32>
}"""


def test_transpose_reshape_slice_concat_pad_fold_into_one_loop(c_cache):
    m = parse_module(SHAPES)
    assert kernels(m) == 8  # the reshape is a view
    assert check_fused(m, c_cache) == {"c": 1, "numpy": 1}
    assert kernels(run_pipeline(m.clone(), "fuse{injective=false}")) == 7  # only add + relu fuse


def test_reshapes_between_elementwise_ops_split_and_merge(c_cache):
    text = """
func.func @forward(%x: tensor<6x4xf32>, %b: tensor<2x1x4xf32>) -> tensor<24xf32> {
  %0 = hy.exp %x : tensor<6x4xf32>
  %1 = hy.reshape %0 : tensor<6x4xf32> -> tensor<2x3x4xf32>
  %2 = hy.add %1, %b : (tensor<2x3x4xf32>, tensor<2x1x4xf32>) -> tensor<2x3x4xf32>
  %3 = hy.reshape %2 : tensor<2x3x4xf32> -> tensor<24xf32>
  %4 = hy.neg %3 : tensor<24xf32>
  func.return %4 : tensor<24xf32>
}"""
    assert check_fused(parse_module(text), c_cache) == {"c": 1, "numpy": 1}


# --- duplication and horizontal fusion ---


def test_cheap_producer_with_two_users_is_duplicated(c_cache):
    text = """
func.func @forward(%x: tensor<8x8xf32>) -> (tensor<8x8xf32>, tensor<8x8xf32>) {
  %0 = hy.sigmoid %x : tensor<8x8xf32>
  %1 = hy.mul %0, %x : (tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x8xf32>
  %2 = hy.transpose %0 perm [1, 0] : tensor<8x8xf32> -> tensor<8x8xf32>
  func.return %1, %2 : tensor<8x8xf32>, tensor<8x8xf32>
}"""
    m = parse_module(text)
    assert check_fused(m, c_cache) == {"c": 2, "numpy": 2}
    assert kernels(run_pipeline(m.clone(), "fuse{duplicate=false}")) == 3


def test_producer_read_by_an_anchor_joins_its_producers_epilogue_not_a_copy(c_cache):
    """ResNet's block output relu(conv + residual) feeds the next conv (an anchor,
    which reads it from memory anyway) and a later residual add: the relu runs in
    the first conv's epilogue, once, instead of standalone plus a copy in the add's."""
    torch = pytest.importorskip("torch")

    class Blocks(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.Conv2d(8, 8, 3, padding=1)

        def forward(self, x):
            r = torch.relu(self.a(x) + x)
            return torch.relu(self.b(r) + r)

    torch.manual_seed(0)
    module = hybridize.trace(Blocks().eval(), torch.randn(1, 8, 6, 6))
    fused = hybridize.optimize(module.clone())
    groups = [[o.name for o in op.body.block.ops][:-1] for op in forward_func(fused).body.block.ops if op.name == "hy.fused"]
    assert groups == [["hy.conv2d_nhwc", "hy.add", "hy.relu"]] * 2  # channels-last after the layout pass
    assert check_fused(module, c_cache) == {"c": 2, "numpy": 2}


def test_sibling_linears_share_one_gemm(c_cache):
    torch = pytest.importorskip("torch")

    class QKV(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v = (torch.nn.Linear(16, 16) for _ in range(3))

        def forward(self, x):
            heads = [p(x).view(1, 5, 4, 4).transpose(1, 2) for p in (self.q, self.k, self.v)]
            return heads[0] @ heads[1].transpose(-1, -2) + heads[2].sum(-1, keepdim=True)

    torch.manual_seed(0)
    m = traced(QKV().eval(), torch.randn(1, 5, 16))
    fused = run_pipeline(m.clone(), "fuse")
    assert sum(op.name == "hy.linear" for op in fused.walk()) == 1
    assert sum(op.name == "hy.linear" for op in run_pipeline(m.clone(), "fuse{horizontal=false}").walk()) == 3
    counts = check_fused(m, c_cache)
    assert counts["c"] < kernels(run_pipeline(m.clone(), "fuse{horizontal=false injective=false}"))


# --- models: kernel counts ---


def test_mlp_kernels(c_cache):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(32, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.GELU(), torch.nn.Linear(16, 4)
    ).eval()
    m = traced(net, torch.randn(2, 32))
    assert check_fused(m, c_cache) == {"c": 3, "numpy": 3}


def test_bert_style_attention_block_kernels(c_cache):
    torch = pytest.importorskip("torch")

    class Block(torch.nn.Module):
        def __init__(self, d=16, h=4):
            super().__init__()
            self.h = h
            self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
            self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
            self.up, self.down = torch.nn.Linear(d, 2 * d), torch.nn.Linear(2 * d, d)

        def forward(self, x, mask):
            b, t, d = x.shape
            split = lambda y: y.view(b, t, self.h, d // self.h).transpose(1, 2)  # noqa: E731
            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            s = (q @ k.transpose(-1, -2)) * (d // self.h) ** -0.5 + mask
            a = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(b, t, d)
            x = self.ln1(x + self.o(a))
            return self.ln2(x + self.down(torch.nn.functional.gelu(self.up(x))))

    torch.manual_seed(0)
    m = traced(Block().eval(), torch.randn(1, 6, 16), torch.randn(1, 1, 6, 6))
    before = kernels(run_pipeline(m.clone(), "fuse{reductions=false injective=false duplicate=false horizontal=false}"))
    counts = check_fused(m, c_cache)
    # 20 kernels unfused, 15 with the old rule (one anchor plus elementwise; the switches off give it);
    # now one GEMM for Q/K/V, scale + mask + softmax and residual + layer_norm are one kernel each
    assert before == 15 and counts == {"c": 13, "numpy": 13}


def test_small_cnn_kernels(c_cache):
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    ).eval()  # fmt: skip
    m = traced(net, torch.randn(1, 3, 16, 16))
    counts = check_fused(m, c_cache)
    assert counts == {"c": 5, "numpy": 5}  # conv+bn+relu, pool, conv+relu, pool, linear


# --- targets, remarks, verifier ---


def test_c_refuses_groups_fused_for_numpy(c_cache):
    text = """
func.func @forward(%x: tensor<1x2x4x4xf32>) -> tensor<1x2x2x2xf32> {
  %0 = hy.max_pool2d %x kernel [2, 2] stride [2, 2] padding [0, 0] : tensor<1x2x4x4xf32> -> tensor<1x2x2x2xf32>
  %1 = hy.relu %0 : tensor<1x2x2x2xf32>
  func.return %1 : tensor<1x2x2x2xf32>
}"""
    m = parse_module(text)
    assert kernels(run_pipeline(m.clone(), "fuse")) == 2
    numpy_fused = run_pipeline(m.clone(), "fuse{target=numpy},plan")
    assert kernels(numpy_fused) == 1
    with pytest.raises(hybridize.backends.program.UnsupportedOpError, match=r"fuse\{target=c\}"):
        hybridize.build(numpy_fused, "c", cache_dir=c_cache)
    (remark,) = fusion_remarks(run_pipeline(m.clone(), "fuse"))
    assert remark.rule == "target-op" and "takes no epilogue" in remark.message
    assert fusion_remarks(numpy_fused, target="numpy") == []


def test_remarks_name_the_rule_of_each_unfused_edge():
    text = """
func.func @forward(%x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %0 = hy.linear %x, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %1 = hy.linear %0, %w : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %2 = hy.cumsum %1 axis 1 : tensor<4x8xf32>
  %3 = hy.exp %0 : tensor<4x8xf32>
  func.return %2, %3 : tensor<4x8xf32>, tensor<4x8xf32>
}"""
    remarks = fusion_remarks(run_pipeline(parse_module(text), "fuse"))
    rules = {(r.producer.name, r.consumer.name): r.rule for r in remarks}
    assert rules == {("hy.linear", "hy.linear"): "users", ("hy.linear", "hy.cumsum"): "opaque",
                     ("hy.linear", "hy.exp"): "users"}  # fmt: skip
    assert all(str(r).startswith("remark: ") for r in remarks)


def test_fused_verifier_reads_the_table():
    bad = """
func.func @forward(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = hy.fused(%x, %w) : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%a: tensor<4x4xf32>, %b: tensor<4x4xf32>):
    %1 = hy.matmul %a, %b : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %2 = hy.matmul %1, %b : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    hy.yield %2 : tensor<4x4xf32>
  }
  func.return %0 : tensor<4x4xf32>
}"""
    with pytest.raises(Exception, match=r"one-anchor"):
        parse_module(bad)


def test_kinds_follow_tvm_order():
    assert Kind.ELEMENTWISE < Kind.BROADCAST < Kind.INJECTIVE < Kind.REDUCTION < Kind.ANCHOR < Kind.OPAQUE
    assert all(isinstance(k, Kind) for k in KINDS.values())


def test_unknown_target_is_a_clear_error():
    with pytest.raises(Exception, match="unknown target 'gpu'"):
        run_pipeline(parse_module(SOFTMAX), "fuse{target=gpu}")


def test_a_view_never_roots_a_group():
    text = """
func.func @forward(%x: tensor<4x6xf32>) -> tensor<24xf32> {
  %0 = hy.exp %x : tensor<4x6xf32>
  %1 = hy.relu %0 : tensor<4x6xf32>
  %2 = hy.reshape %1 : tensor<4x6xf32> -> tensor<24xf32>
  func.return %2 : tensor<24xf32>
}"""
    m = run_pipeline(parse_module(text), "fuse")
    (fused,) = [op for op in m.walk() if op.name == "hy.fused"]
    assert [b.name for b in fused.ops] == ["hy.exp", "hy.relu"]  # the reshape stays a free view of its result
    assert [r.rule for r in fusion_remarks(m)] == ["view"]
