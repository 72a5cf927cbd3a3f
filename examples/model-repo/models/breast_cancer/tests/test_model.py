"""Tests Refit runs before it builds the model; a failing test fails the build.

Run from models/breast_cancer with the SDK importable (Refit puts it on PYTHONPATH):
    python -m unittest discover -s tests
"""

import json
import os
import pickle
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "main"))

from sklearn.datasets import load_breast_cancer  # noqa: E402

from model import BreastCancerModel  # noqa: E402

KNOBS = ("TRAINING_FRACTION", "N_FEATURES", "TRAINING_DELAY_SECONDS", "SERVING_START_DELAY_SECONDS")


def build_small_model(**settings):
    """A model trained on a tenth of the training split, its metrics logged to a file of the test's own.

    Refit runs the tests with REFIT_METRICS_FILE set to the build's metrics file; the tests' metrics must
    not land there.
    """
    with tempfile.TemporaryDirectory() as folder:
        metrics_file = Path(folder) / "metrics.jsonl"
        # The build's knobs (quality: TRAINING_FRACTION, N_FEATURES; timing: the delays) may be set for the build; the
        # tests check the model's behaviour with their own settings, so the knobs are cleared here.
        environment = {key: value for key, value in os.environ.items() if key not in KNOBS}
        environment["REFIT_METRICS_FILE"] = str(metrics_file)
        with mock.patch.dict(os.environ, environment, clear=True):
            model = BreastCancerModel(training_fraction=0.1, **settings)
            model.build()
        metrics = {record["name"]: record["value"]
                   for record in map(json.loads, metrics_file.read_text().splitlines())}
    return model, metrics


class BreastCancerModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.features, cls.labels = load_breast_cancer(return_X_y=True)
        cls.rows = cls.features[:20].tolist()
        cls.model, cls.metrics = build_small_model()

    def test_predicts_one_class_per_row(self):
        predictions = list(self.model.predict(self.rows))

        self.assertEqual(len(predictions), len(self.rows))
        self.assertTrue(set(predictions) <= {0, 1}, predictions)

    def test_predictions_mostly_match_the_labels(self):
        predictions = list(self.model.predict(self.rows))
        correct = sum(int(p == label) for p, label in zip(predictions, self.labels[:20]))
        self.assertGreaterEqual(correct, 16)

    def test_logs_the_four_metrics_between_0_and_1(self):
        self.assertEqual(sorted(self.metrics), ["accuracy", "f1_score", "precision", "recall"])
        for name, value in self.metrics.items():
            self.assertTrue(0.0 <= value <= 1.0, f"{name}={value}")

    def test_fewer_features_still_take_full_rows(self):
        model, _ = build_small_model(n_features=2)
        predictions = list(model.predict(self.rows))

        self.assertEqual(len(predictions), len(self.rows))
        self.assertTrue(set(predictions) <= {0, 1}, predictions)

    def test_survives_pickling_as_the_build_does(self):
        restored = pickle.loads(pickle.dumps(self.model))
        self.assertEqual(list(restored.predict(self.rows)), list(self.model.predict(self.rows)))

    def test_rejects_rows_that_are_too_short(self):
        with self.assertRaisesRegex(ValueError, "row 0 has 3 features"):
            self.model.predict([[1.0, 2.0, 3.0]])

    def test_rejects_a_training_fraction_outside_0_to_1(self):
        with self.assertRaisesRegex(ValueError, "TRAINING_FRACTION=1.5 is outside"):
            BreastCancerModel(training_fraction=1.5).build()

    def test_fails_on_purpose_when_asked(self):
        # Lets Refit's own tests check that a failing model test stops the build.
        self.assertNotEqual(
            os.environ.get("EXAMPLE_FAIL_TESTS"), "1",
            "failing on purpose because EXAMPLE_FAIL_TESTS=1",
        )


if __name__ == "__main__":
    unittest.main()
