"""Loading a model folder's model.py and finding its model class."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .errors import ConfigurationError
from .model import RefitModel

# model.py is always imported under this name, whatever the folder is called: pickle records a class
# as "<module>.<class>", so the build and the server must agree on the module's name.
USER_MODULE_NAME = "refit_user_model"
MODEL_FILE_NAME = "model.py"


def import_model_file(model_file: Path, module_name: str = USER_MODULE_NAME) -> ModuleType:
    """Import ``model_file`` as ``module_name``; exceptions raised by the file itself propagate."""
    code_dir = str(model_file.parent)
    # First on the path so that model.py's sibling modules win over installed ones of the same name.
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    spec = importlib.util.spec_from_file_location(module_name, model_file)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"{model_file} cannot be imported as Python: give it a .py file name")
    module = importlib.util.module_from_spec(spec)
    # Registered before running it, so that pickle (and dataclasses, typing) can find the module by name.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def model_classes_defined_in(module: ModuleType) -> list:
    """The RefitModel subclasses defined in ``module`` itself, in definition order.

    Subclasses that model.py imports (from a sibling file or a library) are left out: they are building
    blocks, and counting them would make "exactly one model class" fail for ordinary code.
    """
    found = []
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, RefitModel)
            and value is not RefitModel
            and value.__module__ == module.__name__
            and value not in found  # an alias (Model = MyModel) is the same class, not a second one
        ):
            found.append(value)
    return found


def select_model_class(module: ModuleType, model_file: Path, class_name=None) -> type:
    """The class to build: the only one defined in model.py, or the one named ``class_name``."""
    classes = model_classes_defined_in(module)
    names = ", ".join(cls.__name__ for cls in classes)
    if class_name is not None:
        for cls in classes:
            if cls.__name__ == class_name:
                return cls
        candidate = getattr(module, class_name, None)
        if isinstance(candidate, type) and issubclass(candidate, RefitModel):
            raise ConfigurationError(
                f"--model-class {class_name}: {model_file} imports {class_name} from "
                f"{candidate.__module__} but does not define it: define the model class in model.py"
            )
        defined = f"it defines {names}" if classes else "it defines no RefitModel subclass"
        raise ConfigurationError(
            f"--model-class {class_name}: {model_file} has no RefitModel subclass named "
            f"{class_name} ({defined}): pass one of those names"
        )
    if not classes:
        raise ConfigurationError(
            f"{model_file} defines no subclass of refit_sdk.RefitModel: define one, e.g. "
            "'class MyModel(RefitModel)' with build() and predict()"
        )
    if len(classes) > 1:
        raise ConfigurationError(
            f"{model_file} defines several RefitModel subclasses ({names}): pass --model-class "
            "with the one to build"
        )
    return classes[0]
