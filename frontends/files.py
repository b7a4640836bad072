"""`.mlir` files: hybridize's own IR text."""

from __future__ import annotations

from pathlib import Path

from xdsl.dialects.builtin import ModuleOp

from hybridize.ir.module import parse_module


def load_mlir(path: str, *example_inputs, **options) -> ModuleOp:
    return parse_module(Path(path).read_bytes(), path)
