"""One error hierarchy for hybridize, so users catch one type:

    HybridizeError
    ├── FrontendError      a model or model file could not be imported
    │   └── SavedModelError  a saved model (.hyb) is truncated, corrupted or not one
    ├── PassError          a pass failed or left invalid IR
    └── BackendError       code could not be generated, built or run
        └── CBuildError    the C compiler rejected generated code

    >>> try:
    ...     hybridize.compile(model, x)
    ... except hybridize.HybridizeError as e:
    ...     print(e)
"""

from __future__ import annotations


class HybridizeError(Exception):
    """Base of every error hybridize raises on purpose."""


class FrontendError(HybridizeError, ValueError):
    """A model or model file could not be imported."""


class SavedModelError(FrontendError):
    """A saved model (`.hyb`) is truncated, corrupted or not one; the message names the file."""


class PassError(HybridizeError, ValueError):
    """A pass failed or left IR that does not verify."""


class BackendError(HybridizeError, RuntimeError):
    """Code could not be generated, built, loaded or run."""


class CBuildError(BackendError):
    """The C compiler rejected generated code or the kernel library (a hybridize bug: please report)."""
