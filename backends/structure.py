"""The structure of a compiled model's inputs and outputs: which nested
tuples, lists, dicts, named tuples and output classes (transformers'
`ModelOutput`) hold its tensors, so the compiled callable takes and returns
what the model does:

    >>> fast = hybridize.compile(GPT2Model(cfg), ids)
    >>> fast(ids).last_hidden_state                # a BaseModelOutputWithPast, like the model

A frontend records the structure as plain JSON in the `hy.structure`
attribute of `@forward` (so it survives passes, printing and `.hyb` files):
`{"inputs": spec, "outputs": spec}` where a spec is

    "*"                                     a tensor (one argument or result of @forward)
    {"tuple": [spec, ...]}                  also "list"
    {"dict": [[key, spec], ...]}            keys are str or int
    {"namedtuple": name, "fields": [...], "items": [spec, ...]}
    {"class": "module.Name", "keys": [...], "items": [spec, ...]}   a ModelOutput-like class
    {"const": value}                        a None, bool, int, float or str the model returns as is

`inputs` is the spec of `(args, kwargs)` (null: positional tensors). An
optional `"fold": {"i": [n0, n1, ...]}` says result i is handed out with its
dims merged in groups of n0, n1, ... (a size that is a multiple of the
dynamic batch, `[?, 8, 32]` in the IR for torch's `[8*b, 32]`). Output classes are rebuilt only if
the model of this process returned them (`remember_class`) or if they are
transformers `ModelOutput`s; any other class comes back as a dict, with a
warning saying so. Named tuples are rebuilt from their field names. Nothing
in a spec is executed or imported beyond that allow-list.
"""

from __future__ import annotations

import functools
import json
import keyword
import warnings
from collections import namedtuple

from hybridize.errors import InputError

STRUCTURE = "hy.structure"
"""The `@forward` attribute holding the structure JSON."""

ALLOWED_MODULES = ("transformers.",)
"""Modules whose output classes a saved model may rebuild (ModelOutput subclasses only)."""

_LIVE: dict[str, type] = {}


class StructureError(InputError):
    """Arguments that do not match the structure the model was traced with."""


def remember_class(cls: type) -> str:
    """The spec name of an output class the traced model returned; a model
    built in this process rebuilds it."""
    name = f"{cls.__module__}.{cls.__qualname__}"
    _LIVE[name] = cls
    return name


def leaves(spec) -> int:
    """How many tensors a spec holds."""
    if spec == "*":
        return 1
    if not isinstance(spec, dict):
        raise StructureError(f"malformed structure spec {spec!r}")
    if "const" in spec:
        return 0
    return sum(leaves(s) for s in _children(spec))


def _children(spec: dict) -> list:
    if "tuple" in spec:
        return spec["tuple"]
    if "list" in spec:
        return spec["list"]
    if "dict" in spec:
        return [s for _, s in spec["dict"]]
    if "items" in spec:
        return spec["items"]
    raise StructureError(f"malformed structure spec {spec!r}")


def is_flat(spec) -> bool:
    """A tuple of tensors (or one): what a plain call passes and returns."""
    return spec == "*" or (isinstance(spec, dict) and "tuple" in spec and all(s == "*" for s in spec["tuple"]))


def flatten(spec, value, where: str = "input") -> list:
    """The tensors of `value`, in the order of the spec; a mismatch in kind,
    length or keys raises StructureError naming the place."""
    out: list = []

    def walk(s, v, path):
        if s == "*":
            out.append(v)
            return
        if "const" in s:
            return
        if "tuple" in s or "list" in s:
            kids = s.get("tuple", s.get("list"))
            if not isinstance(v, list | tuple) or len(v) != len(kids):
                n = len(v) if isinstance(v, list | tuple) else type(v).__name__
                raise StructureError(f"{path}: expected a sequence of {len(kids)}, got {n}")
            for i, (k, x) in enumerate(zip(kids, v)):
                walk(k, x, f"{path}[{i}]")
            return
        keys = [k for k, _ in s["dict"]] if "dict" in s else s.get("keys", s.get("fields"))
        kids = _children(s)
        if isinstance(v, dict):
            missing = [k for k in keys if k not in v]
            extra = [k for k in v if k not in keys]
            if missing or extra:
                raise StructureError(
                    f"{path}: expected keys {keys}"
                    + (f"; missing {missing}" if missing else "")
                    + (f"; unexpected {extra}" if extra else "")
                )
            for k, x in zip(keys, kids):
                walk(x, v[k], f"{path}[{k!r}]")
        elif isinstance(v, tuple) and len(v) == len(kids):
            for i, (k, x) in enumerate(zip(kids, v)):
                walk(k, x, f"{path}[{i}]")
        else:
            raise StructureError(f"{path}: expected a mapping with keys {keys}, got {type(v).__name__}")

    walk(spec, value, where)
    return out


