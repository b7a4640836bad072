"""A short, seeded slice of `make fuzz` (tools/fuzzing.py): mutated IR and
MXNet files through opt-tool, random graphs over every op and dtype through
both backends. Counts, not time, bound it."""

from __future__ import annotations

import random

from hybridize.tools.fuzzing import FAILURES, agree, mutate, run_campaign


def test_fuzz_slice_has_no_failing_runs(tmp_path):
    report = run_campaign(tmp_path, seed=7, counts={"ir": 300, "mxnet": 60, "graphs": 25})
    failing = {corpus: {o: c[o] for o in FAILURES if c[o]} for corpus, c in report.counts.items()}
    assert report.failures() == 0, f"{failing}\n{report.table()}\n{report.examples[:5]}"
    assert sum(report.counts["ir"].values()) == 300


def test_mutations_are_deterministic():
    data = b"func.func @forward(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {\n  func.return %x : tensor<2x3xf32>\n}\n"
    assert [mutate(data, random.Random(s)) for s in range(20)] == [mutate(data, random.Random(s)) for s in range(20)]


def test_agree_treats_nan_and_inf_exactly():
    import numpy as np

    assert agree(np.array([np.nan, np.inf, 1.0], np.float32), np.array([np.nan, np.inf, 1.0000001], np.float32))
    assert not agree(np.array([np.nan], np.float32), np.array([0.0], np.float32))
    assert not agree(np.array([np.inf], np.float32), np.array([-np.inf], np.float32))
    assert not agree(np.array([1], np.int64), np.array([2], np.int64))
