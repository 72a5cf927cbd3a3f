"""Refit's Python SDK: what a model's training code imports, plus the build runner and the model server.

A model folder's ``model.py`` defines one subclass of :class:`RefitModel` and logs its evaluation
metrics with :func:`log_metric` / :func:`log_metrics` while it builds. ``python -m refit_sdk.build``
trains it and writes an artifact; ``python -m refit_sdk.serve`` serves that artifact over the Open
Inference Protocol. The SDK uses only the standard library, so importing it adds no dependency.
"""

from ._version import __version__
from .metrics import log_metric, log_metrics
from .model import RefitModel

__all__ = ["RefitModel", "log_metric", "log_metrics", "__version__"]
