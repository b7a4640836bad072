"""The `schedule` pass: a valid order (dependencies kept), the same results
on both backends, a lower peak of live bytes, idempotent, fast enough on
graphs of thousands of ops; `plan` reports both peaks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import hybridize
from hybridize.ir.module import forward_func
from hybridize.passes.schedule import dataflow_graph, peak_bytes, scheduled_peak


def branches(n: int, width: int = 64) -> str:
    """`n` linear+relu branches of one input, summed at the end: traced in
    the worst order (every branch's result live at once)."""
    t = f"tensor<1x{width}xf32>"
    lines = [f"func.func @forward(%x: {t}, %w: tensor<{width}x{width}xf32>) -> {t} {{"]
    for i in range(n):
        lines.append(f"  %a{i} = hy.linear %x, %w : ({t}, tensor<{width}x{width}xf32>) -> {t}")
    for i in range(n):
        lines.append(f"  %r{i} = hy.relu %a{i} : {t}")
    acc = "%r0"
    for i in range(1, n):
        lines.append(f"  %s{i} = hy.add {acc}, %r{i} : ({t}, {t}) -> {t}")
        acc = f"%s{i}"
    lines.append(f"  func.return {acc} : {t}\n}}")
    return "\n".join(lines) + "\n"


def inputs_for(module):
    rng = np.random.default_rng(0)
    func = forward_func(module)
    from hybridize.ir.types import numpy_dtype, shape_of

    return [rng.standard_normal(shape_of(a)).astype(numpy_dtype(a)) for a in func.body.block.args]


def order_is_topological(module) -> bool:
    func = forward_func(module)
    seen = set(func.body.block.args)
    for op in func.body.block.ops:
        if any(v not in seen for v in op.operands):
            return False
        seen.update(op.results)
    return True


def test_schedule_lowers_the_peak_and_keeps_results_on_both_backends():
    module = hybridize.parse_module(branches(6))
    inputs = inputs_for(module)
    before = peak_bytes(forward_func(module))
    scheduled = hybridize.optimize(module, "schedule")
    after = peak_bytes(forward_func(scheduled))
    assert order_is_topological(scheduled)
    assert after < before and after <= 3 * 256  # about two branches live, not six
    for backend in ("numpy", "c"):
        want = hybridize.build(hybridize.optimize(module, "fuse,plan"), backend)(*inputs)
        got = hybridize.build(hybridize.optimize(scheduled, "fuse,plan"), backend)(*inputs)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_plan_reports_the_given_and_the_scheduled_peak():
    module = hybridize.optimize(hybridize.parse_module(branches(4)), "plan")
    func = forward_func(module)
    peak = func.attributes["hy.peak_bytes"]
    given, scheduled = (peak.data[k].value.data for k in ("given_order", "scheduled"))
    assert given == func.attributes["hy.arena"].at(1)[1] and scheduled < given
    text = hybridize.print_module(module)
    assert "hy.peak_bytes = {given_order = " in text
    assert hybridize.parse_module(text)  # and it reads back
    after = forward_func(hybridize.optimize(hybridize.parse_module(branches(4)), "schedule,plan"))
    assert after.attributes["hy.arena"].at(1)[1] == scheduled
    assert after.attributes["hy.peak_bytes"].data["given_order"].value.data == scheduled


def test_schedule_is_idempotent_and_never_worse():
    module = hybridize.optimize(hybridize.parse_module(branches(5)), "schedule")
    text = hybridize.print_module(module)
    assert hybridize.print_module(hybridize.optimize(module, "schedule")) == text
    chain = hybridize.parse_module(
        "func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
        "  %0 = hy.relu %x : tensor<4xf32>\n  %1 = hy.neg %0 : tensor<4xf32>\n"
        "  func.return %1 : tensor<4xf32>\n}\n"
    )
    assert hybridize.print_module(hybridize.optimize(chain, "schedule")) == hybridize.print_module(chain)


def built_branches(n: int, width: int = 16):
    """`branches(n)` built with the op classes (parsing 2,000 ops is slow)."""
    from xdsl.dialects.builtin import ModuleOp
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.ir import Block, Region

    from hybridize.ir import AddOp, LinearOp, ReluOp
    from hybridize.ir.types import tensor_type

    block = Block(arg_types=[tensor_type((1, width), "float32"), tensor_type((width, width), "float32")])
    x, w = block.args
    linears = [LinearOp(x, w) for _ in range(n)]
    relus = [ReluOp(op.results[0]) for op in linears]
    block.add_ops([*linears, *relus])
    acc = relus[0].results[0]
    for r in relus[1:]:
        add = AddOp(acc, r.results[0])
        block.add_op(add)
        acc = add.results[0]
    block.add_op(ReturnOp(acc))
    return ModuleOp([FuncOp("forward", ([a.type for a in block.args], [acc.type]), Region(block))])


def test_large_graph():
    module = built_branches(700)  # 2,099 ops
    func = forward_func(module)
    graph, ops = dataflow_graph(func)
    assert len(ops) == 2099 and graph.number_of_edges() == 700 + 2 * 699
    given, scheduled = scheduled_peak(func)
    assert scheduled <= 4 * 64 < given
    hybridize.run_pipeline(module, "schedule")
    assert order_is_topological(module) and peak_bytes(forward_func(module)) == scheduled


def test_zoo_cnn_scheduled_matches_torch():
    torch = pytest.importorskip("torch")
    from hybridize.tools.zoo import small_cnn

    net, args = small_cnn()
    module = hybridize.trace(net, *args)
    fast = hybridize.build(hybridize.optimize(module, "canonicalize,fuse,schedule,plan"), "c")
    np.testing.assert_allclose(fast(*args).numpy(), net(*args).detach().numpy(), rtol=1e-4, atol=1e-5)
    del torch


def _graphs():
    from hybridize.ir.strategies import graphs

    return graphs()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_graphs())
def test_schedule_keeps_results(case):
    module, inputs = case
    expected = hybridize.build(module, "numpy")(*inputs)
    scheduled = hybridize.optimize(module, "schedule")
    assert order_is_topological(scheduled)
    assert peak_bytes(forward_func(scheduled)) <= peak_bytes(forward_func(module))
    got = hybridize.build(hybridize.optimize(scheduled, "plan"), "numpy")(*inputs)
    for g, e in zip(got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else (expected,)):
        np.testing.assert_allclose(g, e, rtol=1e-6)
