"""hybridize: capture an eager model once, optimize its graph with an
MLIR-style pass pipeline, run it as generated NumPy or C code.

    >>> import hybridize, torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Linear(256, 2))
    >>> x = torch.randn(1, 512)
    >>> fast = hybridize.compile(net, x)            # trace + optimize + build (C)
    >>> fast(x)                                     # a torch tensor, like net(x)

or step by step:

    >>> module = hybridize.trace(net, x)            # xDSL ModuleOp, `print(module)`
    >>> module = hybridize.optimize(module, "canonicalize,fuse,plan")
    >>> fast = hybridize.build(module, backend="numpy")

Every error hybridize raises on purpose is a `hybridize.HybridizeError`
(children by stage: `FrontendError`, `IRError`, `PassError`, `BackendError`,
`InputError`, `ToolError`; see `hybridize.errors`).
"""

from __future__ import annotations


from xdsl.dialects.builtin import ModuleOp

from hybridize.backends import BACKENDS, CompiledModel, build
from hybridize.errors import (
    BackendError,
    CBuildError,
    FrontendError,
    HybridizeError,
    InputError,
    IRError,
    PassError,
    SavedModelError,
    ToolError,
    UnsupportedOpError,
)
from hybridize.ir import parse_module, print_module
from hybridize.passes import DEFAULT_PIPELINE, register_pass, run_pipeline

__version__ = "0.1.0"


def trace(model, *example_inputs, **options) -> ModuleOp:
    """Capture a model on example inputs as `hy` IR.

    `model` is a `torch.nn.Module`, an MXNet Gluon `HybridBlock`, or the path
    of a model file (`.pt2`, `.pt`, `-symbol.json`, `.mlir`; see
    `hybridize.frontends.FILE_FRONTENDS`). Options go to the frontend, e.g.
    `decompose=True` or `dynamic_batch=True` for PyTorch.

    Compiled models are inference only: a PyTorch model (or `.pt` archive) in
    training mode that holds dropout or batch norm is refused with a
    `TrainingModeError`; call `model.eval()` first, or pass `force_eval=True`
    to capture it as in eval mode.
    """
    import sys
    from os import PathLike

    if isinstance(model, str | PathLike):
        from hybridize.frontends import load_file

        return load_file(model, *example_inputs, **options)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(model, torch.nn.Module):
        from hybridize.frontends.torch import trace as trace_torch

        return trace_torch(model, example_inputs, **options)
    mx = sys.modules.get("mxnet")
    if mx is not None and isinstance(model, mx.gluon.Block):
        from hybridize.frontends.mxnet import trace_block

        return _call_frontend("MXNet", trace_block, model, *example_inputs, **options)
    raise TypeError(
        f"hybridize.trace: no frontend for {type(model).__name__} "
        "(supported: torch.nn.Module, mxnet.gluon.HybridBlock, or a model file path)"
    )


def _call_frontend(kind: str, fn, *args, **options):
    """`fn(*args, **options)`, refusing an option `fn` does not take with a
    FrontendError that lists the ones it does (not a TypeError from deep inside)."""
    import inspect

    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        known = [
            n
            for n, p in params.items()
            if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty)
        ]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise FrontendError(
                f"hybridize.trace: the {kind} frontend has no option {', '.join(unknown)} "
                f"(its options: {', '.join(known) or 'none'})"
            )
    return fn(*args, **options)


def optimize(module: ModuleOp, pipeline: str = DEFAULT_PIPELINE) -> ModuleOp:
    """Run a pass pipeline on a copy of `module` and return the copy."""
    return run_pipeline(module.clone(), pipeline)


BUILD_OPTIONS = ("threads", "cache_dir", "progress", "profile")
"""Options of `compile` that go to `build` (the rest go to `trace`)."""


def compile(  # noqa: A001
    model, *example_inputs, pipeline: str = DEFAULT_PIPELINE, backend: str = "c", **options
) -> CompiledModel:
    """`build(optimize(trace(model, *example_inputs, **options), pipeline), backend)`.

    Options go to `trace` (e.g. `dynamic_batch=True` to accept any batch
    size, `force_eval=True` for a model in training mode, which is refused
    otherwise: compiled code is inference only), and `threads`, `cache_dir`,
    `progress`, `profile` to `build`.

        >>> fast = hybridize.compile(net, torch.randn(1, 512), dynamic_batch=True)
        >>> fast(torch.randn(32, 512)).shape
        torch.Size([32, 2])
    """
    build_options = {k: options.pop(k) for k in BUILD_OPTIONS if k in options}
    return build(run_pipeline(trace(model, *example_inputs, **options), pipeline), backend, **build_options)


def load(path, **build_options) -> CompiledModel:
    """The model `model.save(path)` wrote (a `.hyb` file), rebuilt in this
    process; needs neither torch nor MXNet. `build_options` (`threads`,
    `cache_dir`, `progress`, `profile`) override the saved ones. A damaged
    file raises `hybridize.errors.SavedModelError` naming it."""
    from hybridize.backends.saved import load as load_saved

    return load_saved(path, **build_options)


def export(model, out_dir, name: str = "model", **options):
    """Write a standalone C package of `model` (a `CompiledModel` or a module)
    to `out_dir`: `<name>.h`, `<name>.c` (with the kernel library inlined),
    the weights (embedded, or `<name>.weights`), `main.c` and a `Makefile`;
    returns the paths written. Options: `weights` ("auto", "embed", "file"),
    `embed_limit` (bytes), `force` (write into a non-empty directory). See
    `hybridize.backends.c.export`.

        >>> hybridize.export(fast, "out", name="my_mlp")
        $ cd out && make && ./my_mlp input.bin output.bin
    """
    from hybridize.backends.c.export import export as export_c

    return export_c(model, out_dir, name, **options)


def draw(module: ModuleOp, path=None, **options):
    """Picture of the graph: `draw(module, "model.svg")` (also `.dot`, `.png`);
    returns the SVG text. Options: `collapse_fused`, `rankdir`, `max_ops`,
    `legend` (see `hybridize.backends.draw.draw`). Needs Graphviz."""
    from hybridize.backends.draw import draw as draw_graph

    return draw_graph(module, path, **options)


def draw_plan(module: ModuleOp, path=None) -> str:
    """The memory plan as an SVG timeline (after the `plan` pass); returns the
    SVG text and writes it to `path` if given."""
    from hybridize.backends.draw import draw_plan as draw_timeline

    return draw_timeline(module, path)


__all__ = [
    "BACKENDS",
    "DEFAULT_PIPELINE",
    "BackendError",
    "CBuildError",
    "CompiledModel",
    "FrontendError",
    "HybridizeError",
    "IRError",
    "InputError",
    "PassError",
    "SavedModelError",
    "ToolError",
    "UnsupportedOpError",
    "build",
    "compile",
    "draw",
    "draw_plan",
    "export",
    "load",
    "optimize",
    "parse_module",
    "print_module",
    "register_pass",
    "run_pipeline",
    "trace",
]
