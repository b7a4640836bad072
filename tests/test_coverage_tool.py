"""The coverage sweep's own logic (tools/coverage.py): the error metric, what blocked a case, the table.
The sweep itself is `make coverage`, a benchmark of coverage, not a test."""

from __future__ import annotations

import numpy as np
import pytest

from hybridize.tools import coverage
from hybridize.tools.coverage_models import CATEGORIES, MODELS


def test_error_is_absolute_below_one_and_relative_above():
    want = [np.array([0.5, -0.25]), np.array([100.0, 0.0])]
    got = [np.array([0.5, -0.2]), np.array([101.0, 0.0])]
    assert coverage.output_error(got, want) == pytest.approx(0.05)  # max(0.05 / 1, 1 / 100)
    assert coverage.output_error([np.array([np.nan, np.inf])], [np.array([np.nan, np.inf])]) == 0.0
    assert coverage.output_error([np.array([np.nan])], [np.array([1.0])]) == np.inf
    with pytest.raises(coverage.MismatchError, match="2 compiled outputs for 1 eager"):
        coverage.output_error(got, want[:1])


def test_blockers_name_the_op():
    torch_error = NotImplementedError(
        'unsupported op aten.conv1d.default at File "/x/site-packages/torch/nn/modules/conv.py", line 385, '
        "in forward: return self._conv_forward(input); supported ops: ..."
    )
    assert coverage.blocker(torch_error) == "aten.conv1d.default"
    assert coverage.where(torch_error) == "*torch/nn/modules/conv.py:385"
    assert coverage.first_line(torch_error) == (
        "NotImplementedError: unsupported op aten.conv1d.default at torch/nn/modules/conv.py:385: "
        "return self._conv_forward(input)"
    )
    mx_error = ValueError("block-symbol.json: node 3 'conv0_fwd' (Deconvolution): unsupported op 'Deconvolution'")
    assert coverage.blocker(mx_error) == "Deconvolution"


def test_the_sweep_is_broad_and_its_table_sums_up():
    assert len(MODELS) >= 100 and {c.category for c in MODELS.values()} == set(CATEGORIES)
    assert sum(c.category != "layer" for c in MODELS.values()) >= 60
    results = [
        {"name": "BertModel", "status": "pass", "stage": "", "max_error": 1e-7},
        {"name": "nn.Conv1d", "status": "fail", "stage": "trace", "error": "E: unsupported op aten.conv1d.default",
         "blocker": "aten.conv1d.default", "where": "*torch/nn/modules/conv.py:385"},
    ]  # fmt: skip
    table = coverage.format_table(results, dynamic=False)
    assert "text-encoder           1 / 1   100.0%" in table
    assert "all                    1 / 2    50.0%" in table
    assert "aten.conv1d.default x1" in table
