"""One error hierarchy for hybridize, so users catch one type:

    HybridizeError                    everything hybridize raises on purpose
    ├── FrontendError (ValueError)    a model or model file could not be imported
    │   ├── SavedModelError             a saved model (.hyb) is truncated, corrupted or not one
    │   ├── TrainingModeError           a torch model in training mode (call .eval() or force_eval=True)
    │   ├── torch ExportError           torch.export could not capture the model (also a RuntimeError)
    │   ├── SymbolFormatError, ParamsFormatError   a malformed MXNet file
    │   └── UnsupportedOpError          a source op with no converter (torch, TorchScript, MXNet)
    ├── IRError (ValueError)          IR text that does not parse or verify
    │   ├── IRParseError                a syntax error (also xDSL's ParseError)
    │   └── IRVerifyError, CheckError   an op or the module does not verify (also xDSL's VerifyException)
    ├── PassError (ValueError)        a pass failed or left invalid IR
    │   ├── PipelineError               a pipeline that does not parse, an unknown pass, a failing pass
    │   ├── PassRegistrationError       a plugin pass that would shadow another one
    │   └── PlanError                   a value the memory plan cannot hold
    ├── BackendError (RuntimeError)   code could not be generated, built, loaded or run
    │   ├── CBuildError                 the C compiler rejected generated code
    │   ├── C ExportError               a standalone C package could not be written
    │   ├── DrawError                   a picture cannot be made (no `dot`, no plan, too big)
    │   └── UnsupportedOpError          an op a backend has no rule for
    ├── InputError (ValueError)       arguments of a compiled model do not match its signature
    └── ToolError                     a bad command line of `opt-tool`

`UnsupportedOpError` here is the common base of the frontends' and the
backends' classes of that name (which are also `NotImplementedError`s), so
one `except hybridize.UnsupportedOpError` catches an unmappable op wherever
it is found. Each class keeps the builtin base its callers caught before
(`ValueError`, `RuntimeError`, `NotImplementedError`, xDSL's exceptions).

    >>> try:
    ...     hybridize.compile(model, x)
    ... except hybridize.HybridizeError as e:
    ...     print(e)

This module imports nothing (every layer, `ir` included, may use it).
"""

from __future__ import annotations


class HybridizeError(Exception):
    """Base of every error hybridize raises on purpose."""


class UnsupportedOpError(HybridizeError, NotImplementedError):
    """An op hybridize has no rule for, in a model (frontends) or in IR
    (backends); the message names the op and where it is."""


class FrontendError(HybridizeError, ValueError):
    """A model or model file could not be imported."""


class SavedModelError(FrontendError):
    """A saved model (`.hyb`) is truncated, corrupted or not one; the message names the file."""


class IRError(HybridizeError, ValueError):
    """IR text that does not parse or does not verify; the message starts
    with `file:line:col:` when the IR came from a file."""


class PassError(HybridizeError, ValueError):
    """A pass failed or left IR that does not verify."""


class BackendError(HybridizeError, RuntimeError):
    """Code could not be generated, built, loaded or run."""


class CBuildError(BackendError):
    """The C compiler rejected generated code or the kernel library (a hybridize bug: please report)."""


class InputError(HybridizeError, ValueError):
    """The arguments given to a compiled model do not match its signature
    (count, shape or dtype); the message shows the signature."""


class ToolError(HybridizeError):
    """A bad `opt-tool` command line (printed as one line, exit code 1)."""


def excerpt(text: str, limit: int = 60) -> str:
    """`text` for an error message: whole when short, else its ends around
    the count of characters left out, so a message quoting a 5,000-character
    value from the input stays one readable line.

        >>> excerpt("l" + "(" * 5000 + "inear", 20)
        'l(((((((((... (4991 more characters) ...inear'
    """
    if len(text) <= limit:
        return text
    head, tail = limit // 2, limit // 4
    return f"{text[:head]}... ({len(text) - head - tail} more characters) ...{text[-tail:]}"


__all__ = [
    "BackendError",
    "CBuildError",
    "FrontendError",
    "HybridizeError",
    "IRError",
    "InputError",
    "PassError",
    "SavedModelError",
    "ToolError",
    "UnsupportedOpError",
]
