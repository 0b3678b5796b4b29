"""A compiled loop for WANN's evaluation step (the optional ``numba`` backend of ``pruning.wann``).

``pruning.wann._evaluate_plan`` computes a layer's pre-activations
``z = w * (sum over enabled j -> i of v_j)`` as two SciPy CSR products (from
the computed nodes, for every shared weight at once, and from the inputs),
then a sum, a product by the weights, and a gather and a scatter per
activation group: six passes over the layer's values, most of a search's
time. This loop makes one, writing each row straight into the values array.

It adds in the order of the SciPy products (a row's sources by ascending
node id, starting from 0, computed sources and inputs apart, then the two
sums) and multiplies last, without fused multiply-add or reassociation
(compiled exact), so it gives the same bits; the tests compare the two.
The activations stay NumPy's (its SIMD functions round differently from a
compiled libm call).

Layout (``pruning.wann.kernel_layout``): the computed nodes (hidden and
outputs) in rows ordered by layer and, within a layer, by activation, so
that each activation group is a contiguous block of rows.
"""
import numpy as np

from nnlite._sparse_kernels import AVAILABLE, _compile


def _layer_preactivations(values, inputs_T, weights, row0, row1, src_ptr, src_rows, in_ptr, in_cols):
    """Rows row0..row1-1 of ``values`` (n_rows, n_weights, n) set to w * (sum of their sources), in place.

    Row r's computed sources are ``values[src_rows[src_ptr[r]:src_ptr[r + 1]]]`` and its inputs the
    rows ``in_cols[in_ptr[r]:in_ptr[r + 1]]`` of ``inputs_T`` (1 + n_inputs, n), each list in the
    order the sums are taken.
    """
    n_weights, n = values.shape[1], values.shape[2]
    from_inputs = np.empty(n, dtype=values.dtype)
    total = np.empty(n, dtype=values.dtype)
    for r in range(row0, row1):
        from_inputs[:] = 0
        for p in range(in_ptr[r], in_ptr[r + 1]):
            j = in_cols[p]
            for t in range(n):
                from_inputs[t] += inputs_T[j, t]
        for w in range(n_weights):
            total[:] = 0
            for p in range(src_ptr[r], src_ptr[r + 1]):
                j = src_rows[p]
                for t in range(n):
                    total[t] += values[j, w, t]
            for t in range(n):
                values[r, w, t] = (total[t] + from_inputs[t]) * weights[w]


if AVAILABLE:
    layer_preactivations = _compile(exact=True)(_layer_preactivations)
