"""How hybridize covers PyTorch's Core ATen opset: the ops tagged
`torch.Tag.core`, the target of torch's decompositions (and of torch-mlir,
IREE, ExecuTorch), about 190 of them.

Every core op is in one of three classes:

- converted: it has an entry in `CONVERTERS` (read from the table, never
  listed here), possibly refusing some arguments with a reason;
- decomposed: no converter, but torch's default decomposition table rewrites
  it into ops that have one (the frontend does that on its own, see
  `decompose.py`);
- refused: listed in `REFUSED` with the reason.

A test enumerates torch's core ops at run time and fails on any op in none
of these classes, and on a refusal that became stale (the op got a
converter). Print the coverage:

    $ python -m hybridize.frontends.torch.core_aten          # the counts
    $ python -m hybridize.frontends.torch.core_aten -v       # every op, its path or reason
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

_BACKWARD = "a backward (training) op; hybridize compiles inference"
_RANDOM = "a random op: compiled models are deterministic"

REFUSED: dict[str, str] = {
    # training
    "aten._adaptive_avg_pool2d_backward.default": _BACKWARD,
    "aten.avg_pool2d_backward.default": _BACKWARD,
    "aten.convolution_backward.default": _BACKWARD,
    "aten.embedding_dense_backward.default": _BACKWARD,
    "aten.max_pool2d_with_indices_backward.default": _BACKWARD,
    "aten.native_group_norm_backward.default": _BACKWARD,
    "aten.native_layer_norm_backward.default": _BACKWARD,
    # randomness
    "aten.rand.default": _RANDOM,
    "aten.randn.default": _RANDOM,
    "aten.randperm.default": _RANDOM,
    # no tensor-level meaning in a compiled graph
    "aten._local_scalar_dense.default": "reads a tensor's value as a Python number (`.item()`): a data-dependent graph",
    "aten.nonzero.default": "its output shape depends on the tensor's values",
    "aten.as_strided.default": "reinterprets storage through explicit strides; hybridize tensors have no storage",
    "aten.resize_.default": "resizes a tensor's storage in place; hybridize tensors have no storage",
    "aten.atan2.out": "an out= variant (writes into a given tensor); export's functional graphs use atan2.default",
    # complex numbers
    "aten._fft_r2c.default": "produces complex tensors (FFT); the dialect has real element types only",
    "aten._fft_c2r.default": "reads complex tensors (inverse FFT); the dialect has real element types only",
    # positions given by tensor values
    "aten.grid_sampler_2d.default": "samples at coordinates held in a tensor (no sampling op in the dialect)",
    "aten.col2im.default": "fold (col2im) overlaps-and-adds patches: a scatter-add, no dialect op",
}
"""Core ops hybridize refuses, with the reason (the error says it too)."""


DECOMPOSITION_CHECKED = (
    "aten.reflection_pad1d.default",
    "aten.reflection_pad2d.default",
    "aten.reflection_pad3d.default",
    "aten.replication_pad2d.default",
    "aten.replication_pad3d.default",
)
"""Decomposed core ops that tests/test_core_aten.py runs end to end."""


@dataclass(frozen=True)
class Coverage:
    """Each core op by path: converted, decomposed (op -> None) or refused (op -> reason)."""

    converted: tuple[str, ...]
    decomposed: tuple[str, ...]
    refused: dict[str, str]
    unclassified: tuple[str, ...]
    stale: tuple[str, ...]  # refused but converted

    @property
    def total(self) -> int:
        return len(self.converted) + len(self.decomposed) + len(self.refused) + len(self.unclassified)

    @property
    def covered(self) -> int:
        return len(self.converted) + len(self.decomposed)


def core_ops() -> list[str]:
    """Every OpOverload of `torch.ops.aten` tagged `core`, by name (from the
    dispatcher's registry: `dir(torch.ops.aten)` lists only packets loaded so far)."""
    import torch

    names = set()
    for qualified in torch._C._dispatch_get_all_op_names():
        namespace, _, name = qualified.partition("::")
        if namespace != "aten":
            continue
        packet_name, _, overload = name.partition(".")
        try:
            op = getattr(getattr(torch.ops.aten, packet_name), overload or "default")
        except (AttributeError, RuntimeError):
            continue
        if torch.Tag.core in op.tags:
            names.add(str(op))
    return sorted(names)


def coverage() -> Coverage:
    """Classify every core op of the installed torch."""
    import torch

    import hybridize.frontends.torch  # noqa: F401  (the converter families fill CONVERTERS)
    from hybridize.frontends.torch.lowering import CONVERTERS

    table = {str(op) for op in torch.export.default_decompositions().keys()}
    converted, decomposed, refused, unclassified = [], [], {}, []
    for op in core_ops():
        if op in CONVERTERS:
            converted.append(op)
        elif op in REFUSED:
            refused[op] = REFUSED[op]
        elif op in table:
            decomposed.append(op)
        else:
            unclassified.append(op)
    stale = tuple(op for op in REFUSED if op in CONVERTERS)
    return Coverage(tuple(converted), tuple(decomposed), refused, tuple(unclassified), stale)


def report(verbose: bool = False) -> str:
    """The coverage as text: counts, then (verbose) every op."""
    import torch

    c = coverage()
    lines = [
        f"Core ATen opset of torch {torch.__version__}: {c.total} ops",
        f"  converted    {len(c.converted):4d}   (a converter in CONVERTERS)",
        f"  decomposed   {len(c.decomposed):4d}   (torch's decomposition lowers them to converted ops)",
        f"  refused      {len(c.refused):4d}   (with a reason)",
    ]
    if c.unclassified:
        lines.append(f"  UNCLASSIFIED {len(c.unclassified):4d}   {', '.join(c.unclassified)}")
    lines.append(f"covered: {c.covered} / {c.total} ({100 * c.covered / max(c.total, 1):.0f}%)")
    if verbose:
        lines.append("")
        lines += [f"converted   {op}" for op in c.converted]
        lines += [f"decomposed  {op}" for op in c.decomposed]
        lines += [f"refused     {op}: {why}" for op, why in sorted(c.refused.items())]
        lines += [f"unclassified {op}" for op in c.unclassified]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if any(a not in ("-v", "--verbose") for a in args):
        print("usage: python -m hybridize.frontends.torch.core_aten [-v]", file=sys.stderr)
        return 2
    print(report(verbose=bool(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
