"""nnlite: a small NumPy engine for taking trained networks apart.

Notation (used across nnlite, decomposition and pruning)
--------------------------------------------------------
- Rows are samples: ``X (n, d_in)``, labels ``y (n,)`` in ``[0, n_classes)``.
- A dense layer holds ``W (d_in, d_out)`` (the Keras kernel layout, so
  published Keras weights load without transposes) and ``b (d_out,)``.
- ``Z = X @ W + b`` is a pre-activation, ``A = relu(Z)`` an activation;
  the last layer's ``Z`` are the logits and ``P = softmax(Z)``.
- ``dX`` means dL/dX for the mean loss L of a minibatch.
- A weight is a dense ndarray or a ``scipy.sparse.csr_array``; a mask is a
  boolean ndarray of the weight's shape, True where the weight may be nonzero.
- Every stochastic function takes ``rng`` (None, int or np.random.Generator).

Modules: ``functional`` (forward/backward pairs), ``conv`` (im2col
convolution, max pooling, flatten; NHWC images, kernels as 2-D weights
``(kh * kw * c_in, c_out)``), ``sparse`` (dense/CSR conversions and
products), ``init``, ``layers`` (Dense, Conv2d, MaxPool2d, ReLU, Flatten),
``models`` (Sequential, MLP, small_cnn), ``optim`` (SGD, Adam), ``train``
(fit), ``io`` (save/load .npz) and ``data`` (datasets). The optional compiled
loops (numba) are in ``_sparse_kernels``, ``_conv_kernels`` and
``_optim_kernels``; ``sparse.set_backend`` turns them on or off.
"""
from . import functional, init, io, layers, models, optim, sparse, train
from .models import MLP, Sequential, small_cnn
from .optim import SGD, Adam
from .train import DivergenceError, History, fit

__all__ = ["MLP", "Sequential", "small_cnn", "SGD", "Adam", "DivergenceError", "History", "fit", "functional", "init",
           "io", "layers", "models", "optim", "sparse", "train"]
__version__ = "0.1.0"
