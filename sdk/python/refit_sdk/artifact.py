"""The artifact folder: what a build writes and what the server loads.

    OUT/code/        a copy of the model's main folder (model.py and its siblings)
    OUT/model.pkl    the built model instance
    OUT/model.json   which module and class it is, and who built it

model.json is written last, so its presence marks a complete artifact.
"""

import json
import os
import pickle
import shutil
import sys
from collections import namedtuple
from pathlib import Path

from ._version import __version__
from .clock import utc_now_iso
from .errors import ConfigurationError
from .model import RefitModel
from .user_code import MODEL_FILE_NAME, import_model_file

CODE_DIR_NAME = "code"
PICKLE_FILE_NAME = "model.pkl"
METADATA_FILE_NAME = "model.json"


# A named tuple, not a dataclass: importing dataclasses (inspect, ast, dis) cost every build and every
# model server about a tenth of its interpreter's start-up CPU.
class ArtifactMetadata(namedtuple("ArtifactMetadata", ["module", "class_name", "python", "sdk_version", "built_at"])):
    __slots__ = ()

    def to_json(self) -> dict:
        # The file says "class"; the field cannot, as that is a Python keyword.
        return {"module": self.module, "class": self.class_name, "python": self.python,
                "sdk_version": self.sdk_version, "built_at": self.built_at}


def metadata_for(model_class: type) -> ArtifactMetadata:
    return ArtifactMetadata(
        module=model_class.__module__,
        class_name=model_class.__qualname__,
        python=_python_version(),
        sdk_version=__version__,
        built_at=utc_now_iso(),
    )


def write_artifact(artifact_dir: Path, main_dir: Path, model: RefitModel) -> ArtifactMetadata:
    """Save a built model; pickling errors propagate (they are the model's, not the folder's)."""
    artifact_dir.mkdir(parents=True, exist_ok=True)
    metadata_file = artifact_dir / METADATA_FILE_NAME
    metadata_file.unlink(missing_ok=True)  # until the new one is written, the folder is incomplete

    code_dir = artifact_dir / CODE_DIR_NAME
    if code_dir.exists():
        shutil.rmtree(code_dir)  # a file deleted from the model folder must not live on in the copy
    shutil.copytree(main_dir, code_dir, ignore=shutil.ignore_patterns("__pycache__"))

    _write_atomically(artifact_dir / PICKLE_FILE_NAME, pickle.dumps(model))
    metadata = metadata_for(type(model))
    _write_atomically(metadata_file, (json.dumps(metadata.to_json(), indent=2) + "\n").encode())
    return metadata


def read_metadata(artifact_dir: Path) -> ArtifactMetadata:
    metadata_file = artifact_dir / METADATA_FILE_NAME
    if not metadata_file.is_file():
        raise ConfigurationError(
            f"{metadata_file} not found: pass the --artifact-dir that refit_sdk.build wrote "
            "(the build may have failed)"
        )
    try:
        fields = json.loads(metadata_file.read_text(encoding="utf-8"))
        return ArtifactMetadata(
            module=fields["module"],
            class_name=fields["class"],
            python=fields["python"],
            sdk_version=fields["sdk_version"],
            built_at=fields["built_at"],
        )
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(
            f"{metadata_file} is not a valid artifact description ({type(error).__name__}: {error}): "
            "build the model again with refit_sdk.build"
        ) from None


def load_model(artifact_dir: Path) -> tuple:
    """Import the artifact's code, unpickle the model and initialize it: (model, metadata).

    Exceptions raised by the model's own code (its import, unpickling, initialize_model) propagate.
    """
    if not artifact_dir.is_dir():
        raise ConfigurationError(
            f"artifact folder {artifact_dir} not found: pass the --artifact-dir that refit_sdk.build wrote"
        )
    metadata = read_metadata(artifact_dir)
    model_file = artifact_dir / CODE_DIR_NAME / MODEL_FILE_NAME
    pickle_file = artifact_dir / PICKLE_FILE_NAME
    for required in (model_file, pickle_file):
        if not required.is_file():
            raise ConfigurationError(
                f"{required} not found: the artifact is incomplete; build the model again with refit_sdk.build"
            )
    _warn_on_python_mismatch(metadata)
    import_model_file(model_file, metadata.module)
    with open(pickle_file, "rb") as model_pickle:
        model = pickle.load(model_pickle)
    if not isinstance(model, RefitModel):
        raise ConfigurationError(
            f"{pickle_file} holds a {type(model).__name__}, not a RefitModel: build the model again "
            "with refit_sdk.build"
        )
    model.initialize_model()
    return model, metadata


def _warn_on_python_mismatch(metadata: ArtifactMetadata) -> None:
    # Pickles of compiled libraries (numpy, scikit-learn) often break across Python minor versions,
    # and the traceback that follows rarely says so.
    built = ".".join(metadata.python.split(".")[:2])
    running = ".".join(_python_version().split(".")[:2])
    if built != running:
        print(
            f"refit-serve: warning: the model was built with Python {metadata.python} and is served "
            f"with {_python_version()}; if loading fails, serve it with Python {built}",
            file=sys.stderr,
        )


def _python_version() -> str:
    # What platform.python_version() says ("3.11.7", "3.13.0rc1"), without importing platform.
    return sys.version.split()[0]


def _write_atomically(path: Path, content: bytes) -> None:
    # A crash mid-write must not leave a truncated file that a later step mistakes for a good one.
    # (Not tempfile.mkstemp: its files are private to the user, and the server may run as another.)
    temp_path = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp_path, "wb") as temp_file:
            temp_file.write(content)
        os.replace(temp_path, path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
