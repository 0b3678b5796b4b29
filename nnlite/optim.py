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
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
            raise TypeError(f"lr: expected a positive float, found {type(lr).__name__} {lr!r}")
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
    """v = momentum * v - lr * (dW + weight_decay * W);  W = W + v  (plain SGD when momentum = 0).

    ``weight_decay`` is the coupled L2 penalty of PyTorch's SGD (biases
    included); a masked weight is 0, so its decay term is 0 too. ``lr`` may be
    changed between steps (a learning-rate schedule sets ``optimizer.lr``).
    """

    def __init__(self, lr=0.01, momentum=0.0, weight_decay=0.0):
        super().__init__(lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum: expected a value in [0, 1), found {momentum!r}")
        if isinstance(weight_decay, bool) or not (isinstance(weight_decay, (int, float, np.integer, np.floating))
                                                  and np.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"weight_decay: expected a finite value >= 0 such as 5e-4, found {weight_decay!r}")
        self.momentum, self.weight_decay = momentum, float(weight_decay)

    def _update_inplace(self, state, w, dw):
        if self.weight_decay:
            dw = dw + self.weight_decay * w
        if self.momentum == 0:
            w -= self.lr * dw
            return
        if not state:
            state["velocity"] = np.zeros_like(w)
        v = state["velocity"]
        v *= self.momentum
        v -= self.lr * dw
        w += v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction, as in Keras/PyTorch."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        super().__init__(lr)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{name}: expected a decay rate in [0, 1), found {beta!r}")
        if not eps > 0:
            raise ValueError(f"eps: expected a positive constant such as 1e-7, found {eps!r}")
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update_inplace(self, state, w, dw):
        if not state:
            state["m"], state["v"] = np.zeros_like(w), np.zeros_like(w)
        m, v = state["m"], state["v"]
        # m = beta1 * m + (1 - beta1) * dW;  v = beta2 * v + (1 - beta2) * dW * dW
        # (in place, one scratch array: this loop dominates small-batch training).
        scratch = np.multiply(1 - self.beta1, dw, dtype=w.dtype)
        m *= self.beta1
        m += scratch
        np.multiply(1 - self.beta2, dw, out=scratch)
        scratch *= dw
        v *= self.beta2
        v += scratch
        # W = W - lr_t * m / (sqrt(v) + eps)
        # (lr_t is a Python float so that float32 parameters stay float32 throughout)
        lr_t = float(self.lr) * (1 - self.beta2**self.t) ** 0.5 / (1 - self.beta1**self.t)
        denominator = np.sqrt(v)
        denominator += self.eps
        np.multiply(lr_t, m, out=scratch)
        scratch /= denominator
        w -= scratch
