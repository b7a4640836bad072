"""`make sanitize` (tools/sanitize.py): a seeded slice of it, and the
harness catching undefined behaviour in generated C or the kernel library."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

from hybridize.ir.types import tensor_type

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None and shutil.which("cc") is None, reason="no C compiler")


def test_a_seeded_slice_is_clean(tmp_path):
    from hybridize.tools.sanitize import run

    report = run(tmp_path, graphs=50, seed=0, models=["d2l-mlp", "small-cnn"], log=lambda *a: None)
    assert sum(report.counts["graphs"].values()) == 50 and sum(report.counts["zoo"].values()) == 4
    assert report.failing() == 0, report.table() + "\n" + "\n".join(map(str, report.failures))


def _module(build, dtype, shape=(5,)):
    block = Block(arg_types=[tensor_type(shape, dtype)])
    ops = build(block.args[0])
    for op in ops:
        block.add_op(op)
    block.add_op(ReturnOp(ops[-1].results[0]))
    return ModuleOp([FuncOp("forward", ([block.args[0].type], [ops[-1].results[0].type]), Region(block))])


def test_integer_overflow_and_division_run_clean(tmp_path):
    from hybridize.ir.elementwise import AddOp, DivOp, MulOp, NegOp
    from hybridize.ir.reduce import ReduceSumOp
    from hybridize.tools.sanitize import run_module, sanitized_library

    def ops(x):
        add = AddOp(x, x)
        mul = MulOp(add.results[0], x)
        neg = NegOp(mul.results[0])
        div = DivOp(neg.results[0], x)
        return [add, mul, neg, div, ReduceSumOp(div.results[0], [0])]

    x = np.array([2**31 - 1, -(2**31), -1, 0, 7], np.int32)
    result = run_module(_module(ops, "int32"), [x], tmp_path / "work", sanitized_library(tmp_path))
    assert result.outcome == "clean", result.detail


def test_gelu_of_nan_runs_clean(tmp_path):
    from hybridize.ir.elementwise import GeluOp, LogOp
    from hybridize.tools.sanitize import run_module, sanitized_library

    def ops(x):
        log = LogOp(x)  # log(-1) is -NaN: sign bit set
        return [log, GeluOp(log.results[0])]

    x = np.array([-1, 0.5, 2, -3, 1], np.float32)
    result = run_module(_module(ops, "float32"), [x], tmp_path / "work", sanitized_library(tmp_path))
    assert result.outcome == "clean", result.detail
