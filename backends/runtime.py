"""The callable that `hybridize.build` returns.

It checks every argument against the signature once per call (a wrong shape or
dtype raises ValueError naming the expected signature), accepts NumPy arrays or
torch tensors and returns the same kind. The C runner writes each result into
an output array of an earlier call that nobody holds any more, or a new one.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import numpy as np

from hybridize.backends.program import Program
from hybridize.errors import InputError
from hybridize.ir.types import DYNAMIC, format_shape, numpy_dtype, shape_of


class CompiledModel:
    """`model(*inputs) -> output` (or a tuple of outputs) for one module."""

    def __init__(self, prog: Program, backend: str, run: Callable, source: str, module, options: dict | None = None):
        self.backend = backend
        self.options = dict(options or {})
        """The build options to save with the model (`threads`, `profile`)."""
        self.source = source
        """The generated Python or C source."""
        self.module = module
        """The IR the code was generated from."""
        self.arena = prog.arena
        """Arena bytes as (static, per batch element)."""
        self.signature = "forward" + prog.signature()
        self._run = run
        self._in_shapes = [shape_of(v) for v in prog.inputs]
        self._in_dtypes = [numpy_dtype(v) for v in prog.inputs]
        self._dynamic = prog.dynamic
        # the fast path of __call__: C-contiguous NumPy arrays of exactly the static signature
        self._exact = None if prog.dynamic else list(zip((tuple(s) for s in self._in_shapes), self._in_dtypes))
        self._single = len(prog.outputs) == 1
        from hybridize.backends.structure import is_flat, of_module

        structure = of_module(module) if module is not None else None
        self.structure = structure
        """How inputs and outputs nest (`hybridize.backends.structure`), or None: flat."""
        ins, outs = (structure["inputs"], structure["outputs"]) if structure else (None, None)
        self._fold = {int(i): g for i, g in structure["fold"].items()} if structure else {}
        # a plain call: positional tensors in, one tensor or a tuple of several out
        self._in_spec = None if ins is None or _flat_args(ins) else ins
        self._out_spec = None if outs is None or (is_flat(outs) and outs != {"tuple": ["*"]}) else outs
        # positional arrays in, the outputs as they come out: no structure to fold or rebuild
        self._plain = self._in_spec is None and self._out_spec is None and not self._fold

    @property
    def arena_bytes(self) -> int:
        """Arena bytes at batch 1."""
        return self.arena[0] + self.arena[1]

    def _check(self, i: int, a) -> np.ndarray:
        shape, dtype = self._in_shapes[i], self._in_dtypes[i]
        if not isinstance(a, np.ndarray):
            if isinstance(a, np.generic | int | float | bool | list | tuple):
                a = np.asarray(a)
            else:
                raise InputError(
                    f"argument {i}: expected a NumPy array or torch tensor, got {type(a).__name__}; "
                    f"signature: {self.signature}"
                )
        if a.dtype != dtype or len(a.shape) != len(shape) or any(
            d != DYNAMIC and d != n for d, n in zip(shape, a.shape)
        ):
            raise InputError(
                f"argument {i}: expected tensor<{format_shape(shape)}> of {dtype.name}, got shape "
                f"{tuple(a.shape)} of {a.dtype.name}; signature: {self.signature}"
            )
        return np.asarray(a, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)

    def __call__(self, *args, **kwargs):
        if kwargs or not self._plain:
            return self._call_structured(args, kwargs)
        exact = self._exact
        if exact is not None and len(args) == len(exact):
            for a, (shape, dtype) in zip(args, exact):
                if type(a) is not np.ndarray or a.shape != shape or a.dtype != dtype or not a.flags.c_contiguous:
                    break
            else:
                outs = self._run(*args)
                return outs[0] if self._single else tuple(outs)
        return self._call_checked(args)

    def _call_structured(self, args, kwargs):
        from hybridize.backends.structure import StructureError, flatten, unflatten

        if self._in_spec is not None:
            try:
                args = tuple(flatten(self._in_spec, (args, kwargs), "arguments"))
            except StructureError as e:
                raise ValueError(f"{e}; signature: {self.signature}") from None
        elif kwargs:
            raise ValueError(f"unexpected keyword arguments {sorted(kwargs)}; signature: {self.signature}")
        outs = self._call_checked(args)
        if self._fold:
            from hybridize.backends.structure import merge_dims

            listed = [outs] if self._single else list(outs)
            listed = [merge_dims(o, self._fold[i]) if i in self._fold else o for i, o in enumerate(listed)]
            outs = listed[0] if self._single else tuple(listed)
        if self._out_spec is None:
            return outs
        return unflatten(self._out_spec, [outs] if self._single else list(outs))

    def _call_checked(self, args):
        if len(args) != len(self._in_shapes):
            raise InputError(f"expected {len(self._in_shapes)} argument(s), got {len(args)}; signature: {self.signature}")
        torch_out = False
        mx_type = None  # MXNet arrays in: the same kind (NDArray or mx.np.ndarray) out
        arrays = []
        for i, a in enumerate(args):
            if type(a).__module__.startswith("torch"):
                torch_out = True
                a = a.detach().cpu().numpy()
            elif type(a).__module__.startswith("mxnet"):
                mx_type = mx_type or type(a)
                a = a.asnumpy()
            arrays.append(self._check(i, a))
        if self._dynamic:
            sizes = {a.shape[k] for a, shape in zip(arrays, self._in_shapes) for k, d in enumerate(shape) if d == DYNAMIC}
            if len(sizes) > 1:
                raise InputError(
                    f"the `?` dimensions of the arguments must all be the batch size, got sizes {sorted(sizes)}; "
                    f"signature: {self.signature}"
                )
        outs = self._run(*arrays)
        if torch_out:
            import torch

            outs = tuple(torch.from_numpy(o) for o in outs)
        elif mx_type is not None:
            import mxnet as mx

            make = mx.np.array if issubclass(mx_type, mx.np.ndarray) else mx.nd.array
            outs = tuple(make(o, dtype=o.dtype) for o in outs)
        return outs[0] if len(outs) == 1 else tuple(outs)

    _profile = None

    def profile(self) -> list[tuple[str, float]]:
        """With `build(..., profile=True)`: (step, seconds) spent in each step since the last call, slowest first."""
        if self._profile is None:
            raise ValueError("profile() needs a model built with build(..., profile=True) (C backend)")
        ffi, fn, names = self._profile
        buf = ffi.new("double[]", max(len(names), 1))
        fn(buf)
        return sorted(((n, buf[i]) for i, n in enumerate(names)), key=lambda p: -p[1])

    def save(self, path) -> None:
        """Write the model as one `.hyb` file (IR, build options, weights) that
        `hybridize.load(path)` rebuilds in any process, with no torch or MXNet."""
        from hybridize.backends import saved

        saved.save(path, self.module, self.backend, self.options, self.signature)

    def __reduce__(self):
        # plain data only: the .hyb bytes and the function that rebuilds them
        from hybridize.backends import saved

        return saved._unpickle, (saved.dumps(self.module, self.backend, self.options, self.signature),)

    def __repr__(self) -> str:
        from hybridize.ir.attributes import affine_text

        return f"<CompiledModel {self.backend} {self.signature}, arena {affine_text(*self.arena)} bytes>"


def _flat_args(spec) -> bool:
    """(args, kwargs) spec of positional tensors and no keywords."""
    try:
        args, kwargs = spec["tuple"]
        return all(a == "*" for a in args["tuple"]) and kwargs == {"dict": []}
    except (KeyError, TypeError, ValueError):
        return False


def numpy_runner(forward: Callable) -> Callable:
    """The NumPy code binds arena views once: calls are serialized."""
    lock = threading.Lock()

    def run(*arrays):
        with lock:
            return forward(*arrays)

    return run


def c_runner(prog: Program, ffi, lib, constants: list[np.ndarray], used: set[int], threads: int) -> Callable:
    """Calls `hy_forward` on NumPy buffers without copying them.

    The arena (64-byte aligned) is allocated once and reused by every call;
    calls on one model are serialized by a lock (they share it). Only the
    constants the code reads (`used`) are kept: a weight it reads packed is not."""
    from hybridize.backends.c.pack import aligned

    # packed weights are read with aligned vector loads
    keep = [aligned(c) if i in used else np.zeros(1, np.uint8) for i, c in enumerate(constants)]
    table = ffi.new("void *[]", [ffi.from_buffer(c) for c in keep] or [ffi.NULL])
    out_specs = [(shape_of(v), numpy_dtype(v)) for v in prog.outputs]
    static, per_batch = prog.arena
    fn = getattr(lib, "hy_forward")
    fb = ffi.from_buffer
    source_dim = prog.batch_source
    lock = threading.Lock()
    state = {"arena": None, "ptr": None, "bytes": -1}

    def arena_for(nbytes: int):
        if state["bytes"] < nbytes:
            from hybridize.backends.c.pack import aligned_empty

            state["arena"] = aligned_empty(max(nbytes, 64), np.uint8)
            state["ptr"] = fb(state["arena"])
            state["bytes"] = nbytes
        return state["ptr"]

    # Outputs are recycled: an array from the last two calls that nobody else holds any more (its
    # only reference is `pool`) is written again instead of allocating a new one. A fresh array of
    # a few hundred KB comes back from the allocator as new pages, and faulting them in cost more
    # than the kernel that fills them (MobileNetV2's last transpose: 150 us of faults, 15 us of
    # work). Two per output, so `y = model(x)` in a loop (the last result alive during the call)
    # alternates between them. Checked and claimed under the lock, so two calls never share an
    # array; an output the caller keeps (or a view of it, which holds its base) is never reused.
    pools: list[list] = [[] for _ in out_specs]
    getrefcount = sys.getrefcount

    def empty(i: int, shape, dtype):
        pool = pools[i]
        for a in pool:
            if getrefcount(a) == 3 and a.shape == shape:  # the pool, `a`, getrefcount's argument
                return a
        a = np.empty(shape, dtype)
        pool.insert(0, a)
        del pool[2:]
        return a

    def failed(rc: int):
        from hybridize.backends.c import ERRORS

        raise IndexError(f"generated C failed: {ERRORS.get(rc, f'error code {rc}')}")

    acquire, release = lock.acquire, lock.release
    if source_dim is None and len(prog.inputs) == 1 and len(out_specs) == 1:
        arena_ptr = arena_for(static)
        (shape, dtype), = out_specs

        def run(x):  # the common case, one array in and one out, without the generic packing
            acquire()
            try:
                out = empty(0, shape, dtype)
                rc = fn(threads, fb(x), fb(out), table, arena_ptr)
            finally:
                release()
            if rc:
                failed(rc)
            return [out]

    elif source_dim is None:
        arena_ptr = arena_for(static)

        def run(*arrays):
            acquire()
            try:
                outs = [empty(i, s, d) for i, (s, d) in enumerate(out_specs)]
                rc = fn(threads, *map(fb, arrays), *map(fb, outs), table, arena_ptr)
            finally:
                release()
            if rc:
                failed(rc)
            return outs

    else:

        def run(*arrays):
            batch = arrays[source_dim[0]].shape[source_dim[1]]
            shapes = [tuple(batch if d == DYNAMIC else d for d in s) for s, _ in out_specs]
            with lock:
                outs = [empty(i, s, d) for i, (s, (_, d)) in enumerate(zip(shapes, out_specs))]
                rc = fn(threads, batch, *map(fb, arrays), *map(fb, outs), table, arena_for(static + per_batch * batch))
            if rc:
                failed(rc)
            return outs

    run._keep = (keep, table, state)  # the weights and the arena must outlive the function
    return run
