"""The HTTP side of the model server: Open Inference Protocol (KServe v2) routes over http.server."""

import json
import re
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from ._version import __version__
from .infer_output import PredictionOutputError, output_tensor
from .infer_request import RequestError, parse_infer_request
from .predictor import PredictionRaised, PredictionTimedOut, Predictor
from .serving_metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, ServingMetrics

PLATFORM = "refit-python"
MAX_BODY_BYTES = 64 * 1024 * 1024
# Connections answered at once; beyond that a client gets 503 at once instead of a thread of its own.
MAX_CONNECTIONS = 256

_MODEL_PATH = r"/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?"
_SERVER_METADATA = re.compile(r"/v2/?")
_LIVE = re.compile(r"/v2/health/live")
_READY = re.compile(r"/v2/health/ready")
_MODEL_METADATA = re.compile(_MODEL_PATH)
_MODEL_READY = re.compile(_MODEL_PATH + r"/ready")
_MODEL_INFER = re.compile(_MODEL_PATH + r"/infer")
_METRICS = re.compile(r"/metrics")


@dataclass(frozen=True)
class ServedModel:
    name: str
    build_id: str
    variation: str
    daemon_mode: bool
    timeout_ms: int
    predictor: Predictor
    # Which pod answered (Kubernetes sets REFIT_POD_NAME from the pod's name), as the x-refit-pod header.
    pod_name: str = ""


class InFlightRequests:
    """Counts requests being answered, so shutdown can wait for them."""

    def __init__(self):
        self._count = 0
        self._changed = threading.Condition()

    def __enter__(self):
        with self._changed:
            self._count += 1

    def __exit__(self, *exc_info):
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def wait_until_idle(self, timeout_seconds: float) -> int:
        """Wait for the count to reach zero; returns how many are still running."""
        with self._changed:
            self._changed.wait_for(lambda: self._count == 0, timeout=timeout_seconds)
            return self._count


class InferenceServer(ThreadingHTTPServer):
    daemon_threads = True  # an idle keep-alive connection must not keep the process alive

    def __init__(self, host: str, port: int, served_model: ServedModel):
        if ":" in host:  # an IPv6 literal such as ::1
            self.address_family = socket.AF_INET6
        self.served_model = served_model
        self.metrics = ServingMetrics(served_model.name, served_model.variation, served_model.build_id)
        self.in_flight = InFlightRequests()
        self.draining = False
        self.connections = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__((host, port), InferenceRequestHandler)

    def process_request(self, request, client_address):
        if not self.connections.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            finally:
                self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.release()


class InferenceRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients send many small requests
    server_version = f"refit-serve/{__version__}"
    timeout = 120  # seconds an idle keep-alive connection may hold a thread

    server: InferenceServer

    def do_GET(self):
        with self.server.in_flight:
            self._answer_safely(self._answer_get, urlsplit(self.path).path)

    def do_POST(self):
        with self.server.in_flight:
            body = self._read_body()
            if body is not None:
                self._answer_safely(self._answer_post, urlsplit(self.path).path, body)

    def _answer_safely(self, answer, *args) -> None:
        # Without this, a bug here would drop the connection with no answer at all.
        try:
            answer(*args)
        except ConnectionError:  # the client went away; there is no one to answer
            self.close_connection = True
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            self._send_error_json(HTTPStatus.INTERNAL_SERVER_ERROR,
                                  f"internal server error: {type(error).__name__}: {error}")

    def _answer_get(self, path: str) -> None:
        served = self.server.served_model
        if _LIVE.fullmatch(path):
            self._send_json(HTTPStatus.OK, {"live": True})
        elif _METRICS.fullmatch(path):
            self._send_text(HTTPStatus.OK, self.server.metrics.exposition(), METRICS_CONTENT_TYPE)
        elif _READY.fullmatch(path):
            ready = not self.server.draining
            self._send_json(HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE, {"ready": ready})
        elif _SERVER_METADATA.fullmatch(path):
            self._send_json(HTTPStatus.OK, {"name": "refit", "version": __version__, "extensions": []})
        elif match := _MODEL_READY.fullmatch(path):
            if self._check_model(match):
                ready = not self.server.draining
                self._send_json(HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE,
                                {"name": served.name, "ready": ready})
        elif match := _MODEL_METADATA.fullmatch(path):
            if self._check_model(match):
                self._send_json(HTTPStatus.OK, {
                    "name": served.name,
                    "versions": [served.build_id],
                    "platform": PLATFORM,
                    "inputs": [],
                    "outputs": [],
                    # Reported only: whether the server runs detached is decided by the process
                    # manager that starts it, not by the server itself.
                    "parameters": {"daemon_mode": served.daemon_mode},
                })
        elif _MODEL_INFER.fullmatch(path):
            self._send_error_json(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes POST, not GET",
                                  extra_headers={"Allow": "POST"})
        else:
            self._send_not_found(path)

    def _answer_post(self, path: str, body: bytes) -> None:
        match = _MODEL_INFER.fullmatch(path)
        if match is None:
            if any(route.fullmatch(path) for route in (_LIVE, _READY, _METRICS, _SERVER_METADATA, _MODEL_READY, _MODEL_METADATA)):
                self._send_error_json(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes GET, not POST",
                                      extra_headers={"Allow": "GET"})
            else:
                self._send_not_found(path)
            return
        if not self._check_model(match):
            return
        # Counted whatever the outcome: an exception below still ends as a 500 (see _answer_safely).
        metrics = self.server.metrics
        self._status = HTTPStatus.INTERNAL_SERVER_ERROR
        self._batch_size = None
        started = time.monotonic()
        metrics.request_started()
        try:
            self._infer(body)
        finally:
            metrics.request_finished(int(self._status), time.monotonic() - started, self._batch_size)

    def _infer(self, body: bytes) -> None:
        served = self.server.served_model
        try:
            request = parse_infer_request(body)
            self._batch_size = request.batch_size
            rows = served.predictor.predict(request.model_input(), request.batch_size)
            output = output_tensor(rows)
        except RequestError as error:
            self._send_error_json(HTTPStatus.BAD_REQUEST, str(error))
            return
        except PredictionTimedOut:
            self._send_error_json(HTTPStatus.GATEWAY_TIMEOUT,
                                  f"prediction timed out after {served.timeout_ms} ms")
            return
        except PredictionRaised as error:
            # The traceback goes to the server's log, where the model's author can read it.
            traceback.print_exception(error.cause, file=sys.stderr)
            self._send_error_json(HTTPStatus.INTERNAL_SERVER_ERROR, str(error))
            return
        except PredictionOutputError as error:
            print(f"refit-serve: {error}", file=sys.stderr)
            self._send_error_json(HTTPStatus.INTERNAL_SERVER_ERROR, str(error))
            return
        response = {"model_name": served.name, "model_version": served.build_id}
        if request.id is not None:
            response["id"] = request.id
        response["outputs"] = [output]
        self._send_json(HTTPStatus.OK, response)

    def _check_model(self, match) -> bool:
        """True when the path names the served model (and its version, if given); else answers 404."""
        served = self.server.served_model
        name = unquote(match.group("name"))
        version = match.group("version")
        if name != served.name:
            self._send_error_json(HTTPStatus.NOT_FOUND,
                                  f"model {name!r} is not served here; this server serves {served.name!r}")
            return False
        if version is not None and unquote(version) != served.build_id:
            self._send_error_json(HTTPStatus.NOT_FOUND,
                                  f"model {name!r} has no version {unquote(version)!r}; "
                                  f"it serves version {served.build_id!r}")
            return False
        return True

    def _send_not_found(self, path: str) -> None:
        self._send_error_json(HTTPStatus.NOT_FOUND,
                              f"no route for {self.command} {path}: see the Open Inference Protocol's /v2 paths")

    def _read_body(self):
        """The request body, or None after answering why it cannot be read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # the unread chunks would be taken for the next request
            self._send_error_json(HTTPStatus.LENGTH_REQUIRED,
                                  "send the body with a Content-Length header (chunked bodies are not supported)")
            return None
        length_header = self.headers.get("Content-Length", "0")
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._send_error_json(HTTPStatus.BAD_REQUEST, f"Content-Length {length_header!r} is not a byte count")
            return None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._send_error_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                                  f"the body has {length} bytes; the limit is {MAX_BODY_BYTES}: send fewer rows per request")
            return None
        return self._read_within_deadline(length)

    def _read_within_deadline(self, length: int):
        """The body, read within the request timeout as a whole: a client that sends it slowly does not hold a thread."""
        timeout = self.server.served_model.timeout_ms / 1000
        deadline = time.monotonic() + timeout
        chunks = []
        remaining = length
        try:
            while remaining > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout
                self.connection.settimeout(left)
                chunk = self.rfile.read1(min(remaining, 1 << 20))
                if not chunk:
                    self.close_connection = True
                    return None
                chunks.append(chunk)
                remaining -= len(chunk)
        except (socket.timeout, TimeoutError):
            self.close_connection = True
            self._send_error_json(HTTPStatus.REQUEST_TIMEOUT,
                                  f"the body did not arrive within the request timeout ({self.server.served_model.timeout_ms} ms)")
            return None
        finally:
            self.connection.settimeout(self.timeout)
        return b"".join(chunks)

    def _send_error_json(self, status: HTTPStatus, message: str, extra_headers=None) -> None:
        self._send_json(status, {"error": message}, extra_headers)

    def _send_json(self, status: HTTPStatus, document: dict, extra_headers=None) -> None:
        self._send_text(status, json.dumps(document), "application/json", extra_headers)

    def _send_text(self, status: HTTPStatus, text: str, content_type: str, extra_headers=None) -> None:
        body = text.encode("utf-8")
        self._status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._send_refit_headers()
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        if self.server.draining:
            self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_refit_headers(self) -> None:
        served = self.server.served_model
        self.send_header("x-refit-build-id", served.build_id)
        self.send_header("x-refit-variation", served.variation)
        if served.pod_name:
            self.send_header("x-refit-pod", served.pod_name)

    def send_error(self, code, message=None, explain=None):
        # http.server's own errors (bad request line, unsupported method, ...) get the same JSON body and
        # headers as ours. The request may not have been read whole, so the connection ends here.
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._send_error_json(code, message or phrase)

    def log_message(self, format, *args):
        # No access log: predictions are frequent and the platform logs requests itself. Failures are
        # printed where they are handled.
        pass
