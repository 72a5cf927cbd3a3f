"""Running predict() for a request: batches of at most B rows, at most N at once, within a deadline."""

import threading
import time

from .infer_output import prediction_rows


class PredictionTimedOut(Exception):
    """No answer within the deadline (answered 504)."""


class PredictionRaised(Exception):
    """predict() raised (answered 500); the message names the exception."""

    def __init__(self, cause: BaseException):
        message = " ".join(str(cause).split())
        super().__init__(f"predict() raised {type(cause).__name__}: {message}")
        self.cause = cause


class Predictor:
    def __init__(self, model, *, workers: int, timeout_seconds: float, max_batch_size: int):
        self._model = model
        self._timeout_seconds = timeout_seconds
        self._max_batch_size = max_batch_size
        # Held by a request's prediction thread from before its first batch until after its last, so at
        # most `workers` requests are inside predict() at once and the others wait here.
        self._slots = threading.BoundedSemaphore(workers)

    def predict(self, model_input, row_count: int) -> list:
        """One prediction per row, or PredictionTimedOut / PredictionRaised / PredictionOutputError."""
        deadline = time.monotonic() + self._timeout_seconds
        if not self._slots.acquire(timeout=self._timeout_seconds):
            raise PredictionTimedOut()
        job = _PredictionJob(self._model, model_input, row_count, self._max_batch_size, self._slots)
        # A daemon thread, so the caller can stop waiting: Python cannot interrupt a running predict().
        # After a timeout the thread runs on until predict() returns (keeping its worker slot, since it
        # is still using the CPU) and is dropped then; a stuck one does not keep the server from exiting.
        threading.Thread(target=job.run, name="refit-predict", daemon=True).start()
        if not job.finished.wait(max(0.0, deadline - time.monotonic())):
            job.abandoned = True  # skip the batches not started yet
            raise PredictionTimedOut()
        if job.error is not None:
            raise job.error
        return job.rows


class _PredictionJob:
    def __init__(self, model, model_input, row_count, max_batch_size, slots):
        self._model = model
        self._model_input = model_input
        self._row_count = row_count
        self._max_batch_size = max_batch_size
        self._slots = slots
        self.finished = threading.Event()
        self.abandoned = False
        self.rows = []
        self.error = None

    def run(self) -> None:
        try:
            for start in range(0, self._row_count, self._max_batch_size):
                if self.abandoned:
                    return
                stop = min(start + self._max_batch_size, self._row_count)
                self.rows.extend(self._predict_rows(start, stop))
        except Exception as error:  # PredictionRaised, or PredictionOutputError for a wrong return value
            self.error = error
        finally:
            self._slots.release()
            self.finished.set()

    def _predict_rows(self, start: int, stop: int) -> list:
        batch = _rows_between(self._model_input, start, stop)
        try:
            returned = self._model.predict(batch)
        except BaseException as error:  # SystemExit too: it would otherwise end this thread silently
            raise PredictionRaised(error) from error
        return prediction_rows(returned, stop - start)


def _rows_between(model_input, start: int, stop: int):
    if isinstance(model_input, dict):
        return {name: rows[start:stop] for name, rows in model_input.items()}
    return model_input[start:stop]