def unflatten(spec, values: list):
    """`values` (the tensors, in order) put back into the structure."""
    return _build(spec, iter(values))


def _build(s, it):
    # a module-level function, not a closure over itself: a self-referencing closure is a cycle
    # that keeps the last call's outputs alive until the collector runs (so the C runner could
    # not recycle their buffers)
    if s == "*":
        return next(it)
    if "const" in s:
        return s["const"]
    if "tuple" in s:
        return tuple(_build(k, it) for k in s["tuple"])
    if "list" in s:
        return [_build(k, it) for k in s["list"]]
    if "dict" in s:
        return {k: _build(v, it) for k, v in s["dict"]}
    items = [_build(k, it) for k in s["items"]]
    if "namedtuple" in s:
        return _namedtuple(str(s["namedtuple"]), tuple(map(str, s["fields"])))(*items)
    cls = resolve_class(s["class"])
    data = dict(zip(s["keys"], items))
    return data if cls is None else cls(**data)


@functools.lru_cache(maxsize=64)
def _namedtuple(name: str, fields: tuple) -> type:
    """One class per (name, fields), not one per call."""
    def ident(n) -> str:
        n = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in str(n)) or "_"
        if n[0].isdigit() or keyword.iskeyword(n):
            n = "_" + n
        return n

    return namedtuple(ident(name), [ident(f) for f in fields], rename=True)


_WARNED: set[str] = set()


def resolve_class(name: str) -> type | None:
    """The output class `name`: one the model of this process returned, or a
    transformers ModelOutput; None (the caller returns a dict) otherwise."""
    cls = _LIVE.get(name)
    if cls is not None:
        return cls
    if name.startswith(ALLOWED_MODULES):
        import importlib
        import sys

        module_name, _, attr = name.rpartition(".")
        try:
            module = sys.modules.get(module_name) or importlib.import_module(module_name)
            from transformers.utils import ModelOutput

            cls = getattr(module, attr, None)
            if isinstance(cls, type) and issubclass(cls, ModelOutput):
                return cls
        except ImportError:
            pass
    if name not in _WARNED:
        _WARNED.add(name)
        warnings.warn(
            f"the model returned a {name}, which hybridize does not rebuild here (only transformers "
            "ModelOutput classes and classes returned in this process are): outputs come back as a dict",
            stacklevel=3,
        )
    return None


def parse(text: str) -> dict:
    """The structure JSON of a module, checked: `inputs` and `outputs` specs."""
    try:
        data = json.loads(text)
        for key in ("inputs", "outputs"):
            if data[key] is not None:
                leaves(data[key])
        fold = data.setdefault("fold", {})
        if not isinstance(fold, dict) or not all(
            isinstance(k, str) and k.isdigit() and isinstance(v, list) and all(type(n) is int and n > 0 for n in v)
            for k, v in fold.items()
        ):
            raise ValueError(f"fold must map result indices to group sizes, got {fold!r}")
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        raise StructureError(f"malformed {STRUCTURE} attribute: {e}") from None
    return data


def merge_dims(array, groups: list[int]):
    """`array` with its dims merged in consecutive groups of the given sizes."""
    shape, at, out = array.shape, 0, []
    if sum(groups) != len(shape):
        raise StructureError(f"cannot merge the dims of shape {tuple(shape)} in groups {groups}")
    for n in groups:
        size = 1
        for d in shape[at : at + n]:
            size *= d
        out.append(size)
        at += n
    return array.reshape(out)


def of_module(module) -> dict | None:
    """The structure recorded on a module's @forward, or None."""
    from hybridize.ir.module import forward_func

    attr = forward_func(module).attributes.get(STRUCTURE)
    return None if attr is None else parse(attr.data)


__all__ = [
    "ALLOWED_MODULES",
    "STRUCTURE",
    "StructureError",
    "flatten",
    "is_flat",
    "leaves",
    "merge_dims",
    "of_module",
    "parse",
    "remember_class",
    "resolve_class",
    "unflatten",
]
