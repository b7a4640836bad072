"""Capturing a model: `torch.export` in eval mode, the training-mode check,
export failures explained, `.pt2` archives."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

from xdsl.dialects.builtin import ModuleOp

from hybridize import errors
from hybridize.frontends.torch.decompose import lower_program


TRAINING_SENSITIVE = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
                      "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d",
                      "LazyBatchNorm2d", "LazyBatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
"""Module classes that compute something else in training mode."""


class TrainingModeError(errors.FrontendError):
    """A model in training mode whose result depends on it (dropout, batch norm)."""


def check_eval_mode(name: str, training: bool, submodule_kinds, force_eval: bool) -> None:
    """Refuse a model in training mode that holds dropout or batch-norm layers,
    unless `force_eval` (then it is captured as in eval mode)."""
    if not training or force_eval:
        return
    kinds = sorted({k for k in submodule_kinds if k in TRAINING_SENSITIVE})
    if kinds:
        raise TrainingModeError(
            f"{name} is in training mode and holds {', '.join(kinds)}, which behave differently in training; "
            "hybridize compiles inference only. Call model.eval() first, or pass force_eval=True to capture it "
            "as in eval mode (dropout off, batch norm on running statistics)"
        )


def trace(
    model,
    example_inputs: Sequence,
    *,
    decompose: bool = False,
    dynamic_batch: bool = False,
    force_eval: bool = False,
    kwargs: dict | None = None,
) -> ModuleOp:
    """Export `model` with `torch.export` (in eval mode) and lower it.

    Ops with no converter are decomposed to Core ATen on their own (see
    `decompose.lower_program`); `decompose=True` lowers the whole core-ATen
    graph instead (`run_decompositions()`; scaled dot-product attention
    stays whole, see `decompositions`).
    `dynamic_batch=True` keeps the leading dimension of every input symbolic,
    so the IR reads `tensor<?x...>` and one build serves any batch size.
    Data-dependent control flow is refused with the user's file and line.

    Inputs may nest (tuples, lists, dicts of tensors) and `kwargs` gives
    keyword arguments of `forward`; the compiled model takes the same
    structure and returns what the model returns (a `ModelOutput`, dict,
    named tuple, nested tuples; see `hybridize.backends.structure`).

    A model in training mode that holds dropout or batch norm is refused
    (`TrainingModeError`): compiled code is inference only. `force_eval=True`
    captures it as in eval mode instead (the model's own mode is restored).
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    check_eval_mode(type(model).__name__, model.training, (type(m).__name__ for m in model.modules()), force_eval)
    args, kwargs = unaliased(tuple(example_inputs), dict(kwargs or {}))
    dynamic_shapes = None
    if dynamic_batch:
        args, kwargs, dynamic_shapes = batch_dynamic(model, args, kwargs)
    was_training = model.training
    model.eval()
    def export():
        # under no_grad, a `@torch.no_grad()` method inside the model (sinusoidal
        # positions, M2M100) changes nothing, so export inlines it instead of
        # wrapping it in a `wrap_with_set_grad_enabled` submodule
        with helper_stack_traces(), torch.no_grad():
            return torch.export.export(model, args, kwargs or None, dynamic_shapes=dynamic_shapes)

    try:
        try:
            ep = export()
        except Exception as e:
            if not _returns_a_cache(e):
                raise _explain_export_failure(e) from e
            with _without_cache(model) as dropped:
                if not dropped:
                    raise _cache_error(e) from e
                try:
                    ep = export()
                except Exception as again:
                    raise (_cache_error(again) if _returns_a_cache(again) else _explain_export_failure(again)) from again
            import warnings

            warnings.warn(
                "hybridize: the model returns a key/value cache (transformers' use_cache=True), which a compiled "
                "model cannot hand out; traced with use_cache=False (its cache output is None). Pass "
                "use_cache=False yourself to silence this.",
                stacklevel=3,
            )
    finally:
        model.train(was_training)
    return lower_program(ep, decompose=decompose)


def _returns_a_cache(e: Exception) -> bool:
    """torch.export's refusal of a transformers `Cache` object among the outputs."""
    text = str(e)
    return "which is not a known type" in text and "Cache" in text


def _cache_error(e: Exception) -> Exception:
    return ExportError(
        "the model returns a key/value cache (a transformers Cache object, use_cache=True), which torch.export "
        "cannot capture: pass use_cache=False (in the call or the model's config)\n"
        f"torch said: {str(e).strip().splitlines()[0]}"
    )


@contextmanager
def _without_cache(model):
    """Every transformers config among the model's modules with `use_cache`
    set to False while inside; yields whether there was one to change."""
    configs = {}
    for m in model.modules():
        config = getattr(m, "config", None)
        for c in (config, getattr(config, "text_config", None), getattr(config, "decoder", None)):
            if c is not None and getattr(c, "use_cache", False) is True:
                configs[id(c)] = c
    for c in configs.values():
        c.use_cache = False
    try:
        yield bool(configs)
    finally:
        for c in configs.values():
            c.use_cache = True


def unaliased(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """The example inputs with every tensor that shares memory with an
    earlier one copied: torch.export merges aliased inputs into one
    placeholder (`f(x, x)` would compile to a function of its second
    argument only)."""
    import torch
    from torch.utils import _pytree as pytree

    seen: set = set()

    def own(a):
        if not isinstance(a, torch.Tensor):
            return a
        key = (a.untyped_storage().data_ptr(), a.storage_offset()) if a.numel() else id(a)
        if key in seen:
            return a.clone()
        seen.add(key)
        return a

    return pytree.tree_map(own, (args, kwargs))


@contextmanager
def helper_stack_traces():
    """While exporting, torch records each node's stack down to the helper
    function that made it, not only the `forward` frames (its default), so
    locations name the helper's line (`repeat_interleave` inside
    `apply_rotary_pos_emb`, not the call of it). torch offers no option for
    this: its frame filter (`TracerBase._filter_traceback_frames`, documented
    as the hook to customize) runs in its keep-everything-after-forward mode;
    if that hook is gone, the default traces are used."""
    try:
        from torch.fx.proxy import TracerBase

        original = TracerBase._filter_traceback_frames
    except (ImportError, AttributeError):
        yield
        return

    def keep_helpers(self, summary):
        had = "_record_forward_stack_traces_only" in self.__dict__
        saved = getattr(self, "_record_forward_stack_traces_only", False)
        self._record_forward_stack_traces_only = False
        try:
            return original(self, summary)
        finally:
            if had:
                self._record_forward_stack_traces_only = saved
            else:
                del self._record_forward_stack_traces_only

    TracerBase._filter_traceback_frames = keep_helpers
    try:
        yield
    finally:
        TracerBase._filter_traceback_frames = original


def batch_dynamic(model, args: tuple, kwargs: dict):
    """Inputs traced with a batch of 2 (torch.export specializes sizes 0 and 1)
    and torch.export's `dynamic_shapes` making dim 0 the one batch for every
    tensor whose dim 0 is the first tensor's (the others, e.g. a scale of
    shape [4], stay static): keyed by `forward`'s parameters, `*args` and
    nested inputs included (a spec mirrors its input's structure)."""
    import inspect

    import torch
    from torch.utils import _pytree as pytree

    leaves = pytree.tree_leaves((args, kwargs))
    tensors = [a for a in leaves if isinstance(a, torch.Tensor)]
    if not tensors or tensors[0].dim() < 1:
        raise ValueError("dynamic_batch=True needs tensor example inputs with a leading (batch) dimension")
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    size = tensors[0].shape[0]

    def batched(a) -> bool:
        return isinstance(a, torch.Tensor) and a.dim() >= 1 and a.shape[0] == size

    def two(a):
        return torch.cat([a[:1], a[:1]]) if batched(a) and size < 2 else a

    def spec(a):
        return {0: batch} if batched(a) else None

    try:
        bound = inspect.signature(model.forward).bind(*args, **kwargs)
    except TypeError as e:
        raise ValueError(f"example inputs do not match {type(model).__name__}.forward: {e}") from None
    shapes = {}
    for name, value in bound.arguments.items():
        kind = bound.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            shapes[name] = tuple(pytree.tree_map(spec, v) for v in value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            shapes[name] = {k: pytree.tree_map(spec, v) for k, v in value.items()}
        else:
            shapes[name] = pytree.tree_map(spec, value)
    args, kwargs = pytree.tree_map(two, (args, kwargs))
    return args, kwargs, shapes


class ExportError(errors.FrontendError, RuntimeError):
    """torch.export could not capture the model; the message says why and where."""


def _explain_export_failure(e: Exception) -> Exception:
    """Turn torch.export's failures into errors that point at the user's code."""
    text = str(e)
    name = type(e).__name__
    if "GuardOnDataDependentSymNode" in name or "data-dependent" in text or "data dependent" in text:
        where = _traceback_user_frame(e) or _user_frame(text)
        return ExportError(
            f"the model branches on tensor values{(' at ' + where) if where else ''}: "
            "torch.export (and so hybridize) captures one graph for all inputs. Write the branch with "
            "torch.cond(pred, true_fn, false_fn, operands) or move it out of forward().\n"
            f"torch said: {text.strip().splitlines()[0] if text.strip() else name}"
        )
    if "Constraints violated" in text or "specialized" in text:
        return ExportError(
            "the model fixes the batch size (a dynamic batch was asked for): "
            + (text.strip().splitlines()[0] if text.strip() else name)
        )
    if isinstance(e, errors.HybridizeError):
        return e
    # anything else torch.export raised while running forward(): say where in the model
    where = _traceback_user_frame(e)
    first = text.strip().splitlines()[0] if text.strip() else ""
    return ExportError(f"torch.export failed{(' at ' + where) if where else ''}: {name}: {first}"[:2000])


def _traceback_user_frame(e: BaseException) -> str | None:
    """`file:line: code` of the innermost frame of the exception's traceback
    that is the user's (or a transformers model's) code, not torch's: non-strict
    export runs forward() in Python, so the branch's own line is on the stack."""
    import traceback

    from hybridize.frontends.torch.lowering import is_library_file

    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        if not is_library_file(frame.filename):
            code = (frame.line or "").strip()
            return f"{frame.filename}:{frame.lineno}" + (f" ({code})" if code else "")
    return None


def _user_frame(text: str) -> str | None:
    """The last `File "...", line N` of a trace quoted in torch's message that is
    the user's or a transformers model's code (torch's own frames, and
    transformers' outside modeling files, never name the layer); else the first
    `(file.py:N in fn)` that is not torch's."""
    import re

    from hybridize.frontends.torch.lowering import is_library_file

    frames = re.findall(r'File "([^"]+)", line (\d+)', text)
    frames = [f for f in frames if not is_library_file(f[0])]
    if frames:
        path, line = frames[-1]
        return f"{path}:{line}"
    for m in re.finditer(r"\(([^()]+\.py):(\d+) in [^)]*\)", text):
        if not re.match(r"(_export|_dynamo|fx|_subclasses|_higher_order_ops|export)/", m.group(1)):
            return f"{m.group(1)}:{m.group(2)}"
    return None


def load_pt2(path: str, *example_inputs, **options) -> ModuleOp:
    """A program saved with `torch.export.save` (weights included)."""
    import torch

    try:
        ep = torch.export.load(path)
    except Exception as e:
        raise ValueError(f"{path}: not a readable torch.export archive ({type(e).__name__}: {e})") from None
    return lower_program(ep, decompose=bool(options.get("decompose")))

