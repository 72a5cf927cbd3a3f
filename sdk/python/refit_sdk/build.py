"""``python -m refit_sdk.build``: train a model folder's model and write its artifact.

Exit codes: 0 built; 1 the model's own code raised (traceback, then a ``refit-build-error:`` line);
2 the folder or the command line needs fixing (one ``refit-build-error:`` line).
"""

import sys
from pathlib import Path

from .artifact import write_artifact
from .cli import OneLineErrorParser
from .errors import ConfigurationError
from .user_code import MODEL_FILE_NAME, import_model_file, select_model_class

EXIT_BUILT = 0
EXIT_MODEL_CODE_FAILED = 1
EXIT_CONFIGURATION = 2
ERROR_PREFIX = "refit-build-error:"


class ModelCodeFailed(Exception):
    """The model's own code raised; ``step`` says which part, for the last line of the output."""

    def __init__(self, step: str, cause: BaseException):
        super().__init__(step)
        self.step = step
        self.cause = cause


def parse_args(argv):
    parser = OneLineErrorParser(
        prog="python -m refit_sdk.build",
        description="Train the RefitModel in MODEL_DIR/MAIN_DIR/model.py and write its artifact.",
        error_prefix=ERROR_PREFIX,
    )
    parser.add_argument("--model-dir", required=True, help="the model's folder in the repository")
    parser.add_argument("--main-dir", default="main", help="the folder under --model-dir holding model.py")
    parser.add_argument("--artifact-dir", required=True, help="where to write code/, model.pkl, model.json")
    parser.add_argument("--model-class", help="the RefitModel subclass to build, when model.py defines several")
    return parser.parse_args(argv)


def build(model_dir: Path, main_dir_name: str, artifact_dir: Path, class_name=None):
    """Train and save the model; raises ConfigurationError or ModelCodeFailed."""
    main_dir = model_dir / main_dir_name
    model_file = main_dir / MODEL_FILE_NAME
    if not model_file.is_file():
        raise ConfigurationError(
            f"{model_file} not found: put the model's entry point in {MODEL_FILE_NAME} in the "
            "main folder, or pass the right --model-dir and --main-dir"
        )
    if artifact_dir.resolve().is_relative_to(main_dir.resolve()):
        raise ConfigurationError(
            f"--artifact-dir {artifact_dir} is inside the main folder {main_dir}, which the build copies "
            "into it: choose an artifact folder outside the model's code"
        )

    module = _run_model_code("importing model.py", import_model_file, model_file)
    model_class = select_model_class(module, model_file, class_name)
    model = _run_model_code(f"{model_class.__name__}()", model_class)
    _run_model_code("build()", model.build)
    return _run_model_code("saving the model", write_artifact, artifact_dir, main_dir, model)


def _run_model_code(step: str, function, *args):
    try:
        return function(*args)
    except ConfigurationError:
        raise
    except Exception as error:
        raise ModelCodeFailed(step, error) from error


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        metadata = build(Path(args.model_dir), args.main_dir, Path(args.artifact_dir), args.model_class)
    except ConfigurationError as error:
        print(f"{ERROR_PREFIX} {error}", file=sys.stderr)
        return EXIT_CONFIGURATION
    except ModelCodeFailed as failure:
        import traceback  # only on failure: it costs every build a few ms of start-up

        traceback.print_exception(failure.cause, file=sys.stderr)
        print(f"{ERROR_PREFIX} {_one_line(failure)}", file=sys.stderr)
        return EXIT_MODEL_CODE_FAILED
    print(f"refit-build: built {metadata.class_name} into {args.artifact_dir}")
    return EXIT_BUILT


def _one_line(failure: ModelCodeFailed) -> str:
    message = " ".join(str(failure.cause).split())  # the last line must stay one line
    text = f"{failure.step} raised {type(failure.cause).__name__}: {message}"
    if failure.step == "saving the model":
        text += " (keep what cannot be pickled out of self, or create it in initialize_model())"
    elif isinstance(failure.cause, ImportError):
        text += " (list the missing package in the model's requirements.txt)"
    return text


if __name__ == "__main__":
    sys.exit(main())
