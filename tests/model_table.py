"""Rows that model tests add (one per model); conftest prints them at the end."""

from __future__ import annotations

MODEL_TABLE: list[dict] = []


def count_ops(module) -> int:
    """Ops of @forward, constants and the return left out."""
    from hybridize.ir.module import forward_func

    block = forward_func(module).body.block
    return sum(op.name not in ("hy.constant", "func.return") for op in block.ops)


def model_row(label: str, imported, optimized) -> dict:
    """The table row of a model before and after its pipeline (errors are added by the test)."""
    from hybridize.ir import ARENA
    from hybridize.ir.module import forward_func

    arena = forward_func(optimized).attributes[ARENA]
    return {
        "model": label,
        "ops imported": count_ops(imported),
        "ops after fuse": count_ops(optimized),
        "arena bytes": arena.bytes.data,
        "lower bound": arena.lower_bound.data,
        "no reuse": arena.no_reuse.data,
    }
