"""``python -m refit_sdk.serve``: serve a built artifact over the Open Inference Protocol (KServe v2).

Prints ``refit-serve: ready on http://HOST:PORT`` once the model is loaded and the port is open. A model
that cannot be loaded gives a ``refit-serve-error:`` line on stderr and exit code 2. SIGTERM or SIGINT
stops accepting connections, lets the requests in flight finish (for up to DRAIN_SECONDS) and exits 0.
"""

import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from .artifact import load_model
from .cli import OneLineErrorParser, port_number, positive_int, true_or_false
from .errors import ConfigurationError
from .inference_server import InferenceServer, ServedModel
from .predictor import Predictor

EXIT_STOPPED = 0
EXIT_CANNOT_SERVE = 2
ERROR_PREFIX = "refit-serve-error:"
DRAIN_SECONDS = 5.0
DEFAULT_BUILD_ID = "local"  # what a server started by hand, outside a Refit build, calls its version


def parse_args(argv):
    parser = OneLineErrorParser(
        prog="python -m refit_sdk.serve",
        description="Serve a model built by refit_sdk.build over the Open Inference Protocol (KServe v2).",
        error_prefix=ERROR_PREFIX,
    )
    parser.add_argument("--artifact-dir", required=True, help="the folder refit_sdk.build wrote")
    parser.add_argument("--model-name", required=True, help="the name in /v2/models/{name}/...")
    parser.add_argument("--port", required=True, type=port_number, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="how many predictions may run at once (default 2)")
    parser.add_argument("--timeout-ms", type=positive_int, default=5000,
                        help="answer 504 to a request not answered in this time (default 5000)")
    parser.add_argument("--max-batch-size", type=positive_int, default=1,
                        help="the most rows one predict() call receives (default 1)")
    parser.add_argument("--build-id", default=DEFAULT_BUILD_ID, help="reported as the model's version")
    parser.add_argument("--variation", default="default", help="the A/B variation this server is")
    parser.add_argument("--daemon-mode", type=true_or_false, default=False, metavar="true|false",
                        help="reported in the model's metadata only")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        model, _metadata = load_model(Path(args.artifact_dir))
    except ConfigurationError as error:
        return _cannot_serve(str(error))
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        message = " ".join(str(error).split())
        return _cannot_serve(
            f"loading the model from {args.artifact_dir} raised {type(error).__name__}: {message} "
            "(the traceback above shows where; serve with the packages of the model's requirements.txt)"
        )

    served = ServedModel(
        name=args.model_name,
        build_id=args.build_id,
        variation=args.variation,
        daemon_mode=args.daemon_mode,
        timeout_ms=args.timeout_ms,
        pod_name=os.environ.get("REFIT_POD_NAME", ""),
        predictor=Predictor(model, workers=args.workers, timeout_seconds=args.timeout_ms / 1000,
                            max_batch_size=args.max_batch_size),
    )
    try:
        server = InferenceServer(args.host, args.port, served)
    except OSError as error:
        return _cannot_serve(
            f"cannot listen on {args.host}:{args.port} ({error.strerror or error}): choose a free --port "
            "or a --host of this machine"
        )
    return _serve_until_stopped(server, args.host)


def _serve_until_stopped(server: InferenceServer, host: str) -> int:
    stop_signal = []

    def request_stop(signum, _frame):
        # Only record it: the handler runs on the main thread between two bytecodes, where taking a lock
        # that the same thread may hold would deadlock.
        stop_signal.append(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="refit-accept")
    serving.start()
    port = server.server_address[1]
    url_host = f"[{host}]" if ":" in host else host
    print(f"refit-serve: ready on http://{url_host}:{port}", flush=True)

    while not stop_signal:
        time.sleep(0.1)

    server.draining = True
    server.shutdown()  # stop accepting: the accept loop ends...
    server.server_close()  # ...and new connections are refused rather than left waiting in the backlog
    still_running = server.in_flight.wait_until_idle(DRAIN_SECONDS)
    if still_running:
        print(f"refit-serve: {still_running} request(s) still running after {DRAIN_SECONDS:g} s; "
              "exiting without them", file=sys.stderr)
    print(f"refit-serve: stopped ({stop_signal[0]})", flush=True)
    return EXIT_STOPPED


def _cannot_serve(message: str) -> int:
    print(f"{ERROR_PREFIX} {message}", file=sys.stderr)
    return EXIT_CANNOT_SERVE


if __name__ == "__main__":
    sys.exit(main())
