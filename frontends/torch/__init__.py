"""PyTorch frontend: `torch.export` programs lowered to the `hy` dialect.

    >>> module = hybridize.trace(nn.Sequential(nn.Linear(4, 2), nn.ReLU()), torch.randn(1, 4))
    >>> print(module)
    func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
      %0 = hy.constant dense<...> : tensor<2x4xf32>
      ...

Parameters, buffers and lifted constants become `hy.constant`s. Each ATen op
maps through `CONVERTERS` (source op -> function building `hy` ops); an op
with no entry raises `UnsupportedOpError` naming the op, the user's source
line and the list of supported ops. Both the default (training-dialect) export
and the core-ATen graph after `run_decompositions()` are accepted.

The package, by concern:

- `lowering.py`: the `Lowering` state, the `CONVERTERS` table, argument
  binding and refusals, `lower_exported_program` (the fx-graph walker);
- `elementwise.py`, `linalg.py`, `shape.py`, `nn.py`, `sort.py`: converter families, each
  filling `CONVERTERS` with the ATen ops it maps;
- `export.py`: `trace` (torch.export in eval mode), `.pt2` archives.
"""

from __future__ import annotations

# The families register their converters on import.
from hybridize.frontends.torch import convolution, elementwise, layout, linalg, nn, numeric, reductions, shape, sort  # noqa: F401
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
