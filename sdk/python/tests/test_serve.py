"""``python -m refit_sdk.serve`` end to end: a real build, a real server process, real HTTP."""

import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import refit_sdk
from refit_test_support import ServerProcess, http_request, run_build, write_files

# Each row is [op, value]. op 0 answers at once, op 1 sleeps `value` ms first, op 2 raises, op 3 returns
# the wrong number of predictions. A prediction is [value + offset, rows in this predict() call, most
# predict() calls seen running at once], which lets the tests see batching and the worker limit.
PROBE_MODEL = """
    import threading
    import time

    from refit_sdk import RefitModel, log_metric


    class ArrayLike:
        # Stands in for a numpy array: the server must use .tolist().
        def __init__(self, values):
            self.values = values

        def tolist(self):
            return self.values


    class ProbeModel(RefitModel):
        def build(self):
            self.offset = 1000
            log_metric("accuracy", 1.0)

        def initialize_model(self):
            # A lock cannot be pickled, so predict() only works if this ran after unpickling.
            self.lock = threading.Lock()
            self.running = 0
            self.peak_running = 0

        def predict(self, inputs):
            if isinstance(inputs, dict):
                return tuple(sum(a) + b for a, b in zip(inputs["a"], inputs["b"]))
            with self.lock:
                self.running += 1
                self.peak_running = max(self.peak_running, self.running)
            try:
                for op, value in inputs:
                    if op == 1:
                        time.sleep(value / 1000)
                    elif op == 2:
                        raise ValueError(f"row asked to fail with {value}")
                    elif op == 3:
                        return [0]
                return ArrayLike([[value + self.offset, len(inputs), self.peak_running] for _, value in inputs])
            finally:
                with self.lock:
                    self.running -= 1
"""


def rows_request(rows, request_id=None):
    document = {"inputs": [{"name": "rows", "shape": [len(rows), 2], "datatype": "INT64",
                            "data": [x for row in rows for x in row]}]}
    if request_id is not None:
        document["id"] = request_id
    return document


@pytest.fixture(scope="module")
def artifact_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    write_files(root / "model", {"main/model.py": PROBE_MODEL})
    result = run_build(root / "model", root / "artifact")
    assert result.returncode == 0, result.stderr
    return root / "artifact"


