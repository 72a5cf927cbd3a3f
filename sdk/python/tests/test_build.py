"""``python -m refit_sdk.build`` on throwaway model folders, as real subprocesses."""

import json
import platform
import re

import refit_sdk
from refit_test_support import run_build, sdk_env, write_files

ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")

# A sibling module with a RefitModel subclass of its own: model.py imports it, which must neither fail
# (the main folder is on sys.path) nor count as a second model class.
SIBLING = """
    from refit_sdk import RefitModel

    SCALE = 3

    class ScaledModel(RefitModel):
        def predict(self, rows):
            return [row * self.scale for row in rows]
"""

MODEL = """
    from refit_sdk import RefitModel, log_metrics
    from scaling import SCALE, ScaledModel

    class TinyModel(ScaledModel):
        def build(self):
            self.scale = SCALE
            log_metrics({"f1_score": 0.75, "accuracy": 0.8})
            print("trained TinyModel")
"""


def one_error_line(result) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("refit-build-error: "), lines[0]
    return lines[0]


def test_a_build_writes_code_pickle_metadata_and_metrics(tmp_path):
    model_dir = write_files(tmp_path / "model", {"main/model.py": MODEL, "main/scaling.py": SIBLING,
                                                 "main/data/labels.txt": "a\nb\n",
                                                 "main/__pycache__/stale.cpython-311.pyc": "junk"})
    artifact_dir = tmp_path / "artifact"
    metrics_file = tmp_path / "metrics.jsonl"

    result = run_build(model_dir, artifact_dir, env=sdk_env(REFIT_METRICS_FILE=str(metrics_file)))

    assert result.returncode == 0, result.stderr
    assert "trained TinyModel" in result.stdout
    assert result.stderr == ""
    code = artifact_dir / "code"
    assert sorted(p.relative_to(code).as_posix() for p in code.rglob("*")) == [
        "data", "data/labels.txt", "model.py", "scaling.py"
    ]
    assert (artifact_dir / "model.pkl").stat().st_size > 0
    metadata = json.loads((artifact_dir / "model.json").read_text())
    assert list(metadata) == ["module", "class", "python", "sdk_version", "built_at"]
    assert metadata["module"] == "refit_user_model"
    assert metadata["class"] == "TinyModel"
    assert metadata["python"] == platform.python_version()
    assert metadata["sdk_version"] == refit_sdk.__version__
    assert ISO_UTC.fullmatch(metadata["built_at"])
    assert [(m["name"], m["value"]) for m in map(json.loads, metrics_file.read_text().splitlines())] == [
        ("f1_score", 0.75), ("accuracy", 0.8)
    ]


def test_model_class_picks_one_of_several_and_a_custom_main_dir_works(tmp_path):
    model_dir = write_files(tmp_path / "model", {"src/model.py": """
        from refit_sdk import RefitModel

        class First(RefitModel):
            def build(self):
                pass

        class Second(RefitModel):
            def build(self):
                pass
    """})
    result = run_build(model_dir, tmp_path / "artifact", "--model-class", "Second", main_dir="src")

    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "artifact" / "model.json").read_text())["class"] == "Second"


def test_a_missing_model_py_is_a_configuration_error(tmp_path):
    (tmp_path / "model" / "main").mkdir(parents=True)
    result = run_build(tmp_path / "model", tmp_path / "artifact")

    assert result.returncode == 2
    line = one_error_line(result)
    assert "main/model.py not found" in line and "--main-dir" in line


def test_a_model_py_without_a_model_class_is_a_configuration_error(tmp_path):
    model_dir = write_files(tmp_path / "model", {"main/model.py": """
        from refit_sdk import RefitModel  # imported, not subclassed

        class Helper:
            pass
    """})
    result = run_build(model_dir, tmp_path / "artifact")

    assert result.returncode == 2
    assert "defines no subclass of refit_sdk.RefitModel" in one_error_line(result)
    assert not (tmp_path / "artifact" / "model.json").exists()


