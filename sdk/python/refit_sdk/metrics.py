"""Metric logging from training code.

Each metric becomes one JSON line appended to the file named by ``REFIT_METRICS_FILE``; Refit reads
that file after the build to evaluate the automation's deployment condition.
"""

import json
import math
import numbers
import os
import re
import sys
import threading
from collections.abc import Mapping

from .clock import utc_now_iso

METRICS_FILE_ENV = "REFIT_METRICS_FILE"

# fullmatch, not match: with match, "$" would also accept a name that ends in a newline.
_METRIC_NAME = re.compile(r"[A-Za-z_][\w.:/-]{0,127}")

_write_lock = threading.Lock()
_warned_missing_file = False


def log_metric(name, value, step=None) -> None:
    """Record one metric, e.g. ``log_metric("f1_score", 0.93)``."""
    _append([_metric_record(name, value, step)])


def log_metrics(metrics, step=None) -> None:
    """Record several metrics at once, e.g. ``log_metrics({"f1_score": 0.93, "recall": 0.9})``.

    Every metric is checked before any is written, so a bad one does not leave the others half logged.
    """
    if not isinstance(metrics, Mapping):
        raise ValueError(
            f"log_metrics() takes a dict of metric name to value, got {type(metrics).__name__}: "
            "use log_metric(name, value) for a single metric"
        )
    _append([_metric_record(name, value, step) for name, value in metrics.items()])


def _metric_record(name, value, step) -> dict:
    return {
        "name": _checked_name(name),
        "value": _checked_value(name, value),
        "step": _checked_step(step),
        "timestamp": utc_now_iso(),
    }


def _checked_name(name) -> str:
    if not isinstance(name, str) or not _METRIC_NAME.fullmatch(name):
        raise ValueError(
            f"invalid metric name {name!r}: use 1 to 128 characters, starting with a letter or '_', "
            "followed by letters, digits, '_', '.', ':', '/' or '-'"
        )
    return name


def _checked_value(name, value):
    # bool is an int subclass, but True as a metric value is almost always a mistake.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"metric {name!r} has value {value!r} of type {type(value).__name__}: "
            "log a finite int or float"
        )
    if isinstance(value, numbers.Integral):
        return int(value)
    as_float = float(value)
    if not math.isfinite(as_float):
        raise ValueError(f"metric {name!r} is {as_float}: log a finite number (not NaN or infinity)")
    return as_float


def _checked_step(step):
    if step is None:
        return None
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ValueError(f"step {step!r} is not valid: pass a non-negative int, or leave it out")
    return int(step)


def _append(records: list) -> None:
    path = os.environ.get(METRICS_FILE_ENV)
    if not path:
        _warn_missing_file_once()
        return
    text = "".join(json.dumps(record) + "\n" for record in records)
    # Opening in append mode for each call (instead of keeping a handle) means every metric is on disk
    # as soon as log_metric() returns, so a build that crashes later keeps what it logged.
    with _write_lock, open(path, "a", encoding="utf-8") as metrics_file:
        metrics_file.write(text)


def _warn_missing_file_once() -> None:
    global _warned_missing_file
    if not _warned_missing_file:
        _warned_missing_file = True
        print(
            f"metrics are not recorded: {METRICS_FILE_ENV} is not set "
            "(Refit sets it during a build)",
            file=sys.stderr,
        )