@pytest.fixture
def start_server(artifact_dir, tmp_path):
    started = []

    def start(*args, artifact=None, port=None):
        server = ServerProcess(artifact or artifact_dir, tmp_path / "logs", *args, port=port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def server(artifact_dir, tmp_path_factory):
    """One server shared by the tests that do not stop it or tie up its workers."""
    process = ServerProcess(artifact_dir, tmp_path_factory.mktemp("logs"), "--workers", "2",
                            "--max-batch-size", "2", "--timeout-ms", "5000", "--build-id", "build-42",
                            "--variation", "B", "--daemon-mode", "true")
    try:
        yield process.wait_until_ready()
    finally:
        process.stop()


def test_ready_line_is_printed_once_with_the_address(server):
    assert server.stdout().splitlines() == [f"refit-serve: ready on http://127.0.0.1:{server.port}"]


@pytest.mark.parametrize("path, expected", [
    ("/v2/health/live", {"live": True}),
    ("/v2/health/ready", {"ready": True}),
    ("/v2", {"name": "refit", "version": refit_sdk.__version__, "extensions": []}),
    ("/v2/models/probe", {"name": "probe", "versions": ["build-42"], "platform": "refit-python",
                          "inputs": [], "outputs": [], "parameters": {"daemon_mode": True}}),
    ("/v2/models/probe/ready", {"name": "probe", "ready": True}),
    ("/v2/models/probe/versions/build-42/ready", {"name": "probe", "ready": True}),
])
def test_health_and_metadata_endpoints(server, path, expected):
    response = server.request("GET", path)

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == expected


@pytest.mark.parametrize("method, path", [
    ("GET", "/v2/models/other"),
    ("GET", "/v2/models/other/ready"),
    ("POST", "/v2/models/other/infer"),
    ("GET", "/v2/models/probe/versions/build-7/ready"),
    ("GET", "/v1/models"),
])
def test_unknown_models_and_paths_are_404_with_a_message(server, method, path):
    body = rows_request([[0, 1]]) if method == "POST" else None
    response = server.request(method, path, body)

    assert response.status == 404
    assert response.json()["error"]
    assert response.headers["x-refit-build-id"] == "build-42"


def test_unknown_model_name_says_which_model_is_served(server):
    response = server.request("GET", "/v2/models/other")
    assert response.json() == {"error": "model 'other' is not served here; this server serves 'probe'"}


def test_every_response_carries_the_build_id_and_variation(server):
    responses = [
        server.request("GET", "/v2/health/live"),
        server.request("GET", "/nowhere"),
        server.infer(rows_request([[0, 1]])),
        server.infer(b"{not json"),
        server.request("PUT", "/v2"),  # answered by http.server itself
    ]
    for response in responses:
        assert (response.headers["x-refit-build-id"], response.headers["x-refit-variation"]) == ("build-42", "B")
    assert [response.status for response in responses] == [200, 404, 200, 400, 501]


def test_infer_returns_the_v2_response(server):
    response = server.infer(rows_request([[0, 1], [0, 2]], request_id="req-1"))

    assert response.status == 200
    body = response.json()
    assert list(body) == ["model_name", "model_version", "id", "outputs"]
    assert body["model_name"] == "probe"
    assert body["model_version"] == "build-42"
    assert body["id"] == "req-1"
    [output] = body["outputs"]
    assert output["name"] == "output-0"
    assert output["shape"] == [2, 3]
    assert output["datatype"] == "INT64"
    assert output["data"][0::3] == [1001, 1002]


def test_infer_without_an_id_answers_without_one(server):
    body = server.infer(rows_request([[0, 5]])).json()
    assert "id" not in body


def test_nested_data_is_reshaped_like_flat_data(server):
    nested = {"inputs": [{"name": "rows", "shape": [2, 2], "datatype": "INT64", "data": [[0, 7], [0, 8]]}]}
    flat = {"inputs": [{"name": "rows", "shape": [2, 2], "datatype": "INT64", "data": [0, 7, 0, 8]}]}

    assert server.infer(nested).json()["outputs"] == server.infer(flat).json()["outputs"]


def test_several_inputs_reach_predict_as_a_dict_and_floats_are_fp64(server):
    response = server.infer({"inputs": [
        {"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]},
        {"name": "b", "shape": [2], "datatype": "FP64", "data": [0.5, 0.25]},
    ]})

    assert response.status == 200, response.raw
    assert response.json()["outputs"] == [{"name": "output-0", "shape": [2], "datatype": "FP64", "data": [3.5, 7.25]}]


def test_batches_never_exceed_max_batch_size_and_keep_row_order(server):
    rows = [[0, value] for value in range(5)]
    output = server.infer(rows_request(rows)).json()["outputs"][0]

    values, batch_sizes = output["data"][0::3], output["data"][1::3]
    assert values == [1000, 1001, 1002, 1003, 1004]
    assert batch_sizes == [2, 2, 2, 2, 1]  # --max-batch-size 2: predict() saw 2, 2 and 1 rows


@pytest.mark.parametrize("body, message", [
    (b"{not json", "the request body is not valid JSON"),
    (b"[1, 2]", "the request body is a JSON array"),
    ({"inputs": []}, "the request has no inputs"),
    ({"id": "x"}, "the request has no inputs"),
    ({"inputs": [{"name": "rows", "shape": [2, 2], "datatype": "INT64", "data": [1, 2, 3]}]},
     "input 'rows': shape [2, 2] holds 4 values but \"data\" has 3"),
    ({"inputs": [{"name": "rows", "shape": [1, 2], "datatype": "FLOAT", "data": [1, 2]}]},
     "input 'rows': datatype 'FLOAT' is not supported; use one of BOOL, INT8"),
    ({"inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                 {"name": "b", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}]},
     "the inputs have different first (batch) dimensions (a [2], b [3])"),
    ({"inputs": [{"name": "rows", "shape": [1, 2], "datatype": "UINT8", "data": [1, 256]}]},
     "input 'rows': data element 1 (256) is out of range (0 to 255), as UINT8 requires"),
    ({"inputs": [{"name": "rows", "shape": [1, 2], "datatype": "INT64", "data": [1, "2"]}]},
     "data element 1 (\"2\") is not a number"),
    ({"inputs": [{"name": "rows", "shape": [], "datatype": "INT64", "data": [1]}]},
     "shape [] has no batch dimension"),
    ({"inputs": [{"name": "rows", "shape": [-1, 2], "datatype": "INT64", "data": [1, 2]}]},
     "\"shape\" must be an array of non-negative integers"),
])
def test_malformed_requests_are_400_with_a_precise_message(server, body, message):
    response = server.infer(body)

    assert response.status == 400
    assert message in response.json()["error"]


def test_an_exception_in_predict_is_500_naming_it(server):
    response = server.infer(rows_request([[0, 1], [2, 9]]))

    assert response.status == 500
    assert response.json() == {"error": "predict() raised ValueError: row asked to fail with 9"}
    assert "ValueError: row asked to fail with 9" in server.stderr()  # the traceback, for the author


def test_the_wrong_number_of_predictions_is_500_saying_so(server):
    response = server.infer(rows_request([[3, 0], [0, 0]]))

    assert response.status == 500
    assert response.json()["error"] == (
        "predict() returned 1 predictions for 2 input rows; return one prediction per row"
    )


def test_get_on_infer_is_405(server):
    response = server.request("GET", "/v2/models/probe/infer")
    assert response.status == 405
    assert response.headers["Allow"] == "POST"


def test_keep_alive_connections_serve_several_requests(server):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for value in (1, 2, 3):
            connection.request("POST", "/v2/models/probe/infer", body=json.dumps(rows_request([[0, value]])))
            response = connection.getresponse()
            assert json.loads(response.read())["outputs"][0]["data"][0] == 1000 + value
    finally:
        connection.close()


def test_at_most_workers_predictions_run_at_once(start_server):
    server = start_server("--workers", "2", "--timeout-ms", "10000").wait_until_ready()
    sleep_ms = 400

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=5) as pool:
        responses = list(pool.map(lambda _: server.infer(rows_request([[1, sleep_ms]])), range(5)))
    elapsed = time.monotonic() - started

    assert [response.status for response in responses] == [200] * 5
    peaks = [response.json()["outputs"][0]["data"][2] for response in responses]
    assert max(peaks) == 2  # two ran side by side, never three
    assert elapsed >= 3 * sleep_ms / 1000 * 0.95  # five requests, two at a time: three rounds


def test_a_slow_prediction_gets_504_and_does_not_block_shutdown(start_server):
    server = start_server("--timeout-ms", "300").wait_until_ready()

    started = time.monotonic()
    response = server.infer(rows_request([[1, 30_000]]))
    elapsed = time.monotonic() - started

    assert response.status == 504
    assert response.json() == {"error": "prediction timed out after 300 ms"}
    assert response.headers["x-refit-build-id"] == "local"
    assert 0.25 <= elapsed < 2.0
    # The abandoned prediction still sleeps in its thread; the server must exit anyway.
    assert server.request("GET", "/v2/health/live").status == 200
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=10) == 0


def test_a_request_waiting_for_a_worker_times_out_too(start_server):
    server = start_server("--workers", "1", "--timeout-ms", "500").wait_until_ready()
    with ThreadPoolExecutor(max_workers=2) as pool:
        hog = pool.submit(server.infer, rows_request([[1, 2000]]))
        time.sleep(0.1)
        waiting = server.infer(rows_request([[0, 1]]))
        assert hog.result().status == 504
    assert waiting.status == 504


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(start_server):
    server = start_server("--timeout-ms", "10000").wait_until_ready()
    result = {}
    in_flight = threading.Thread(target=lambda: result.update(response=server.infer(rows_request([[1, 1200]]))))
    in_flight.start()
    time.sleep(0.4)  # the request is inside predict() now

    server.send_signal(signal.SIGTERM)
    assert refuses_connections_soon(server.port)  # stops accepting...
    in_flight.join(timeout=10)  # ...but answers what it had already accepted

    assert result["response"].status == 200
    assert result["response"].json()["outputs"][0]["data"][0] == 2200
    assert server.wait(timeout=10) == 0
    assert server.stdout().splitlines()[-1] == "refit-serve: stopped (SIGTERM)"


def refuses_connections_soon(port, within_seconds=5.0) -> bool:
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        try:
            http_request(port, "GET", "/v2/health/live", timeout=1)
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_sigint_exits_0(start_server):
    server = start_server().wait_until_ready()
    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=10) == 0


