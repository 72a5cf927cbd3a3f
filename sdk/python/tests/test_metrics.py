import json
import math
import re
import subprocess
import sys
from fractions import Fraction

import pytest

import refit_sdk
from refit_sdk import metrics
from refit_test_support import sdk_env

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@pytest.fixture
def metrics_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    monkeypatch.setenv("REFIT_METRICS_FILE", str(path))
    return path


def read_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_log_metric_appends_one_json_line(metrics_file):
    refit_sdk.log_metric("f1_score", 0.93)

    [record] = read_lines(metrics_file)
    assert list(record) == ["name", "value", "step", "timestamp"]
    assert record["name"] == "f1_score"
    assert record["value"] == 0.93
    assert record["step"] is None
    assert ISO_UTC.fullmatch(record["timestamp"]), record["timestamp"]


def test_log_metrics_writes_one_line_per_metric_in_order_with_the_step(metrics_file):
    refit_sdk.log_metrics({"accuracy": 0.9, "recall": 1, "eval/loss:val-1": Fraction(1, 4)}, step=3)

    records = read_lines(metrics_file)
    assert [(r["name"], r["value"], r["step"]) for r in records] == [
        ("accuracy", 0.9, 3), ("recall", 1, 3), ("eval/loss:val-1", 0.25, 3),
    ]
    assert isinstance(records[1]["value"], int)


def test_logging_appends_to_what_is_already_in_the_file(metrics_file):
    metrics_file.write_text('{"name": "earlier", "value": 1, "step": null, "timestamp": "x"}\n')
    refit_sdk.log_metric("later", 2.5, step=0)
    assert [record["name"] for record in read_lines(metrics_file)] == ["earlier", "later"]


@pytest.mark.parametrize("name", ["", "1st", "has space", "x" * 129, "f1\n", "-dash", " leading-space", 5, None])
def test_invalid_names_are_rejected_with_the_rule(metrics_file, name):
    with pytest.raises(ValueError, match="invalid metric name .* use 1 to 128 characters"):
        refit_sdk.log_metric(name, 0.5)
    assert not metrics_file.exists()


def test_the_longest_allowed_name_is_accepted(metrics_file):
    refit_sdk.log_metric("x" * 128, 1.0)
    assert read_lines(metrics_file)[0]["name"] == "x" * 128


@pytest.mark.parametrize("value", [True, False, "0.9", None, [0.9], 1j])
def test_values_that_are_not_real_numbers_are_rejected(metrics_file, value):
    with pytest.raises(ValueError, match="log a finite int or float"):
        refit_sdk.log_metric("f1_score", value)
    assert not metrics_file.exists()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_values_that_are_not_finite_are_rejected(metrics_file, value):
    with pytest.raises(ValueError, match="not NaN or infinity"):
        refit_sdk.log_metric("f1_score", value)
    assert not metrics_file.exists()


@pytest.mark.parametrize("step", [-1, 1.5, "3", True])
def test_invalid_steps_are_rejected(metrics_file, step):
    with pytest.raises(ValueError, match="non-negative int"):
        refit_sdk.log_metric("f1_score", 0.5, step=step)


def test_log_metrics_writes_nothing_when_one_metric_is_invalid(metrics_file):
    with pytest.raises(ValueError, match="'recall'"):
        refit_sdk.log_metrics({"accuracy": 0.9, "recall": "high"})
    assert not metrics_file.exists()


def test_log_metrics_needs_a_dict(metrics_file):
    with pytest.raises(ValueError, match="takes a dict"):
        refit_sdk.log_metrics([("accuracy", 0.9)])


def test_without_the_env_var_it_warns_once_on_stderr_and_goes_on():
    script = (
        "import refit_sdk\n"
        "refit_sdk.log_metric('f1_score', 0.9)\n"
        "refit_sdk.log_metrics({'recall': 0.8})\n"
        "print('training went on')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], env=sdk_env(), capture_output=True, text=True,
                            timeout=60)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "training went on\n"
    assert result.stderr.splitlines() == [
        "metrics are not recorded: REFIT_METRICS_FILE is not set (Refit sets it during a build)"
    ]


def test_without_the_env_var_invalid_metrics_still_raise(monkeypatch):
    monkeypatch.delenv("REFIT_METRICS_FILE", raising=False)
    monkeypatch.setattr(metrics, "_warned_missing_file", True)  # keep the test's stderr quiet
    with pytest.raises(ValueError):
        refit_sdk.log_metric("bad name", 1.0)
