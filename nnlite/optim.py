"""SGD (with momentum) and Adam that respect masks.

``step_inplace(params, grads, masks)`` updates each parameter in place. A
parameter is a dense ndarray or a CSR array (then its ``.data`` is updated and
its gradient must share its pattern). Where a mask is False the parameter
and every piece of optimizer state (velocity, Adam's first and second
moments) are set to exactly 0 after every step, so a pruned weight can never
come back through accumulated momentum, whatever its gradient (the layers
already give it 0 there: ``nnlite.layers.WeightLayer.masked_gradient``).

With the compiled backend (``nnlite.sparse.backend() == "numba"``), Adam's
update of a contiguous parameter is one compiled pass
(``nnlite._optim_kernels``) with the bits of the NumPy code.

Checks. ``step_inplace`` always checks the structure of its arguments
(lengths, types, shapes, CSR patterns, masks: O(1) per dense parameter) before
anything is updated. It refuses NaN/inf gradients only with ``check=True``
(the default for direct calls): that test reads every gradient once more,
about one extra pass per step, so ``nnlite.train`` calls it with
``check=False`` in its hot loop and relies instead on its divergence check of
every minibatch loss (a NaN gradient comes with a non-finite loss).
"""
import numpy as np

from . import _optim_kernels as kernels
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
        self.lr = _check_number(lr, "lr", "a positive finite learning rate", lambda v: 0 < v < np.inf)
        self.state = {}
        self.t = 0

    def step_inplace(self, params, grads, masks=None, check=True):
        """Apply one update to every parameter in ``params`` (mutates them).

        params : list of float ndarrays or CSR arrays (updated in place)
        grads : list aligned with ``params``: arrays of the same shape and
            dtype kind (a CSR parameter's gradient is CSR with its pattern)
        masks : None or a list aligned with ``params`` of None or boolean arrays
        check : bool
            Also refuse NaN/inf gradients (one extra pass over them). The
            structural checks run whatever ``check`` says.
        Raises ValueError/TypeError naming ``params[i]``, ``grads[i]`` or
        ``masks[i]`` before anything is updated.
        """
        masks = _check_step_arguments(params, grads, masks)
        if check:
            _check_finite_grads(grads)
        self.t += 1
        for i, (p, g, m) in enumerate(zip(params, grads, masks)):
            w, dw, keep = _values(p), _values(g), _mask_values(m, p)
            # the layers mask gradients (nnlite.layers.WeightLayer.masked_gradient); the updates are
            # elementwise, so zeroing after the update keeps the masked entries at 0 whatever dw holds there
            self._update_inplace(self.state.setdefault(i, {}), w, dw)
            if keep is not None:
                w *= keep
                for s in self.state[i].values():
                    s *= keep

    def reset(self):
        """Forget all state (e.g. after a topology change)."""
        self.state, self.t = {}, 0


def _compiled(*arrays):
    """Whether Adam's compiled loop runs: compiled backend on, contiguous float arrays of one dtype."""
    return (sparse.backend() == "numba" and arrays[0].dtype.char in "fd"
            and all(a.dtype == arrays[0].dtype and a.flags.c_contiguous for a in arrays))