def error_lines(server):
    return [line for line in server.stderr().splitlines() if line.startswith("refit-serve-error: ")]


def test_a_missing_artifact_exits_2_saying_what_to_pass(start_server, tmp_path):
    server = start_server(artifact=tmp_path / "nowhere")

    assert server.wait() == 2
    assert error_lines(server) == [
        f"refit-serve-error: artifact folder {tmp_path / 'nowhere'} not found: pass the --artifact-dir "
        "that refit_sdk.build wrote"
    ]
    assert "ready" not in server.stdout()


def test_an_initialize_model_that_raises_exits_2(start_server, tmp_path):
    write_files(tmp_path / "model", {"main/model.py": """
        from refit_sdk import RefitModel

        class NeedsAFile(RefitModel):
            def build(self):
                pass

            def initialize_model(self):
                raise FileNotFoundError("weights.bin is missing")
    """})
    assert run_build(tmp_path / "model", tmp_path / "artifact").returncode == 0
    server = start_server(artifact=tmp_path / "artifact")

    assert server.wait() == 2
    [line] = error_lines(server)
    assert "raised FileNotFoundError: weights.bin is missing" in line


def test_a_port_in_use_exits_2(server, start_server):
    second = start_server(port=server.port)

    assert second.wait() == 2
    [line] = error_lines(second)
    assert line.startswith(f"refit-serve-error: cannot listen on 127.0.0.1:{server.port} (")
    assert "choose a free --port" in line


