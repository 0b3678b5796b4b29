"""nnlite.optim: SGD, momentum and Adam steps by hand; masked weights and their
optimizer state stay exactly 0; input validation."""
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from nnlite import SGD, Adam, sparse
from strategies import float_matrices, masked_mlps_with_batches
from test_functional import snapshot

OPTIMIZERS = {"sgd": lambda: SGD(lr=0.1), "sgd_momentum": lambda: SGD(lr=0.1, momentum=0.9),
              "adam": lambda: Adam(lr=0.05),
              "sgd_momentum_weight_decay": lambda: SGD(lr=0.1, momentum=0.9, weight_decay=0.05)}


def test_sgd_step_by_hand():
    w = np.array([1.0, -2.0])
    SGD(lr=0.1).step_inplace([w], [np.array([0.5, -1.0])])
    np.testing.assert_allclose(w, [0.95, -1.9], rtol=1e-15)


def test_sgd_momentum_two_steps_by_hand():
    w, g, opt = np.array([1.0]), np.array([0.5]), SGD(lr=0.1, momentum=0.9)
    opt.step_inplace([w], [g])   # v = -0.05, w = 0.95
    opt.step_inplace([w], [g])   # v = 0.9 * -0.05 - 0.05 = -0.095, w = 0.855
    np.testing.assert_allclose(w, [0.855], rtol=1e-14)
    np.testing.assert_allclose(opt.state[0]["velocity"], [-0.095], rtol=1e-14)


def test_adam_first_steps_by_hand():
    w, g, opt = np.array([1.0, 1.0]), np.array([0.5, -2.0]), Adam(lr=0.1, eps=1e-7)
    opt.step_inplace([w], [g])
    # bias-corrected m_hat = g, v_hat = g^2: the first step moves each weight by ~lr * sign(g)
    step = 0.1 * np.sqrt(1 - 0.999) * g / (np.sqrt(1 - 0.999) * np.abs(g) + 1e-7)
    np.testing.assert_allclose(w, 1.0 - step, rtol=1e-12)
    np.testing.assert_allclose(opt.state[0]["m"], 0.1 * g, rtol=1e-15)
    np.testing.assert_allclose(opt.state[0]["v"], 0.001 * g * g, rtol=1e-15)
    opt.step_inplace([w], [g])  # a constant gradient keeps m_hat / sqrt(v_hat) = sign(g)
    np.testing.assert_allclose(w, 1.0 - 2 * np.sign(g) * 0.1, rtol=1e-5)
    assert opt.t == 2


def test_csr_parameter_updates_its_values_and_keeps_its_pattern():
    W = sparse.to_csr(np.array([[1.0, 0.0], [0.0, 2.0]]))
    indices, indptr = W.indices.copy(), W.indptr.copy()
    grad = sp.csr_array((np.array([1.0, 1.0]), W.indices.copy(), W.indptr.copy()), shape=W.shape)
    SGD(lr=0.5).step_inplace([W], [grad])
    assert np.array_equal(W.toarray(), [[0.5, 0.0], [0.0, 1.5]])
    assert np.array_equal(W.indices, indices) and np.array_equal(W.indptr, indptr)


def random_grads(model, rng):
    """Gradients that are nonzero everywhere, masked positions included (CSR on W's pattern)."""
    grads = []
    for p in model.params():
        if sparse.is_sparse(p):
            grads.append(sp.csr_array((rng.normal(size=p.nnz), p.indices.copy(), p.indptr.copy()), shape=p.shape))
        else:
            grads.append(rng.normal(size=p.shape))
    return grads


def assert_masked_weights_and_state_are_zero(model, opt):
    for i, (p, m) in enumerate(zip(model.params(), model.param_masks())):
        if m is None:
            continue
        keep = sparse.mask_values(m, p) if sparse.is_sparse(p) else m
        values = p.data if sparse.is_sparse(p) else p
        assert np.all(values[~keep] == 0)
        for s in opt.state.get(i, {}).values():
            assert np.all(s[~keep] == 0)


