"""Running the SDK's commands as real subprocesses, the way Refit runs them."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SDK_DIR = Path(__file__).resolve().parent.parent
READY_PREFIX = "refit-serve: ready on http://"


def sdk_env(**extra) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "REFIT_METRICS_FILE"}
    env["PYTHONPATH"] = str(SDK_DIR)
    # The subprocesses import the SDK from the source tree; no __pycache__ should be left in it.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def write_files(folder: Path, files: dict) -> Path:
    """Write {relative path: source} under folder, dedenting each source."""
    for relative, source in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return folder


def run_build(model_dir: Path, artifact_dir: Path, *extra_args, env=None, main_dir="main"):
    return subprocess.run(
        [sys.executable, "-m", "refit_sdk.build", "--model-dir", str(model_dir), "--main-dir", main_dir,
         "--artifact-dir", str(artifact_dir), *extra_args],
        env=env or sdk_env(), capture_output=True, text=True, timeout=120,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServerProcess:
    """``python -m refit_sdk.serve`` on a free port; output goes to files so no pipe can fill up."""

    def __init__(self, artifact_dir: Path, log_dir: Path, *args, model_name="probe", port=None):
        self.port = port or free_port()
        self.model_name = model_name
        log_dir.mkdir(parents=True, exist_ok=True)
        # Numbered, not named after the port: two servers of one test may be given the same port.
        number = len(list(log_dir.glob("serve-*.out")))
        self.stdout_path = log_dir / f"serve-{number}.out"
        self.stderr_path = log_dir / f"serve-{number}.err"
        with open(self.stdout_path, "w") as stdout, open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "refit_sdk.serve", "--artifact-dir", str(artifact_dir),
                 "--model-name", model_name, "--port", str(self.port), *args],
                env=sdk_env(), stdout=stdout, stderr=stderr,
            )

    def wait_until_ready(self, timeout=20.0) -> "ServerProcess":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY_PREFIX in self.stdout():
                return self
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}: {self.stderr()}")
            time.sleep(0.05)
        raise AssertionError(f"the server was not ready within {timeout} s: {self.stderr()}")

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def send_signal(self, signum=signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout=10.0) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Make sure the process is gone, whatever the test did."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def request(self, method, path, body=None, timeout=30.0):
        return http_request(self.port, method, path, body, timeout)

    def infer(self, document, timeout=30.0):
        return self.request("POST", f"/v2/models/{self.model_name}/infer", document, timeout)


class Response:
    def __init__(self, status: int, headers, raw: bytes):
        self.status = status
        self.headers = headers
        self.raw = raw

    def json(self):
        return json.loads(self.raw)


def http_request(port: int, method: str, path: str, body=None, timeout=30.0) -> Response:
    """One request on its own connection; a dict or list body is sent as JSON, bytes/str as they are."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()
