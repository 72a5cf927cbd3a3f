"""A breast cancer classifier that Refit builds and serves.

Refit's build runner creates BreastCancerModel(), calls build() (which trains on scikit-learn's bundled
breast cancer data set and logs test-split metrics) and pickles it; the server calls predict().

Two environment variables make a deliberately worse model, so that an automation's env_vars can test
that a deployment condition rejects it:
    TRAINING_FRACTION  the fraction of the training split to train on, in (0, 1]; default 1.0
    N_FEATURES         train and predict on only the first N of the 30 features; default 30
Two more stretch the steps in time, the way a large model would, so that Refit's tests can stop a
worker in the middle of them:
    TRAINING_DELAY_SECONDS          extra seconds build() takes; default 0
    SERVING_START_DELAY_SECONDS     extra seconds the server takes to become ready; default 0
"""

import os
import time

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from refit_sdk import RefitModel, log_metrics

ALL_FEATURES = 30
TEST_FRACTION = 0.25
# Fixed, so that the same settings give the same model and the same metrics on every build.
RANDOM_STATE = 42


class BreastCancerModel(RefitModel):
    def __init__(self, training_fraction=None, n_features=None):
        # None means "from the environment", which is how a Refit build (which passes no arguments) sets them.
        self.training_fraction = training_fraction
        self.n_features = n_features
        self.classifier = None

    def build(self):
        if self.training_fraction is None:
            self.training_fraction = _env_float("TRAINING_FRACTION", 1.0)
        if self.n_features is None:
            self.n_features = _env_int("N_FEATURES", ALL_FEATURES)
        _check_settings(self.training_fraction, self.n_features)
        delay = _env_float("TRAINING_DELAY_SECONDS", 0.0)
        if delay > 0:
            print(f"training: waiting {delay} s, as TRAINING_DELAY_SECONDS asks", flush=True)
            time.sleep(delay)

        features, labels = load_breast_cancer(return_X_y=True)
        features = features[:, : self.n_features]
        train_x, test_x, train_y, test_y = train_test_split(
            features, labels, test_size=TEST_FRACTION, stratify=labels, random_state=RANDOM_STATE
        )
        if self.training_fraction < 1.0:
            kept = int(self.training_fraction * len(train_y))
            if kept < 2:
                raise ValueError(
                    f"TRAINING_FRACTION={self.training_fraction} keeps {kept} of the {len(train_y)} training "
                    "rows, too few to hold both classes: use a fraction that keeps at least 2 rows"
                )
            # Stratified, so that even a small fraction keeps both classes to learn from.
            train_x, _, train_y, _ = train_test_split(
                train_x, train_y, train_size=self.training_fraction, stratify=train_y,
                random_state=RANDOM_STATE,
            )

        self.classifier = make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=1000, random_state=RANDOM_STATE)
        )
        self.classifier.fit(train_x, train_y)

        predicted = self.classifier.predict(test_x)
        log_metrics({
            "f1_score": float(f1_score(test_y, predicted)),
            "accuracy": float(accuracy_score(test_y, predicted)),
            "precision": float(precision_score(test_y, predicted)),
            "recall": float(recall_score(test_y, predicted)),
        })
        print(f"trained on {len(train_y)} rows and {self.n_features} features")

    def initialize_model(self):
        delay = _env_float("SERVING_START_DELAY_SECONDS", 0.0)
        if delay > 0:
            print(f"serving: waiting {delay} s before ready, as SERVING_START_DELAY_SECONDS asks", flush=True)
            time.sleep(delay)

    def predict(self, rows):
        """The predicted class for each row of 30 features: 0 malignant, 1 benign."""
        if any(not hasattr(row, "__len__") for row in rows):
            raise ValueError(
                f"each row must be a list of the {ALL_FEATURES} features: send a tensor of shape [N, {ALL_FEATURES}]"
            )
        short = [index for index, row in enumerate(rows) if len(row) < self.n_features]
        if short:
            raise ValueError(
                f"row {short[0]} has {len(rows[short[0]])} features; each row needs at least "
                f"{self.n_features} (the data set's {ALL_FEATURES} features, in order)"
            )
        return self.classifier.predict([row[: self.n_features] for row in rows])


def _env_float(name, default):
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number; use e.g. {name}=0.5") from None


def _env_int(name, default):
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a whole number; use e.g. {name}=10") from None


def _check_settings(training_fraction, n_features):
    if not 0.0 < training_fraction <= 1.0:
        raise ValueError(
            f"TRAINING_FRACTION={training_fraction} is outside (0, 1]: use a fraction such as 0.5, or 1 for all"
        )
    if not 1 <= n_features <= ALL_FEATURES:
        raise ValueError(f"N_FEATURES={n_features} is outside 1..{ALL_FEATURES}: use a feature count in that range")