def test_several_model_classes_without_model_class_is_a_configuration_error(tmp_path):
    model_dir = write_files(tmp_path / "model", {"main/model.py": """
        from refit_sdk import RefitModel

        class First(RefitModel):
            pass

        class Second(RefitModel):
            pass

        Alias = First  # the same class again: not a third one
    """})
    result = run_build(model_dir, tmp_path / "artifact")

    assert result.returncode == 2
    line = one_error_line(result)
    assert "several RefitModel subclasses (First, Second)" in line and "--model-class" in line


def test_an_unknown_model_class_is_a_configuration_error(tmp_path):
    model_dir = write_files(tmp_path / "model", {"main/model.py": MODEL, "main/scaling.py": SIBLING})

    unknown = run_build(model_dir, tmp_path / "artifact", "--model-class", "Missing")
    imported = run_build(model_dir, tmp_path / "artifact", "--model-class", "ScaledModel")

    assert unknown.returncode == 2
    assert "no RefitModel subclass named Missing (it defines TinyModel)" in one_error_line(unknown)
    assert imported.returncode == 2
    assert "imports ScaledModel from scaling but does not define it" in one_error_line(imported)


def test_bad_command_line_is_one_error_line(tmp_path):
    result = run_build(tmp_path, tmp_path / "artifact", "--unknown-flag")

    assert result.returncode == 2
    assert "unrecognized arguments: --unknown-flag" in one_error_line(result)


def test_an_artifact_dir_inside_the_main_folder_is_a_configuration_error(tmp_path):
    model_dir = write_files(tmp_path / "model", {"main/model.py": MODEL, "main/scaling.py": SIBLING})
    result = run_build(model_dir, model_dir / "main" / "out")

    assert result.returncode == 2
    assert "is inside the main folder" in one_error_line(result)


def test_build_raising_exits_1_with_the_traceback_and_a_last_error_line(tmp_path):
    model_dir = write_files(tmp_path / "model", {"main/model.py": """
        from refit_sdk import RefitModel, log_metric

        class Broken(RefitModel):
            def build(self):
                log_metric("accuracy", 0.1)
                raise RuntimeError("the training data is empty")
    """})
    metrics_file = tmp_path / "metrics.jsonl"
    result = run_build(model_dir, tmp_path / "artifact", env=sdk_env(REFIT_METRICS_FILE=str(metrics_file)))

    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert 'raise RuntimeError("the training data is empty")' in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "refit-build-error: build() raised RuntimeError: the training data is empty"
    )
    assert not (tmp_path / "artifact" / "model.json").exists()
    assert '"accuracy"' in metrics_file.read_text()  # logged before the crash, so kept


def test_a_model_without_build_says_which_class_needs_it(tmp_path):
    model_dir = write_files(tmp_path / "model", {"main/model.py": """
        from refit_sdk import RefitModel

        class Lazy(RefitModel):
            pass
    """})
    result = run_build(model_dir, tmp_path / "artifact")

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        "refit-build-error: build() raised NotImplementedError: Lazy.build() is not implemented"
    )


def test_a_model_py_that_fails_to_import_exits_1_and_names_requirements(tmp_path):
    model_dir = write_files(tmp_path / "model", {"main/model.py": """
        import package_that_is_not_installed
    """})
    result = run_build(model_dir, tmp_path / "artifact")

    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("refit-build-error: importing model.py raised ModuleNotFoundError:")
    assert "requirements.txt" in last


def test_an_unpicklable_model_exits_1_and_says_what_to_do(tmp_path):
    model_dir = write_files(tmp_path / "model", {"main/model.py": """
        import threading
        from refit_sdk import RefitModel

        class HoldsALock(RefitModel):
            def build(self):
                self.lock = threading.Lock()
    """})
    result = run_build(model_dir, tmp_path / "artifact")

    assert result.returncode == 1
    last = result.stderr.splitlines()[-1]
    assert last.startswith("refit-build-error: saving the model raised TypeError:")
    assert "initialize_model()" in last
    assert not (tmp_path / "artifact" / "model.json").exists()
