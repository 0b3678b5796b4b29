"""SGD (with momentum) and Adam that respect masks.

``step_inplace(params, grads, masks)`` updates each parameter in place. A
parameter is a dense ndarray or a CSR array (then its ``.data`` is updated and
its gradient must share its pattern). Where a mask is False the parameter,
its gradient's effect and every piece of optimizer state (velocity, Adam's
first and second moments) are set to exactly 0 on every step, so a pruned
weight can never come back through accumulated momentum.
"""
import numpy as np

from . import sparse


def _values(p):
    """The array an update writes to: ``p`` itself or a CSR array's ``.data``."""
    return p.data if sparse.is_sparse(p) else p


def _mask_values(mask, p):
    if mask is None:
        return None
    return sparse.mask_values(mask, p) if sparse.is_sparse(p) else mask


class Optimizer:
    """Shared bookkeeping: one state dict per parameter position."""

    def __init__(self, lr):
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"lr: expected a positive finite learning rate, found {lr!r}")
        self.lr = lr
        self.state = {}
        self.t = 0

    def step_inplace(self, params, grads, masks=None):
        """Apply one update to every parameter in ``params`` (mutates them)."""
        masks = masks if masks is not None else [None] * len(params)
        self.t += 1
        for i, (p, g, m) in enumerate(zip(params, grads, masks)):
            w, dw, keep = _values(p), _values(g), _mask_values(m, p)
            if keep is not None:
                dw = dw * keep
            self._update_inplace(self.state.setdefault(i, {}), w, dw)
            if keep is not None:
                w *= keep
                for s in self.state[i].values():
                    s *= keep

    def reset(self):
        """Forget all state (e.g. after a topology change)."""
        self.state, self.t = {}, 0


class SGD(Optimizer):
    """v = momentum * v - lr * dW;  W = W + v  (plain SGD when momentum = 0)."""

    def __init__(self, lr=0.01, momentum=0.0):
        super().__init__(lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum: expected a value in [0, 1), found {momentum!r}")
        self.momentum = momentum

    def _update_inplace(self, state, w, dw):
        if self.momentum == 0:
            w -= self.lr * dw
            return
        v = state.setdefault("velocity", np.zeros_like(w))
        v *= self.momentum
        v -= self.lr * dw
        w += v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction, as in Keras/PyTorch."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update_inplace(self, state, w, dw):
        m = state.setdefault("m", np.zeros_like(w))
        v = state.setdefault("v", np.zeros_like(w))
        m *= self.beta1
        m += (1 - self.beta1) * dw
        v *= self.beta2
        v += (1 - self.beta2) * dw * dw
        lr_t = self.lr * np.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        w -= (lr_t * m / (np.sqrt(v) + self.eps)).astype(w.dtype, copy=False)
