"""hybridize.frontends: capture models from eager frameworks into `hy` IR.

- `torch.py`: live `torch.nn.Module`s through `torch.export`, and `.pt2` files
  saved by `torch.export.save`;
- `torchscript.py`: `.pt` archives saved by `torch.jit.script(m).save(...)`;
- `mxnet.py`: exported `-symbol.json` + `.params` files (read without MXNet)
  and live Gluon `HybridBlock`s (with MXNet installed).

`load_file(path, *example_inputs)` picks the frontend by file name (the table
`FILE_FRONTENDS`); `opt-tool` uses the same table. Frameworks are imported
lazily, inside the functions that need them.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp

from hybridize import errors

FILE_FRONTENDS: dict[str, str] = {
    ".mlir": "hybridize.frontends.files:load_mlir",
    ".pt2": "hybridize.frontends.torch:load_pt2",
    ".pt": "hybridize.frontends.torchscript:load_pt",
    "-symbol.json": "hybridize.frontends.mxnet:load_symbol_file",
    ".json": "hybridize.frontends.mxnet:load_symbol_file",
}
"""File-name ending -> `module:function(path, *example_inputs, **options)`.
The longest matching ending wins."""


FrontendError = errors.FrontendError
"""A model file or model could not be imported; the message says why
(`hybridize.errors.FrontendError`, re-exported here)."""


def frontend_for(path: str | Path):
    name = str(path)
    endings = sorted((e for e in FILE_FRONTENDS if name.endswith(e)), key=len, reverse=True)
    if not endings:
        known = ", ".join(sorted(FILE_FRONTENDS))
        raise FrontendError(f"{name}: no frontend for this kind of file (known endings: {known})")
    module, _, func = FILE_FRONTENDS[endings[0]].partition(":")
    return getattr(importlib.import_module(module), func)


def load_file(path: str | Path, *example_inputs, **options) -> ModuleOp:
    """Import a model file as `hy` IR, choosing the frontend by its name."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such file")
    return frontend_for(path)(str(path), *example_inputs, **options)
