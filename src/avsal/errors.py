"""The one base class of failures a user can act on (bad input, config, store, validation).

Why a base class: every CLI (``avsal`` and ``pipelines/*.py``) prints these as one line that
names the file or URL and what was expected, and exits non-zero; anything else is a bug and
keeps its traceback. The CLIs catch this class without importing every module that raises it.
"""

from __future__ import annotations

__all__ = ["AvsalError", "ValidationFailed", "NoTrainingData"]


class AvsalError(Exception):
    """A known failure: its message names the file/URL, what was expected and what to do."""


class ValidationFailed(AvsalError, RuntimeError):
    """A great-expectations suite failed; raised after its report is written (dvc repro stops)."""


class NoTrainingData(AvsalError, RuntimeError):
    """A net has nothing to learn from (e.g. no informative pseudo-GT map on the train split)."""