def test_an_invalid_option_exits_2_with_one_line(start_server):
    server = start_server("--workers", "0")

    assert server.wait() == 2
    assert server.stderr().splitlines() == [
        "refit-serve-error: argument --workers: 0 is too small: use 1 or more (see --help)"
    ]


# Requests to a served model come from anyone who can reach it: a request that is cheap to send must be
# cheap to refuse.
@pytest.mark.parametrize("shape, message", [
    ([1_000_000_000, 0], "asks for 1000000000 rows; at most 1000000"),
    ([1000, 0, 0, 0, 100000], "describes more than 10000000 elements"),
    ([1] * 17, "has 17 dimensions; at most 16"),
    ([10, 10**12], "describes more than 10000000 elements"),
])
def test_a_shape_describing_too_much_is_refused_before_anything_is_built(server, shape, message):
    response = server.infer({"inputs": [{"name": "rows", "shape": shape, "datatype": "INT64", "data": []}]})

    assert response.status == 400
    assert message in response.json()["error"]


def test_a_body_sent_slowly_is_cut_off_at_the_request_timeout(start_server):
    import socket

    server = start_server("--timeout-ms", "500").wait_until_ready()
    body = json.dumps(rows_request([[0, 1]])).encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"POST /v2/models/probe/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:5])
        # The server answers and closes: read until it does (headers and body may come apart).
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
        answer = answer.decode()
    elapsed = time.monotonic() - started

    assert answer.startswith("HTTP/1.1 408")
    assert "did not arrive within the request timeout (500 ms)" in answer
    assert elapsed < 5  # the idle timeout of a connection is 120 s: the body's deadline ended it
    assert server.request("GET", "/v2/health/live").status == 200


def metric_samples(text):
    """{(name, labels): value} of a Prometheus text exposition (sample lines only)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        name, _, labels = series.partition("{")
        samples[(name, labels.rstrip("}"))] = float(value)
    return samples


def test_metrics_count_the_inference_requests_by_status_with_durations_and_batch_sizes(start_server):
    server = start_server("--build-id", "build-7", "--variation", "A").wait_until_ready()
    for rows in ([[0, 1]], [[0, 1], [0, 2], [0, 3]]):
        assert server.infer(rows_request(rows)).status == 200
    assert server.infer({"inputs": "not a list"}).status == 400
    assert server.request("GET", "/v2/health/ready").status == 200  # probes are not inference requests

    response = server.request("GET", "/metrics")

    assert response.status == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = metric_samples(response.raw.decode())
    base = 'model="probe",variation="A",build="build-7"'
    assert samples[("refit_requests_total", base + ',code="200"')] == 2
    assert samples[("refit_requests_total", base + ',code="400"')] == 1
    assert samples[("refit_request_duration_seconds_count", base)] == 3
    assert samples[("refit_request_duration_seconds_bucket", base + ',le="+Inf"')] == 3
    assert 0 < samples[("refit_request_duration_seconds_sum", base)] < 30
    assert samples[("refit_batch_size_count", base)] == 2
    assert samples[("refit_batch_size_bucket", base + ',le="1.0"')] == 1
    assert samples[("refit_batch_size_bucket", base + ',le="4.0"')] == 2
    assert samples[("refit_batch_size_sum", base)] == 4
    assert samples[("refit_requests_in_flight", base)] == 0
    assert samples[("process_resident_memory_bytes", "")] > 1_000_000
    assert samples[("process_cpu_seconds_total", "")] > 0
    buckets = [value for (name, labels), value in samples.items() if name == "refit_request_duration_seconds_bucket"]
    assert buckets == sorted(buckets)  # cumulative, as Prometheus reads them


def test_a_prediction_that_raises_counts_as_a_500(server):
    before = metric_samples(server.request("GET", "/metrics").raw.decode())
    key = ("refit_requests_total", 'model="probe",variation="B",build="build-42",code="500"')
    assert server.infer(rows_request([[2, 9]])).status == 500
    after = metric_samples(server.request("GET", "/metrics").raw.decode())
    assert after[key] == before.get(key, 0) + 1


def test_metrics_take_get_only(server):
    assert server.request("POST", "/metrics", {}).status == 405