def run_masked_steps(drawn, name, n_steps, seed, real_grads):
    model, X, y = drawn
    opt, rng = OPTIMIZERS[name](), np.random.default_rng(seed)
    for _ in range(n_steps):
        grads = model.loss_and_grads(X, y)[1] if real_grads else random_grads(model, rng)
        opt.step_inplace(model.params(), grads, model.param_masks())
        assert_masked_weights_and_state_are_zero(model, opt)


step_counts, seeds = st.integers(1, 6), st.integers(0, 2**16)


@given(masked_mlps_with_batches(), step_counts, seeds, st.booleans())
def test_masked_weights_stay_zero_after_sgd_steps(drawn, n_steps, seed, real_grads):
    run_masked_steps(drawn, "sgd", n_steps, seed, real_grads)


@given(masked_mlps_with_batches(), step_counts, seeds, st.booleans())
def test_masked_weights_stay_zero_after_sgd_momentum_steps(drawn, n_steps, seed, real_grads):
    run_masked_steps(drawn, "sgd_momentum", n_steps, seed, real_grads)


@given(masked_mlps_with_batches(), step_counts, seeds, st.booleans())
def test_masked_weights_stay_zero_after_sgd_momentum_weight_decay_steps(drawn, n_steps, seed, real_grads):
    run_masked_steps(drawn, "sgd_momentum_weight_decay", n_steps, seed, real_grads)


def test_sgd_weight_decay_by_hand():
    w, opt = np.array([2.0, 0.0]), SGD(lr=0.1, momentum=0.9, weight_decay=0.5)
    opt.step_inplace([w], [np.array([1.0, 1.0])], [np.array([True, False])])
    # v = -0.1 * (1 + 0.5 * 2) = -0.2 on the kept weight; the masked one stays 0
    np.testing.assert_allclose(w, [1.8, 0.0], rtol=1e-14)
    opt.lr = 0.01  # a schedule changes lr between steps
    opt.step_inplace([w], [np.array([1.0, 1.0])], [np.array([True, False])])
    np.testing.assert_allclose(w, [1.8 + 0.9 * -0.2 - 0.01 * (1 + 0.9), 0.0], rtol=1e-14)


@pytest.mark.parametrize("weight_decay", [-1e-4, np.nan, "5e-4", True])
def test_bad_weight_decay_raises_naming_weight_decay(weight_decay):
    with pytest.raises((ValueError, TypeError), match=r"weight_decay: expected a finite value >= 0"):
        SGD(lr=0.1, weight_decay=weight_decay)


@given(masked_mlps_with_batches(), step_counts, seeds, st.booleans())
def test_masked_weights_stay_zero_after_adam_steps(drawn, n_steps, seed, real_grads):
    run_masked_steps(drawn, "adam", n_steps, seed, real_grads)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@given(drawn=masked_mlps_with_batches(), n_before=step_counts, n_after=step_counts, seed=seeds)
def test_masked_weights_stay_zero_when_the_mask_is_set_after_state_accumulated(name, drawn, n_before, n_after,
                                                                                seed):
    model, _, _ = drawn
    masks = list(model.masks)
    model.masks = [None] * model.n_layers  # train unmasked first so momentum/Adam state builds up everywhere
    opt, rng = OPTIMIZERS[name](), np.random.default_rng(seed)
    for _ in range(n_before):
        opt.step_inplace(model.params(), random_grads(model, rng), model.param_masks())
    for i, mask in enumerate(masks):
        model.set_mask_inplace(i, mask)
    for _ in range(n_after):
        opt.step_inplace(model.params(), random_grads(model, rng), model.param_masks())
        assert_masked_weights_and_state_are_zero(model, opt)


@given(float_matrices((3, 4)), float_matrices((3, 4)))
def test_step_inplace_does_not_mutate_grads_or_masks(w, g):
    mask = np.arange(12).reshape(3, 4) % 3 == 0
    for make in OPTIMIZERS.values():
        before = [snapshot(g), snapshot(mask)]
        make().step_inplace([w.copy()], [g], [mask])
        assert [snapshot(g), snapshot(mask)] == before


