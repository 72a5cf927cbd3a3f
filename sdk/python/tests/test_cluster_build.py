"""``refit_sdk.cluster_build``'s parts, and a whole build without a registry (push_image false) as a real subprocess.

The push itself needs crane and a registry: the Kubernetes node tests run it in a real Job
(test/kubernetes/jobBuild.test.ts).
"""

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from refit_sdk import cluster_build
from refit_sdk.cluster_build import BuildError
from refit_test_support import SDK_DIR, write_files

MODEL = """
    from refit_sdk import RefitModel, log_metric

    class Tiny(RefitModel):
        def build(self):
            self.scale = 2
            log_metric("f1_score", 0.5)
            log_metric("f1_score", 0.75)
            print("trained with", __import__("os").environ.get("GREETING"))

        def predict(self, rows):
            return [row * self.scale for row in rows]
"""

TEST = """
    import unittest

    class TestTiny(unittest.TestCase):
        def test_runs(self):
            self.assertEqual(1 + 1, 2)
"""


def test_the_dependency_key_changes_with_each_input_and_only_then(tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==2.0.0\n")
    key = cluster_build.dependency_key("img:1", "3.11", requirements, "sdk1")
    assert key == cluster_build.dependency_key("img:1", "3.11", requirements, "sdk1")
    assert len(key) == 16
    others = {
        cluster_build.dependency_key("img:2", "3.11", requirements, "sdk1"),
        cluster_build.dependency_key("img:1", "3.12", requirements, "sdk1"),
        cluster_build.dependency_key("img:1", "3.11", requirements, "sdk2"),
        cluster_build.dependency_key("img:1", "3.11", None, "sdk1"),
    }
    requirements.write_text("numpy==2.0.1\n")
    others.add(cluster_build.dependency_key("img:1", "3.11", requirements, "sdk1"))
    assert key not in others and len(others) == 5


def test_layers_are_byte_for_byte_equal_for_equal_trees_and_sit_under_their_path(tmp_path):
    for name in ("a", "b"):
        write_files(tmp_path / name, {"pkg/__init__.py": "X = 1\n", "pkg/data.txt": "hello\n"})
        os.utime(tmp_path / name / "pkg" / "data.txt", (1000 if name == "a" else 2000,) * 2)
        cluster_build.layer_tar(tmp_path / name, "/usr/local/lib/python3.11/dist-packages", tmp_path / f"{name}.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    with tarfile.open(tmp_path / "a.tar") as tar:
        members = tar.getmembers()
    assert [member.name for member in members] == [
        "usr/local/lib/python3.11/dist-packages",
        "usr/local/lib/python3.11/dist-packages/pkg",
        "usr/local/lib/python3.11/dist-packages/pkg/__init__.py",
        "usr/local/lib/python3.11/dist-packages/pkg/data.txt",
    ]
    assert {(member.uid, member.gid, member.mtime) for member in members} == {(0, 0, 0)}


def gzipped_tar(members: dict) -> io.BytesIO:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return io.BytesIO(gzip.compress(raw.getvalue()))


def test_a_reused_layer_cannot_write_outside_its_folder(tmp_path):
    destination = tmp_path / "layer"
    destination.mkdir()
    hostile = gzipped_tar({"ok/file.py": b"x", "../escaped.py": b"y"})
    try:
        cluster_build.extract_layer(hostile, destination)
    except tarfile.TarError:
        pass  # Python's data filter refuses the whole layer; the fallback skips the member
    assert not (tmp_path / "escaped.py").exists()
    cluster_build.extract_layer(gzipped_tar({"ok/file.py": b"x"}), destination)
    assert (destination / "ok" / "file.py").read_bytes() == b"x"


def test_the_result_always_fits_the_termination_message():
    small = {"ok": True, "metrics": {"f1": 0.5}, "tests": "passed"}
    assert json.loads(cluster_build.result_message(small)) == small
    many = {"ok": True, "metrics": {f"metric_{i:04d}": i / 7 for i in range(400)}}
    message = cluster_build.result_message(many)
    assert len(message.encode()) <= cluster_build.RESULT_LIMIT
    parsed = json.loads(message)
    assert parsed["truncated"] is True and parsed["metrics"] and set(parsed["metrics"]) < set(many["metrics"])
    failed = cluster_build.result_message({"ok": False, "type": "RefitTestsFailed", "message": "x" * 10_000})
    assert len(failed.encode()) <= cluster_build.RESULT_LIMIT
    assert json.loads(failed)["type"] == "RefitTestsFailed"


def test_refit_yaml_is_checked_and_dependency_files_stay_in_the_model_folder(tmp_path):
    model = write_files(tmp_path / "m", {"main/model.py": "", "refit.yaml": "colour: blue\n"})
    with pytest.raises(BuildError, match="unknown key"):
        cluster_build.read_manifest(model)
    (model / "refit.yaml").write_text("test_command: pytest\n")
    with pytest.raises(BuildError, match="test_command must be a list"):
        cluster_build.read_manifest(model)
    (model / "refit.yaml").write_text("dependencies: ../../etc/passwd\n")
    with pytest.raises(BuildError, match="leaves the model folder"):
        cluster_build.find_dependency_file(model, "main", None, cluster_build.read_manifest(model))
    (model / "refit.yaml").write_text("secrets: {TOKEN: api_key}\n")
    assert cluster_build.read_manifest(model)["secrets"] == {"TOKEN": "api_key"}
    assert cluster_build.find_dependency_file(model, "main", None, {}) is None
    write_files(model, {"main/requirements.txt": "x\n", "requirements.txt": "y\n"})
    assert cluster_build.find_dependency_file(model, "main", None, {}) == (model / "main" / "requirements.txt").resolve()
    with pytest.raises(BuildError, match="does not exist"):
        cluster_build.find_dependency_file(model, "main", "nothing.txt", {})


def pod_env(tmp_path: Path, model: Path, **extra) -> dict:
    tools = tmp_path / "tools"
    (tools / "python").mkdir(parents=True)
    (tools / "python" / "refit_sdk").symlink_to(SDK_DIR / "refit_sdk")
    env = {key: value for key, value in os.environ.items() if not key.startswith("REFIT_")}
    env.update(
        PYTHONPATH=str(tools / "python"),
        PYTHONDONTWRITEBYTECODE="1",
        REFIT_BUILD_ID="b-1",
        REFIT_MODEL_ID="tiny",
        REFIT_MODEL_DIR=str(model),
        REFIT_MAIN_DIR="main",
        REFIT_WORK_DIR=str(tmp_path / "work"),
        REFIT_TOOLS_DIR=str(tools),
        REFIT_BASE_IMAGE="registry.invalid/refit/python:1",
        REFIT_IMAGE_REPOSITORY="registry.invalid/models",
        REFIT_PUSH_IMAGE="false",
        REFIT_SECRETS_DIR=str(tmp_path / "secrets"),
        **extra,
    )
    return env


def run_pod_build(env: dict, cwd: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """The build step, then (when it succeeded) the push step, as the pod's two containers run them."""
    result_file = cwd / "termination-log"
    result_file.unlink(missing_ok=True)
    code = f"import sys; from refit_sdk import cluster_build as c; c.TERMINATION_LOG = {str(result_file)!r}; sys.exit(c.main())"
    completed = subprocess.run([sys.executable, "-c", code], env={**env, "REFIT_BUILD_STEP": "build"}, cwd=cwd, capture_output=True, text=True, timeout=120)
    if completed.returncode == 0:
        assert not result_file.exists(), "a build step that succeeded leaves the result to the push step"
        pushed = subprocess.run([sys.executable, "-c", code], env={**env, "REFIT_BUILD_STEP": "push"}, cwd=cwd, capture_output=True, text=True, timeout=120)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    return completed, json.loads(result_file.read_text())


def test_a_build_without_push_runs_tests_and_training_and_reports_the_last_metrics(tmp_path):
    model = write_files(tmp_path / "model", {"main/model.py": MODEL, "tests/test_tiny.py": TEST})
    completed, result = run_pod_build(pod_env(tmp_path, model, GREETING="hello"), tmp_path)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert result["ok"] is True and result["tests"] == "passed"
    assert result["metrics"] == {"f1_score": 0.75}
    assert "image" not in result
    assert "trained with hello" in completed.stdout
    assert (tmp_path / "work" / "out" / "artifact" / "model.pkl").is_file()


def test_failing_tests_and_ungranted_secrets_come_back_as_typed_errors_with_secrets_masked(tmp_path):
    failing = TEST.replace("1 + 1, 2", "1 + 1, 3").replace("def test_runs(self):", "def test_runs(self):\n            print('token', __import__('os').environ['API_TOKEN'])")
    model = write_files(tmp_path / "model", {"main/model.py": MODEL, "tests/test_tiny.py": failing})
    env = pod_env(tmp_path, model, API_TOKEN="s3cr3t-value", REFIT_SECRET_ENV_KEYS="API_TOKEN")
    completed, result = run_pod_build(env, tmp_path)
    assert completed.returncode == 1
    assert result["ok"] is False and result["type"] == "RefitTestsFailed"
    assert "token ***" in completed.stdout and "s3cr3t-value" not in completed.stdout + json.dumps(result)

    (model / "tests" / "test_tiny.py").write_text(TEST.strip() + "\n")
    (model / "refit.yaml").write_text("secrets: {DB_PASSWORD: db_password}\n")
    completed, result = run_pod_build(env, tmp_path)
    assert result["type"] == "RefitInvalidDefinition"
    assert 'asks for secret "db_password"' in result["message"]
