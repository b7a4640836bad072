"""PyTorch frontend: `torch.export` programs lowered to the `hy` dialect.

    >>> module = hybridize.trace(nn.Sequential(nn.Linear(4, 2), nn.ReLU()), torch.randn(1, 4))
    >>> print(module)
    func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
      %0 = hy.constant dense<...> : tensor<2x4xf32>
      ...

Parameters, buffers and lifted constants become `hy.constant`s. Each ATen op
maps through `CONVERTERS` (source op -> function building `hy` ops); an op
with no entry is first decomposed by torch (`decompose.py`); one still
unmapped raises `UnsupportedOpError` naming the op, the user's source line
and the reason. Both the default (training-dialect) export
and the core-ATen graph after `run_decompositions()` are accepted.

The package, by concern:

- `lowering.py`: the `Lowering` state, the `CONVERTERS` table, argument
  binding and refusals, `lower_exported_program` (the fx-graph walker);
- `elementwise.py`, `linalg.py`, `shape.py`, `nn.py`, `sort.py`, `numeric.py`,
  `reductions.py`, `layout.py`, `rnn.py` (LSTM, GRU, RNN): converter families, each
  filling `CONVERTERS` with the ATen ops it maps;
- `inplace.py`: in-place ops (`div_`, ...) by their functional converters;
- `decompose.py`: ops with no converter decomposed to Core ATen, then lowered;
- `core_aten.py`: how every Core ATen op is covered (converted, decomposed,
  refused with a reason); `python -m hybridize.frontends.torch.core_aten`;
- `export.py`: `trace` (torch.export in eval mode), `.pt2` archives.
"""

from __future__ import annotations

# The families register their converters on import.
from hybridize.frontends.torch import (  # noqa: F401
    elementwise,
    layout,
    linalg,
    nn,
    numeric,
    reductions,
    rnn,
    shape,
    sort,
)
from hybridize.frontends.torch import inplace  # noqa: F401  (last: it reuses the families' converters)
from hybridize.frontends.torch.export import (
    TRAINING_SENSITIVE,
    ExportError,
    TrainingModeError,
    check_eval_mode,
    load_pt2,
    trace,
)
from hybridize.frontends.torch.lowering import (
    CONVERTERS,
    Converter,
    DynamicSize,
    Lowering,
    UnsupportedOpError,
    lower_exported_program,
    node_dtype,
    node_shape,
    source_line,
    supported_ops,
    torch_dtype_to_numpy,
)
from hybridize.frontends.torch.nn import decompositions

__all__ = [
    "CONVERTERS",
    "Converter",
    "DynamicSize",
    "ExportError",
    "Lowering",
    "TRAINING_SENSITIVE",
    "TrainingModeError",
    "UnsupportedOpError",
    "check_eval_mode",
    "decompositions",
    "load_pt2",
    "lower_exported_program",
    "node_dtype",
    "node_shape",
    "source_line",
    "supported_ops",
    "torch_dtype_to_numpy",
    "trace",
]
