"""What every nnlite classifier offers once it has logits.

A subclass defines ``_logits(X) -> (n, n_classes)`` and ``n_classes``; the
loss, probabilities, predictions, accuracy and ``fit`` follow here once.
"""
import numpy as np

from . import functional as F
from ._checks import check_labels


class Classifier:
    def loss(self, X, y):
        """Mean softmax cross-entropy on (X, y)."""
        Z = self._logits(X)
        return F.softmax_cross_entropy_forward(Z, check_labels(y, "y", len(Z), self.n_classes), check=False)

    def predict_proba(self, X):
        return F.softmax(self._logits(X), check=False)  # _logits checked X

    def predict(self, X):
        return self._logits(X).argmax(axis=1)

    def score(self, X, y):
        """Accuracy in [0, 1]."""
        y_hat = self.predict(X)
        return float(np.mean(y_hat == check_labels(y, "y", len(y_hat), self.n_classes)))

    def fit(self, X, y, **kwargs):
        """Train in place with ``nnlite.train.fit``; returns self, sets ``history_``."""
        from .train import fit
        self.history_ = fit(self, X, y, **kwargs)
        return self
