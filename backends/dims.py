"""Sizes in generated code: `c * N**p`, where N is the batch size (the
variable `hy_batch` in generated C and Python).

Shapes of static modules are plain numbers; a `?` dimension is the batch
(one per module, known at run time). Kernels compute strides, counts and loop
bounds with `Dim`s and print them, so one kernel serves both cases:

    >>> str(Dim.of(-1) * 512)
    'hy_batch * 512'
    >>> contiguous_strides([Dim.of(-1), Dim.of(4)])
    [Dim(coef=4, power=1), Dim(coef=1, power=0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hybridize.ir.types import DYNAMIC

BATCH = "hy_batch"
"""The C (and Python) variable holding the batch size in generated code
(a name no kernel uses for anything else)."""


@dataclass(frozen=True)
class Dim:
    coef: int
    power: int = 0

    @staticmethod
    def of(d: int | Dim) -> Dim:
        if isinstance(d, Dim):
            return d
        return Dim(1, 1) if d == DYNAMIC else Dim(int(d))

    def __post_init__(self):
        if self.coef == 0 and self.power:
            object.__setattr__(self, "power", 0)

    def __mul__(self, other: int | Dim) -> Dim:
        o = other if isinstance(other, Dim) else Dim(int(other))
        return Dim(self.coef * o.coef, self.power + o.power)

    __rmul__ = __mul__

    def __eq__(self, other) -> bool:
        if isinstance(other, int):
            other = Dim(other)
        return isinstance(other, Dim) and (self.coef, self.power) == (other.coef, other.power)

    def __hash__(self) -> int:
        return hash((self.coef, self.power))

    @property
    def static(self) -> bool:
        return self.power == 0

    def __int__(self) -> int:
        if self.power:
            raise ValueError(f"{self} is not a static size")
        return self.coef

    def __str__(self) -> str:
        if self.power == 0:
            return str(self.coef)
        terms = [BATCH] * self.power + ([str(self.coef)] if self.coef != 1 else [])
        return " * ".join(terms)


def dims_of(shape: Sequence[int]) -> tuple[Dim, ...]:
    return tuple(Dim.of(d) for d in shape)


def product(dims: Sequence[int | Dim]) -> Dim:
    out = Dim(1)
    for d in dims:
        out = out * d
    return out


def contiguous_strides(shape: Sequence[int | Dim]) -> list[Dim]:
    strides, acc = [], Dim(1)
    for d in reversed(shape):
        strides.append(acc)
        acc = acc * d
    return strides[::-1]


def broadcast_strides(shape: Sequence[int | Dim], out_shape: Sequence[int | Dim]) -> list[Dim]:
    """Element strides of `shape` seen over `out_shape` (0 on broadcast dims)."""
    pad = len(out_shape) - len(shape)
    full = [Dim(1)] * pad + [Dim.of(d) for d in shape]
    strides = [Dim(0)] * pad + contiguous_strides(shape)
    return [Dim(0) if full[d] == 1 and out_shape[d] != 1 else strides[d] for d in range(len(out_shape))]


def index_expr(idx: Sequence[str], strides: Sequence[Dim]) -> str:
    terms = [i if s == 1 else f"{i} * {s}" for i, s in zip(idx, strides) if s != 0]
    return " + ".join(terms) or "0"