def test_reset_forgets_state():
    opt, w = Adam(), np.ones(2)
    opt.step_inplace([w], [np.ones(2)])
    opt.reset()
    assert opt.state == {} and opt.t == 0


@pytest.mark.parametrize("make", [SGD, Adam], ids=["SGD", "Adam"])
@pytest.mark.parametrize("lr, exc", [(0.0, ValueError), (-0.1, ValueError), (np.nan, ValueError),
                                     (np.inf, ValueError), ("0.1", TypeError), (None, TypeError),
                                     (True, TypeError)])
def test_bad_lr_raises_naming_lr(make, lr, exc):
    with pytest.raises(exc, match=r"lr: expected a positive .*found"):
        make(lr=lr)


@pytest.mark.parametrize("momentum", [1.0, -0.1, 2])
def test_bad_momentum_raises_naming_momentum(momentum):
    with pytest.raises(ValueError, match=r"momentum: expected a value in \[0, 1\), found"):
        SGD(lr=0.1, momentum=momentum)


@pytest.mark.parametrize("kwargs, pattern", [({"beta1": 1.0}, r"beta1: expected a decay rate in \[0, 1\), found 1.0"),
                                             ({"beta2": -0.1}, r"beta2: expected a decay rate in \[0, 1\), found -0.1"),
                                             ({"eps": 0.0}, r"eps: expected a positive constant .* found 0.0")])
def test_bad_adam_hyperparameters_raise_naming_them(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Adam(lr=1e-3, **kwargs)


# -- Adam's compiled loop (nnlite._optim_kernels) against its NumPy code ----------------------

@pytest.mark.skipif(not sparse.kernels.AVAILABLE, reason="numba is not installed (pip install numba)")
@given(st.sampled_from([np.float32, np.float64]), st.integers(1, 40), st.integers(1, 30),
       st.lists(st.integers(-12, 6), min_size=1, max_size=6), st.integers(0, 2**32 - 1), st.booleans())
def test_adam_compiled_loop_gives_the_bits_of_the_numpy_code(dtype, rows, cols, scales, seed, with_mask):
    # gradients over 18 orders of magnitude (and exact zeros), several steps, with and without a mask
    results = {}
    for backend in ("numpy", "numba"):
        rng = np.random.default_rng(seed)
        w, b = rng.standard_normal((rows, cols)).astype(dtype), rng.standard_normal(cols).astype(dtype)
        mask = rng.random((rows, cols)) < 0.7 if with_mask else None
        optimizer = Adam(lr=1.2e-3)
        with sparse.use_backend(backend):
            for scale in scales:
                grads = [(rng.standard_normal(p.shape) * 10.0 ** scale * (rng.random(p.shape) < 0.9)).astype(dtype)
                         for p in (w, b)]
                optimizer.step_inplace([w, b], grads, [mask, None])
        results[backend] = [w, b] + [s for i in (0, 1) for s in optimizer.state[i].values()]
    for numpy_result, compiled_result in zip(results["numpy"], results["numba"]):
        assert numpy_result.dtype == compiled_result.dtype == dtype
        np.testing.assert_array_equal(numpy_result, compiled_result)


def test_adam_runs_its_numpy_code_on_mixed_dtypes_and_views():
    # a float64 gradient for a float32 weight, or a non-contiguous one: not the compiled loop's case
    from nnlite import optim
    w32, w64 = np.ones((3, 4), np.float32), np.ones((3, 4))
    assert not optim._compiled(w32, np.ones((3, 4)), np.zeros_like(w32), np.zeros_like(w32))
    assert not optim._compiled(w64, np.ones((4, 3)).T, np.zeros_like(w64), np.zeros_like(w64))
    Adam(lr=0.1).step_inplace([w32], [np.ones((3, 4))])
    assert w32.dtype == np.float32 and np.all(w32 < 1)
