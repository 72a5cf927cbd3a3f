import sys
from pathlib import Path

# The tests import the SDK from this source tree, as a training script does with PYTHONPATH.
SDK_DIR = Path(__file__).resolve().parent.parent
if str(SDK_DIR) not in sys.path:
    sys.path.insert(0, str(SDK_DIR))
