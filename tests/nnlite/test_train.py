"""nnlite.train: optimizers reduce the loss, early stopping restores the best
weights, same seed same bits, silent without a progress bar, validation."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlite import MLP, SGD, Adam, History, fit
from nnlite.data import train_validation_split
from nnlite.train import minibatches, train_step_inplace
from test_functional import snapshot


def separable_problem(n=150, seed=0):
    """Three well-separated Gaussian blobs in 4 dimensions."""
    rng = np.random.default_rng(seed)
    centres = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype=np.float32)
    y = rng.integers(0, 3, size=n)
    return (centres[y] + rng.normal(scale=0.5, size=(n, 4))).astype(np.float32), y


def noisy_problem(n=80, seed=0):
    """Random labels: a network can only memorise them, so validation loss rises."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, size=n)


@pytest.mark.parametrize("make_optimizer", [lambda: SGD(lr=0.05, momentum=0.9), lambda: Adam(lr=0.01)],
                         ids=["sgd_momentum", "adam"])
def test_optimizer_reduces_loss_on_a_separable_problem(make_optimizer):
    optimizer = make_optimizer()
    X, y = separable_problem()
    model = MLP([4, 8, 3], init="he_normal", rng=0)
    loss_before = model.loss(X, y)
    history = fit(model, X, y, optimizer=optimizer, epochs=15, batch_size=16, rng=0, progress=False)
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert model.loss(X, y) < 0.2 * loss_before and model.score(X, y) >= 0.97
    assert len(history.loss) == len(history.accuracy) == 15
    assert history.val_loss == history.val_accuracy == [] and history.best_epoch is None


def test_early_stopping_restores_the_best_epoch_weights():
    X, y = noisy_problem()
    X_val, y_val = noisy_problem(seed=1)
    model = MLP([6, 32, 3], rng=0)
    history = fit(model, X, y, optimizer=Adam(lr=0.03), epochs=40, batch_size=8, rng=0,
                  validation_data=(X_val, y_val), patience=3, progress=False)
    n_run = len(history.loss)
    assert n_run < 40, "expected early stopping to fire on random labels"
    assert len(history.accuracy) == len(history.val_loss) == len(history.val_accuracy) == n_run
    assert history.best_epoch == int(np.argmin(history.val_loss))
    assert n_run == history.best_epoch + 1 + 3  # stopped after `patience` epochs without improvement
    assert model.loss(X_val, y_val) == min(history.val_loss)  # the restored weights are the best epoch's
    assert model.score(X_val, y_val) == history.val_accuracy[history.best_epoch]


def test_validation_split_without_patience_keeps_last_weights_and_all_epochs():
    X, y = separable_problem(n=60)
    model = MLP([4, 5, 3], rng=0)
    history = fit(model, X, y, epochs=4, batch_size=10, rng=0, validation_split=0.25, progress=False)
    assert [len(h) for h in (history.loss, history.accuracy, history.val_loss, history.val_accuracy)] == [4] * 4
    assert set(history.as_dict()) == {"loss", "accuracy", "val_loss", "val_accuracy", "best_epoch"}


def fit_run(seed, optimizer):
    X, y = separable_problem(n=48, seed=3)
    model = MLP([4, 6, 5, 3], init="glorot_normal", rng=seed)
    history = fit(model, X, y, optimizer=optimizer, epochs=5, batch_size=7, rng=seed, validation_split=0.25,
                  patience=1, progress=False)
    return [snapshot(p) for p in model.params()], history.as_dict()


@settings(max_examples=8)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["sgd", "sgd_momentum", "adam"]))
def test_same_seed_gives_a_bit_identical_training_run(seed, name):
    make = {"sgd": lambda: SGD(lr=0.1), "sgd_momentum": lambda: SGD(lr=0.05, momentum=0.9),
            "adam": lambda: Adam(lr=0.01)}[name]
    assert fit_run(seed, make()) == fit_run(seed, make())


def test_different_seeds_give_different_runs():
    assert fit_run(0, Adam(0.01))[0] != fit_run(1, Adam(0.01))[0]


def test_progress_false_is_silent(capfd):
    X, y = separable_problem(n=30)
    fit(MLP([4, 3], rng=0), X, y, epochs=2, rng=0, validation_split=0.2, patience=1, progress=False)
    assert capfd.readouterr() == ("", "")


def test_progress_true_shows_a_bar(capfd):
    X, y = separable_problem(n=30)
    fit(MLP([4, 3], rng=0), X, y, epochs=2, rng=0, progress=True)
    assert "epochs" in capfd.readouterr().err


def test_mlp_fit_returns_self_and_sets_history_without_mutating_inputs():
    X, y = separable_problem(n=40)
    before = [snapshot(X), snapshot(y)]
    model = MLP([4, 3], rng=0)
    assert model.fit(X, y, epochs=2, rng=0, validation_split=0.25, progress=False) is model
    assert isinstance(model.history_, History) and len(model.history_.loss) == 2
    assert [snapshot(X), snapshot(y)] == before


