"""``python -m refit_sdk.cluster_build``: a whole build inside the pod of a Kubernetes Job.

The Job (activities/build/kubernetes/buildJob.ts) has cloned the commit into ``REFIT_MODEL_DIR`` and
copied crane and this package into ``REFIT_TOOLS_DIR``. This module then does what the local runner does
on the worker, and pushes the result as an OCI image:

Steps 1 and 2 run with ``REFIT_BUILD_STEP=build`` in an init container, step 3 with ``push`` in the pod's
last container: model code never runs where the registry's credentials are.

1. the dependencies: the layer ``<repository>/<model>:deps-<key>`` (key: the base image, its Python, the
   dependency file's name and bytes, this SDK) is taken from the registry when it is there (read without
   credentials), else ``pip install --target`` from the package index the worker names (``PIP_INDEX_URL``);
2. the model's tests, then ``refit_sdk.build`` (training), with the build's metrics in a file;
3. with ``REFIT_PUSH_IMAGE=true``: ``deps-<key>`` (the base image plus the dependency layer, pushed only
   when new) and ``<repository>/<model>:<build>`` (that plus a small layer with the artifact), by crane,
   which uploads only the blobs the registry lacks;
4. the result as a small JSON in the termination message (at most 4096 bytes, Kubernetes' limit) of the
   push container, or of the build container when the build failed: metrics, tests, the image's digest, or
   the error's type and message. No log scraping.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .build import ERROR_PREFIX

TERMINATION_LOG = "/dev/termination-log"
RESULT_LIMIT = 4096
ARTIFACT_PATH = "/opt/refit/artifact"
MANIFEST_FILE = "refit.yaml"
MANIFEST_KEYS = {"dependencies", "test_command", "model_class", "secrets"}
TAIL_LINES = 12
HANDOVER_FILE = "build-output.json"


class BuildError(Exception):
    """A build that cannot go on: ``type`` is the Refit error type the worker reports."""

    def __init__(self, type_: str, message: str):
        super().__init__(message)
        self.type = type_


@dataclass
class Settings:
    build_id: str
    model_id: str
    model_dir: Path
    main_dir: str
    work_dir: Path
    tools_dir: Path
    base_image: str
    image_repository: str
    push_image: bool
    insecure_registry: bool
    secrets_dir: Path
    dependency_file: str | None
    secret_env_keys: list[str] = field(default_factory=list)

    @classmethod
    def from_env(cls, env) -> "Settings":
        def need(name):
            value = env.get(name)
            if not value:
                raise BuildError("RefitWorkerSetup", f"the build pod lacks {name}: its Job was not made by this Refit")
            return value

        return cls(
            build_id=need("REFIT_BUILD_ID"),
            model_id=need("REFIT_MODEL_ID"),
            model_dir=Path(need("REFIT_MODEL_DIR")),
            main_dir=env.get("REFIT_MAIN_DIR") or "main",
            work_dir=Path(need("REFIT_WORK_DIR")),
            tools_dir=Path(need("REFIT_TOOLS_DIR")),
            base_image=need("REFIT_BASE_IMAGE"),
            image_repository=need("REFIT_IMAGE_REPOSITORY").rstrip("/"),
            push_image=env.get("REFIT_PUSH_IMAGE", "true") == "true",
            insecure_registry=env.get("REFIT_REGISTRY_INSECURE") == "true",
            secrets_dir=Path(env.get("REFIT_SECRETS_DIR") or "/var/run/refit/secrets"),
            dependency_file=env.get("REFIT_DEPENDENCY_FILE") or None,
            secret_env_keys=[key for key in (env.get("REFIT_SECRET_ENV_KEYS") or "").split(",") if key],
        )


def inside(root: Path, relative: str, what: str) -> Path:
    """``relative`` under ``root``, refusing anything (``..``, absolute paths, symlinks) that leaves it."""
    candidate = (root / relative).resolve()
    if candidate != root.resolve() and root.resolve() not in candidate.parents:
        raise BuildError("RefitInvalidDefinition", f"{what} {relative!r} leaves the model folder")
    return candidate


def read_manifest(model_dir: Path) -> dict:
    """refit.yaml, checked as the worker checks it (activities/build/modelManifest.ts); {} without one."""
    file = model_dir / MANIFEST_FILE
    if not file.is_file():
        return {}
    import yaml  # the runtime image's python3-yaml, copied into the tools folder

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else "unreadable"
        raise BuildError("RefitInvalidDefinition", f"{MANIFEST_FILE} in the model folder is not valid YAML: {first}") from None
    if not isinstance(data, dict):
        raise BuildError("RefitInvalidDefinition", f"{MANIFEST_FILE} in the model folder must be a mapping")
    unknown = sorted(set(data) - MANIFEST_KEYS)
    if unknown:
        raise BuildError("RefitInvalidDefinition", f"{MANIFEST_FILE} in the model folder: unknown key(s) {', '.join(unknown)}")
    command = data.get("test_command")
    if command is not None and (not isinstance(command, list) or not command or not all(isinstance(part, str) for part in command)):
        raise BuildError("RefitInvalidDefinition", f"{MANIFEST_FILE} test_command must be a list of strings")
    secrets = data.get("secrets") or {}
    if not isinstance(secrets, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()):
        raise BuildError("RefitInvalidDefinition", f"{MANIFEST_FILE} secrets must map environment variable names to secret names")
    return {**data, "secrets": secrets}


def find_dependency_file(model_dir: Path, main_dir: str, explicit: str | None, manifest: dict) -> Path | None:
    """The automation's dependency_file_path, the manifest's, or the first conventional one."""
    chosen = explicit or manifest.get("dependencies")
    if chosen:
        file = inside(model_dir, chosen, "dependency_file_path" if explicit else f"{MANIFEST_FILE} dependencies")
        if not file.is_file():
            raise BuildError("RefitModelFolderNotFound", f'the dependency file "{chosen}" (dependency_file_path) does not exist in the model folder')
        return file
    for candidate in (f"{main_dir}/requirements.txt", "requirements.txt", "pyproject.toml"):
        file = inside(model_dir, candidate, "the dependency file")
        if file.is_file():
            return file
    return None


def tree_digest(root: Path, pattern: str = "*.py") -> str:
    digest = hashlib.sha256()
    for file in sorted(root.rglob(pattern)):
        digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def dependency_key(base_image: str, python: str, dependency_file: Path | None, sdk_digest: str) -> str:
    """What the dependency layer is a function of: the same inputs give the same tag, so later builds reuse it."""
    digest = hashlib.sha256()
    for part in (base_image, python, sdk_digest):
        digest.update(part.encode() + b"\0")
    if dependency_file:
        digest.update(dependency_file.name.encode() + b"\0" + dependency_file.read_bytes())
    return digest.hexdigest()[:16]


def layer_tar(source: Path, at: str, out_file: Path) -> None:
    """A layer holding ``source``'s contents under ``at``: sorted, owned by root, mtime 0, so equal trees give equal bytes."""

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 0
        return info

    with tarfile.open(out_file, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(str(source), arcname=at.strip("/"), filter=normalise)


def extract_layer(stream, destination: Path) -> None:
    """Unpacks a gzipped layer blob, refusing members that would land outside ``destination``."""
    with tarfile.open(fileobj=stream, mode="r|gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
            return
        for member in tar:
            target = (destination / member.name).resolve()
            if destination.resolve() not in target.parents or member.issym() or member.islnk() or member.isdev():
                continue
            tar.extract(member, destination)


def latest_metrics(metrics_file: Path) -> dict:
    """The last value logged for each metric (what the local metric source reads)."""
    metrics = {}
    if not metrics_file.is_file():
        return metrics
    for line in metrics_file.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("name"), str) and isinstance(record.get("value"), (int, float)):
            metrics[record["name"]] = record["value"]
    return metrics


def result_message(result: dict) -> str:
    """The result as JSON within Kubernetes' 4096-byte termination message: long messages and metrics are cut first."""
    text = json.dumps(result, separators=(",", ":"))
    if len(text.encode()) <= RESULT_LIMIT:
        return text
    trimmed = dict(result)
    if "message" in trimmed:
        trimmed["message"] = trimmed["message"][-1500:]
    metrics = dict(trimmed.get("metrics") or {})
    while metrics and len(json.dumps({**trimmed, "metrics": metrics}).encode()) > RESULT_LIMIT - 64:
        metrics.pop(sorted(metrics)[-1])
    trimmed["metrics"] = metrics
    trimmed["truncated"] = True
    return json.dumps(trimmed, separators=(",", ":"))


class Step:
    """Runs a command with its output on the pod's log (secret values masked), keeping the last lines for errors."""

    def __init__(self, mask: list[str]):
        self.mask = [value for value in mask if value]

    def scrub(self, text: str) -> str:
        for value in self.mask:
            text = text.replace(value, "***")
        return text

    def run(self, command: list[str], env: dict, cwd: Path) -> tuple[int, str]:
        tail = deque(maxlen=TAIL_LINES)
        process = subprocess.Popen(command, env=env, cwd=str(cwd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        assert process.stdout is not None
        for line in process.stdout:
            line = self.scrub(line.rstrip("\n"))
            tail.append(line)
            print(line, flush=True)
        return process.wait(), "\n".join(tail)


class Crane:
    def __init__(self, binary: Path, insecure: bool):
        self.binary = str(binary)
        self.flags = ["--insecure"] if insecure else []

    def __call__(self, *args: str, stdout=None) -> str:
        try:
            completed = subprocess.run([self.binary, *args, *self.flags], stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE, text=stdout is None)
        except OSError as err:
            raise BuildError("RefitWorkerSetup", f"crane ({self.binary}) cannot run: {err}; the build's tools come from Refit's runtime image") from None
        if completed.returncode != 0:
            detail = completed.stderr if isinstance(completed.stderr, str) else completed.stderr.decode(errors="replace")
            raise BuildError("RefitBuildFailed", f"crane {args[0]} failed: {detail.strip()[-800:]}")
        return completed.stdout.strip() if stdout is None else ""

    def digest(self, reference: str) -> str | None:
        try:
            return self("digest", reference)
        except BuildError:
            return None


def section(title: str) -> None:
    print(f"\n== {title} ({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}) ==", flush=True)


def build(settings: Settings, env: dict) -> dict:
    started = time.monotonic()
    model_dir = settings.model_dir
    if not (model_dir / settings.main_dir).is_dir():
        raise BuildError(
            "RefitModelFolderNotFound",
            f'main_dir "{settings.main_dir}" does not exist in the model folder; it should hold model.py (set main_dir if the code is elsewhere)',
        )
    manifest = read_manifest(model_dir)
    secret_values = [env.get(key, "") for key in settings.secret_env_keys]
    model_env = {}
    for key, secret in manifest["secrets"].items() if manifest else []:
        file = settings.secrets_dir / secret
        if not file.is_file():
            raise BuildError(
                "RefitInvalidDefinition",
                f'{MANIFEST_FILE} in the model folder asks for secret "{secret}" (as {key}), which the automation does not grant to its '
                "repository: if the build should have it, list it in action.build_spec.secrets",
            )
        model_env[key] = file.read_text(encoding="utf-8")
        secret_values.append(model_env[key])
    step = Step(secret_values)
    work = settings.work_dir
    work.mkdir(parents=True, exist_ok=True)
    crane = Crane(settings.tools_dir / "crane", settings.insecure_registry)
    sdk_dir = settings.tools_dir / "python" / "refit_sdk"
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    purelib = sysconfig.get_paths()["purelib"]

    dependency_file = find_dependency_file(model_dir, settings.main_dir, settings.dependency_file, manifest)
    key = dependency_key(settings.base_image, python, dependency_file, tree_digest(sdk_dir))
    repository = f"{settings.image_repository}/{settings.model_id}"
    dependencies_ref = f"{repository}:deps-{key}"
    dependencies_dir = work / "dependencies"
    dependencies = "installed"
    section(f"dependencies (layer {dependencies_ref})")
    if crane.digest(dependencies_ref):
        manifest_json = json.loads(crane("manifest", dependencies_ref))
        blob = manifest_json["layers"][-1]["digest"]
        print(f"reusing the dependency layer {blob} of {dependencies_ref}", flush=True)
        unpacked = work / "dependency-layer"
        unpacked.mkdir(exist_ok=True)
        blob_file = work / "dependency-layer.tar.gz"
        with open(blob_file, "wb") as out:
            crane("blob", f"{repository}@{blob}", stdout=out)
        with open(blob_file, "rb") as stream:
            extract_layer(stream, unpacked)
        blob_file.unlink()
        dependencies_dir = unpacked / purelib.strip("/")
        dependencies = "reused"
    else:
        dependencies_dir.mkdir(exist_ok=True)
        if dependency_file:
            if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
                raise BuildError("RefitDependencyInstallFailed", f"the base image {settings.base_image} has no pip (python3 -m pip), which installs the dependencies")
            target = ["-r", str(dependency_file)] if dependency_file.suffix == ".txt" else [str(dependency_file.parent)]
            print(f"installing {dependency_file.relative_to(model_dir)} from {env.get('PIP_INDEX_URL') or 'the default index'}", flush=True)
            command = [sys.executable, "-m", "pip", "install", "--no-input", "--progress-bar", "off", "--no-warn-script-location", "--target", str(dependencies_dir), *target]
            code, tail = step.run(command, env, model_dir)
            if code != 0:
                raise BuildError("RefitDependencyInstallFailed", f"installing {dependency_file.name} failed (exit {code}); the end of the build log:\n{tail}")
        else:
            print("no dependency file: the base image's packages only", flush=True)
        # The served image runs refit_sdk.serve: the SDK goes with the dependencies, whatever the base image has.
        shutil.copytree(sdk_dir, dependencies_dir / "refit_sdk", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))

    model_python_path = os.pathsep.join([str(dependencies_dir), str(settings.tools_dir / "python")])
    run_env = {**env, **model_env, "PYTHONPATH": model_python_path, "PYTHONDONTWRITEBYTECODE": "1"}
    output = work / "out"
    artifact_dir = output / "artifact"
    shutil.rmtree(output, ignore_errors=True)
    artifact_dir.mkdir(parents=True)

    tests = "none"
    if (model_dir / "tests").is_dir():
        has_pytest = subprocess.run([sys.executable, "-c", "import pytest"], env=run_env, capture_output=True).returncode == 0
        command = manifest.get("test_command") or (
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"] if has_pytest else [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-v"]
        )
        section(f"running the tests: {' '.join(command)}")
        code, tail = step.run(command, {**run_env, "REFIT_METRICS_FILE": str(output / "test-metrics.jsonl")}, model_dir)
        if code != 0:
            raise BuildError("RefitTestsFailed", f"the model's tests failed (exit {code}), so it was not built; the end of the build log:\n{tail}")
        tests = "passed"

    section("building (training) the model")
    metrics_file = output / "metrics.jsonl"
    command = [sys.executable, "-m", "refit_sdk.build", "--model-dir", str(model_dir), "--main-dir", settings.main_dir, "--artifact-dir", str(artifact_dir)]
    if manifest.get("model_class"):
        command += ["--model-class", manifest["model_class"]]
    code, tail = step.run(command, {**run_env, "REFIT_METRICS_FILE": str(metrics_file), "REFIT_ARTIFACT_DIR": str(artifact_dir)}, model_dir)
    if code != 0:
        reported = [line for line in tail.splitlines() if line.startswith(ERROR_PREFIX)]
        detail = reported[-1][len(ERROR_PREFIX) :].strip() if reported else f"exit {code}; the end of the build log:\n{tail}"
        raise BuildError("RefitBuildFailed", f"the build failed: {detail}")
    result = {"ok": True, "metrics": latest_metrics(metrics_file), "tests": tests, "dependencies": dependencies}
    result["durationMs"] = round((time.monotonic() - started) * 1000)
    # What the push step needs; it runs in a container of its own, the only one with the registry credentials.
    handover = {
        "result": result,
        "dependencies_dir": str(dependencies_dir),
        "site_packages": purelib,
        "artifact_dir": str(artifact_dir),
        "dependencies_ref": dependencies_ref,
    }
    (work / HANDOVER_FILE).write_text(json.dumps(handover), encoding="utf-8")
    return result


def push(settings: Settings) -> dict:
    """Pushes what the build step left (the model's code never runs here, so it never sees the registry's credentials)."""
    started = time.monotonic()
    work = settings.work_dir
    handover_file = work / HANDOVER_FILE
    if not handover_file.is_file():
        raise BuildError("RefitBuildFailed", "the build step left no result for the push step")
    handover = json.loads(handover_file.read_text(encoding="utf-8"))
    result = dict(handover["result"])
    if not settings.push_image:
        return result
    crane = Crane(settings.tools_dir / "crane", settings.insecure_registry)
    repository = f"{settings.image_repository}/{settings.model_id}"
    dependencies_ref = handover["dependencies_ref"]
    section(f"pushing {repository}:{settings.build_id}")
    if result["dependencies"] != "reused":
        layer = work / "dependencies.tar"
        layer_tar(Path(handover["dependencies_dir"]), handover["site_packages"], layer)
        print(f"pushing the dependency layer ({layer.stat().st_size} bytes unpacked) as {dependencies_ref}", flush=True)
        crane("append", "--base", settings.base_image, "--new_layer", str(layer), "--new_tag", dependencies_ref)
        layer.unlink()
        result["dependencies"] = "pushed"
    layer = work / "artifact.tar"
    layer_tar(Path(handover["artifact_dir"]), ARTIFACT_PATH, layer)
    reference = f"{repository}:{settings.build_id}"
    print(f"pushing the model layer ({layer.stat().st_size} bytes unpacked) as {reference}", flush=True)
    crane("append", "--base", dependencies_ref, "--new_layer", str(layer), "--new_tag", reference)
    digest = crane.digest(reference)
    if not digest:
        raise BuildError("RefitBuildFailed", f"the registry does not show {reference} after pushing it")
    result["image"] = {"reference": reference, "digest": digest, "artifactBytes": layer.stat().st_size}
    print(f"pushed {repository}@{digest}", flush=True)
    result["durationMs"] = result.get("durationMs", 0) + round((time.monotonic() - started) * 1000)
    return result


def write_result(result: dict) -> None:
    path = TERMINATION_LOG
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(result_message(result))
    except OSError as err:
        print(f"{ERROR_PREFIX} could not write the result to {path}: {err}", file=sys.stderr, flush=True)


def main() -> int:
    """``REFIT_BUILD_STEP=build`` (init container: model code, no credentials) or ``push`` (the last container)."""
    step = os.environ.get("REFIT_BUILD_STEP", "build")
    try:
        settings = Settings.from_env(os.environ)
        if step == "push":
            write_result(push(settings))
            return 0
        build(settings, dict(os.environ))
    except BuildError as err:
        print(f"{ERROR_PREFIX} {err}", flush=True)
        write_result({"ok": False, "type": err.type, "message": str(err)})
        return 1
    except Exception as err:  # noqa: BLE001 - whatever went wrong is the build's result
        print(f"{ERROR_PREFIX} {type(err).__name__}: {err}", flush=True)
        write_result({"ok": False, "type": "RefitBuildFailed", "message": f"the build pod failed: {type(err).__name__}: {err}"})
        return 1
    # A build that succeeded writes no result of its own: the push step reports it, image and all.
    return 0


if __name__ == "__main__":
    sys.exit(main())
