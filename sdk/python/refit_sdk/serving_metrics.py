"""What the model server counts, for Prometheus: GET /metrics answers in its text exposition format (0.0.4).

The series are the ones Refit's autoscaling queries read (activities/deploy/kubernetes/promql.ts):

    refit_requests_total{model, variation, build, code}          inference requests answered, by HTTP status
    refit_request_duration_seconds{model, variation, build}      histogram of their durations
    refit_requests_in_flight{model, variation, build}            inference requests being answered now
    refit_batch_size{model, variation, build}                    histogram of rows per inference request
    process_cpu_seconds_total, process_resident_memory_bytes, process_start_time_seconds

Written here rather than with prometheus_client: the server runs in each model's own environment, which
holds only what the model asked for, and this is all of the format the server needs.
"""

import os
import resource
import threading
import time

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs) -> str:
    return "{" + ",".join(f'{name}="{_escape(str(value))}"' for name, value in pairs) + "}"


def _number(value) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if isinstance(value, float) else str(value)


class _Histogram:
    def __init__(self, buckets):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[index] += 1
        self.total += 1
        self.sum += value

    def lines(self, name: str, base) -> list:
        lines = [f"{name}_bucket{_labels([*base, ('le', _number(float(bound)))])} {count}"
                 for bound, count in zip(self.buckets, self.counts)]
        lines.append(f"{name}_bucket{_labels([*base, ('le', '+Inf')])} {self.total}")
        lines.append(f"{name}_sum{_labels(base)} {_number(self.sum)}")
        lines.append(f"{name}_count{_labels(base)} {self.total}")
        return lines


class ServingMetrics:
    """The counts of one server (one model build and variation); safe to update from every request thread."""

    def __init__(self, model: str, variation: str, build: str):
        self._base = (("model", model), ("variation", variation), ("build", build))
        self._lock = threading.Lock()
        self._requests = {}
        self._durations = _Histogram(DURATION_BUCKETS)
        self._batches = _Histogram(BATCH_BUCKETS)
        self._in_flight = 0
        self._started = time.time()

    def request_started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def request_finished(self, status: int, seconds: float, batch_size=None) -> None:
        with self._lock:
            self._in_flight -= 1
            self._requests[status] = self._requests.get(status, 0) + 1
            self._durations.observe(seconds)
            if batch_size is not None:
                self._batches.observe(batch_size)

    def exposition(self) -> str:
        with self._lock:
            lines = [
                "# HELP refit_requests_total Inference requests answered, by HTTP status code.",
                "# TYPE refit_requests_total counter",
                *(f"refit_requests_total{_labels([*self._base, ('code', code)])} {count}"
                  for code, count in sorted(self._requests.items())),
                "# HELP refit_request_duration_seconds How long inference requests took to answer.",
                "# TYPE refit_request_duration_seconds histogram",
                *self._durations.lines("refit_request_duration_seconds", self._base),
                "# HELP refit_requests_in_flight Inference requests being answered now.",
                "# TYPE refit_requests_in_flight gauge",
                f"refit_requests_in_flight{_labels(self._base)} {self._in_flight}",
                "# HELP refit_batch_size Rows per inference request.",
                "# TYPE refit_batch_size histogram",
                *self._batches.lines("refit_batch_size", self._base),
            ]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        lines += [
            "# HELP process_cpu_seconds_total User and system CPU time of the server process.",
            "# TYPE process_cpu_seconds_total counter",
            f"process_cpu_seconds_total {_number(usage.ru_utime + usage.ru_stime)}",
            "# HELP process_resident_memory_bytes Resident memory of the server process.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {_resident_bytes(usage)}",
            "# HELP process_start_time_seconds When the server process started, in seconds since the epoch.",
            "# TYPE process_start_time_seconds gauge",
            f"process_start_time_seconds {_number(self._started)}",
        ]
        return "\n".join(lines) + "\n"


def _resident_bytes(usage) -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return usage.ru_maxrss * 1024  # the peak, where /proc is not there (macOS reports bytes, Linux KiB)