@given(st.integers(1, 50), st.integers(1, 60))
def test_minibatches_cover_every_sample_once(n_samples, batch_size):
    batches = minibatches(n_samples, batch_size, np.random.default_rng(0))
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(n_samples))
    assert all(len(b) == batch_size for b in batches[:-1]) and 1 <= len(batches[-1]) <= batch_size


def test_fit_validation_split_sizes_and_disjointness():
    X, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    X_tr, X_val, y_tr, y_val = train_validation_split(X, y, 0.3, np.random.default_rng(0))   # what fit holds out
    assert len(X_tr) == len(y_tr) == 7 and len(X_val) == len(y_val) == 3
    assert sorted(np.concatenate([y_tr, y_val])) == list(range(10))
    assert np.array_equal(X_val[:, 0] // 2, y_val)


def test_train_step_inplace_returns_the_minibatch_loss_and_updates():
    X, y = separable_problem(n=20)
    model = MLP([4, 3], rng=0)
    loss, W = model.loss(X, y), model.weights[0].copy()
    assert train_step_inplace(model, SGD(lr=0.1), X, y) == pytest.approx(loss)
    assert not np.array_equal(model.weights[0], W) and model.loss(X, y) < loss


# -- bad input --------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, exc, pattern", [
    ({"epochs": 0}, ValueError, r"epochs: expected a positive integer such as 10, found 0"),
    ({"batch_size": 0}, ValueError, r"batch_size: expected a positive integer such as 10, found 0"),
    ({"epochs": 2.5}, ValueError, r"epochs: expected a positive integer"),
    ({"validation_split": 1.0}, ValueError, r"validation_split: expected a fraction in \[0, 1\), found 1.0"),
    ({"validation_split": 0.01}, ValueError, r"validation_split: 0.01 of 10 samples leaves 0 for validation"),
    ({"patience": 2}, ValueError, r"patience: early stopping needs validation_split > 0 or validation_data"),
    ({"rng": 1.5}, TypeError, r"rng: expected None, an int or np.random.Generator, found float"),
    ({"validation_data": (np.zeros((2, 4)), np.array([0, 7]))}, ValueError,
     r"validation_data\[1\]: expected labels in \[0, 3\), found range \[0, 7\]"),
    ({"validation_data": (np.full((2, 4), np.nan), np.array([0, 1]))}, ValueError,
     r"validation_data\[0\]: expected finite values"),
])
def test_bad_fit_arguments_raise_naming_them(kwargs, exc, pattern):
    X, y = separable_problem(n=10)
    with pytest.raises(exc, match=pattern):
        fit(MLP([4, 3], rng=0), X, y, progress=False, **kwargs)


@pytest.mark.parametrize("X, y, exc, pattern", [
    (np.zeros((3, 4)), np.array([0, 1, 3]), ValueError, r"y: expected labels in \[0, 3\), found range \[0, 3\]"),
    (np.zeros((3, 4)), np.array([0, 1]), ValueError, r"y: expected shape \(3,\) to match X, found \(2,\)"),
    (np.zeros((0, 4)), np.array([], dtype=int), ValueError, r"X: expected a non-empty array, found shape \(0, 4\)"),
    (np.array([[0, 0, 0, np.inf]]), np.array([0]), ValueError, r"X: expected finite values, found 1 NaN/inf"),
    (np.zeros((3, 5)), np.array([0, 1, 2]), ValueError, r"X: expected 4 features .* found 5"),
])
def test_bad_training_data_raises_naming_the_argument(X, y, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fit(MLP([4, 3], rng=0), X, y, epochs=1, progress=False)


def test_early_stopping_restores_the_best_epoch_of_a_cnn():
    from nnlite.models import small_cnn
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    model = small_cnn((8, 8, 1), 3, channels=(2,), hidden=4, rng=0)
    history = fit(model, X, y, epochs=6, batch_size=8, rng=0, validation_split=0.25, patience=1, progress=False)
    _, X_val, _, y_val = train_validation_split(X, y, 0.25, np.random.default_rng(0))
    assert model.loss(X_val, y_val) == pytest.approx(min(history.val_loss), rel=1e-6)


def test_logged_training_accuracy_is_the_running_minibatch_mean_unless_rescored():
    X, y = separable_problem()
    runs = {}
    for rescore in (False, True):
        model = MLP([4, 8, 3], init="he_normal", rng=0)
        runs[rescore] = (model, fit(model, X, y, optimizer=SGD(lr=0.05), epochs=2, batch_size=16, rng=0,
                                    progress=False, rescore_train=rescore))
    (m_run, h_run), (m_re, h_re) = runs[False], runs[True]
    assert h_run.loss == h_re.loss  # the option changes only what is logged, not training
    assert h_re.accuracy[-1] == m_re.score(X, y)
    # the running mean scores each minibatch before its step: replay the first epoch by hand
    model, rng = MLP([4, 8, 3], init="he_normal", rng=0), np.random.default_rng(0)
    n_correct = 0
    for idx in minibatches(len(X), 16, rng):
        n_correct += int(np.sum(model.predict(X[idx]) == y[idx]))
        train_step_inplace(model, SGD(lr=0.05), X[idx], y[idx])
    assert h_run.accuracy[0] == n_correct / len(X)