def _check_number(value, name, expected, is_valid):
    """``value`` if it is a real number (not a bool) for which ``is_valid`` holds."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected {expected}, found {type(value).__name__} {value!r}")
    if not is_valid(value):  # NaN fails every comparison
        raise ValueError(f"{name}: expected {expected}, found {value!r}")
    return value


def _check_list(values, name):
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{name}: expected a list (one entry per parameter), found {type(values).__name__}")
    return values


def _check_step_arguments(params, grads, masks):
    """Validate ``step_inplace``'s arguments (O(1) per dense parameter, O(nnz) per CSR one)."""
    params, grads = _check_list(params, "params"), _check_list(grads, "grads")
    masks = [None] * len(params) if masks is None else _check_list(masks, "masks")
    if not len(params) == len(grads) == len(masks):
        raise ValueError(f"params, grads, masks: expected equal lengths, found {len(params)}, {len(grads)} "
                         f"and {len(masks)}")
    for i, (p, g, m) in enumerate(zip(params, grads, masks)):
        if not (isinstance(p, np.ndarray) or sparse.is_sparse(p)) or not np.issubdtype(_values(p).dtype, np.floating):
            raise TypeError(f"params[{i}]: expected a float ndarray or CSR array (updated in place), found "
                            f"{type(p).__name__} {getattr(p, 'dtype', '')}")
        if sparse.is_sparse(p) != sparse.is_sparse(g) or not isinstance(_values(g), np.ndarray):
            raise TypeError(f"grads[{i}]: expected {'a CSR array' if sparse.is_sparse(p) else 'an ndarray'} "
                            f"like params[{i}], found {type(g).__name__}")
        if g.shape != p.shape or _values(g).dtype.kind not in "fiu":
            raise ValueError(f"grads[{i}]: expected a real array of shape {p.shape} like params[{i}], found "
                             f"{_values(g).dtype} shape {g.shape}")
        if sparse.is_sparse(p) and not (np.array_equal(g.indptr, p.indptr) and np.array_equal(g.indices, p.indices)):
            raise ValueError(f"grads[{i}]: expected the stored pattern of params[{i}] (CSR), found another one")
        if m is not None and (not isinstance(m, np.ndarray) or m.dtype != bool or m.shape != p.shape):
            raise ValueError(f"masks[{i}]: expected None or a boolean array of shape {p.shape}, found "
                             f"{getattr(m, 'dtype', type(m).__name__)} {getattr(m, 'shape', '')}")
    return masks


def _check_finite_grads(grads):
    for i, g in enumerate(grads):
        values = _values(g)
        if not np.isfinite(values).all():
            raise ValueError(f"grads[{i}]: expected finite gradients, found "
                             f"{int(values.size - np.count_nonzero(np.isfinite(values)))} NaN/inf entries; the "
                             f"loss has diverged (lower the learning rate) or the inputs hold NaN/inf")


class SGD(Optimizer):
    """v = momentum * v - lr * (dW + weight_decay * W);  W = W + v  (plain SGD when momentum = 0).

    ``weight_decay`` is the coupled L2 penalty of PyTorch's SGD (biases
    included); a masked weight is 0, so its decay term is 0 too. ``lr`` may be
    changed between steps (a learning-rate schedule sets ``optimizer.lr``).
    """

    def __init__(self, lr=0.01, momentum=0.0, weight_decay=0.0):
        super().__init__(lr)
        self.momentum = _check_number(momentum, "momentum", "a value in [0, 1)", lambda v: 0 <= v < 1)
        self.weight_decay = float(_check_number(weight_decay, "weight_decay", "a finite value >= 0 such as 5e-4",
                                                lambda v: np.isfinite(v) and v >= 0))

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
        self.beta1, self.beta2 = (_check_number(beta, name, "a decay rate in [0, 1)", lambda v: 0 <= v < 1)
                                  for name, beta in (("beta1", beta1), ("beta2", beta2)))
        self.eps = _check_number(eps, "eps", "a positive constant such as 1e-7 (finite)", lambda v: 0 < v < np.inf)

    def _update_inplace(self, state, w, dw):
        if not state:
            state["m"], state["v"] = np.zeros_like(w), np.zeros_like(w)
        m, v = state["m"], state["v"]
        lr_t = float(self.lr) * (1 - self.beta2**self.t) ** 0.5 / (1 - self.beta1**self.t)
        if _compiled(w, dw, m, v):   # one pass, the same operations in the same order: the same bits
            kernels.adam_update(*(a.reshape(-1) for a in (w, dw, m, v)), *map(w.dtype.type, (
                self.beta1, 1 - self.beta1, self.beta2, 1 - self.beta2, lr_t, self.eps)))
            return
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
        denominator = np.sqrt(v)
        denominator += self.eps
        np.multiply(lr_t, m, out=scratch)
        scratch /= denominator
        w -= scratch
