#!/usr/bin/env bash
# What a user would run from cron instead of Refit, for bench figure 8: the same job for the same model
# with the same SDK entry points, and nothing else (no orchestrator, no sandbox, no history). Clone the
# model's folder, install its dependencies, run its tests, train, read the metric, compare it with the
# threshold and, when it passes, restart the model server on the new artifact and wait until it answers.
# Settings come from the environment (the bench sets them): REPO_URL, GIT_TOKEN, SUBDIR, WORK, PYTHON,
# SDK_PATH, METRIC, THRESHOLD, MODEL_NAME, PORT and BRANCH (default main).
set -euo pipefail

src="$WORK/src"
model="$src/$SUBDIR"
rm -rf "$src" "$WORK/artifact.new" "$WORK/metrics.jsonl"
header="Authorization: Basic $(printf 'x-access-token:%s' "$GIT_TOKEN" | base64 -w0)"
authed_git() { git -c http.extraHeader="$header" "$@"; }
authed_git clone -q --depth 1 --branch "${BRANCH:-main}" --filter=blob:none --sparse "$REPO_URL" "$src"
authed_git -C "$src" sparse-checkout set "$SUBDIR"

# One virtual environment for the job, made the first time.
[ -x "$WORK/venv/bin/python" ] || "$PYTHON" -m venv "$WORK/venv"
venv_python="$WORK/venv/bin/python"
if [ -f "$model/requirements.txt" ]; then "$venv_python" -m pip install -q -r "$model/requirements.txt"; fi
if [ -d "$model/tests" ]; then (cd "$model" && PYTHONPATH="$SDK_PATH" "$venv_python" -m unittest discover -s tests -q); fi

REFIT_METRICS_FILE="$WORK/metrics.jsonl" PYTHONPATH="$SDK_PATH" \
  "$venv_python" -m refit_sdk.build --model-dir "$model" --artifact-dir "$WORK/artifact.new" > "$WORK/build.log" 2>&1
value="$(grep "\"name\": \"$METRIC\"" "$WORK/metrics.jsonl" | tail -n 1 | sed 's/.*"value": \([^,}]*\).*/\1/')"
if ! awk -v value="$value" -v threshold="$THRESHOLD" 'BEGIN { exit !(value > threshold) }'; then
  echo "not deployed: $METRIC $value is not above $THRESHOLD"
  exit 0
fi

# Restart the server on the new artifact.
if [ -f "$WORK/server.pid" ]; then
  kill "$(cat "$WORK/server.pid")" 2> /dev/null || true
  while kill -0 "$(cat "$WORK/server.pid")" 2> /dev/null; do sleep 0.05; done
fi
rm -rf "$WORK/artifact"
mv "$WORK/artifact.new" "$WORK/artifact"
PYTHONPATH="$SDK_PATH" nohup "$venv_python" -m refit_sdk.serve --artifact-dir "$WORK/artifact" --model-name "$MODEL_NAME" \
  --port "$PORT" > "$WORK/server.log" 2>&1 < /dev/null &
echo $! > "$WORK/server.pid"
until curl -sf "http://127.0.0.1:$PORT/v2/health/ready" > /dev/null; do sleep 0.05; done
echo "deployed: $METRIC $value is above $THRESHOLD"
