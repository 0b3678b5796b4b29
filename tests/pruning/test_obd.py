"""pruning.obd: the diagonal Hessian against finite differences and brute force, saliencies, the loop."""
import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import mlp_layer_sizes

from nnlite import MLP, sparse
from nnlite import functional as F
from pruning import masks as M
from pruning import obd
from pruning.experiments import obd as OX


def _model_and_data(sizes, n=6, seed=0):
    rng = np.random.default_rng(seed)
    model = MLP(sizes, init="glorot_normal", rng=seed, dtype=np.float64)
    for b in model.biases:
        b[:] = rng.normal(scale=0.3, size=b.shape)
    return model, rng.normal(size=(n, sizes[0])), rng.integers(0, sizes[-1], n)


def _finite_difference_diagonal(model, X, y, eps=1e-4):
    """Exact d2E/dw^2 by central differences of the mean loss, weight by weight."""
    out = []
    for W in model.weights:
        H = np.zeros(W.shape)
        for idx in np.ndindex(W.shape):
            w0 = W[idx]
            losses = []
            for delta in (eps, 0.0, -eps):
                W[idx] = w0 + delta
                losses.append(model.loss(X, y))
            W[idx] = w0
            H[idx] = (losses[0] - 2 * losses[1] + losses[2]) / eps**2
        out.append(H)
    return out


def _per_example_jacobians(model, x):
    """J[k][i] = dz_k / dW_i for one sample x (1, d_in), one backward pass per logit."""
    Z, caches = model.forward(x, return_caches=True)
    K = Z.shape[1]
    return F.softmax(Z)[0], [model.backward(caches, np.eye(K)[[k]])[0::2] for k in range(K)]


def _brute_force(model, X, output_term):
    """Mean over samples of J^T H_out J's diagonal, from explicit per-example Jacobians."""
    total = [np.zeros(W.shape) for W in model.weights]
    for x in X:
        p, J = _per_example_jacobians(model, x[None, :])
        for i in range(model.n_layers):
            Jk = np.stack([J[k][i] for k in range(len(p))])                  # (K, d_in, d_out)
            if output_term == "diagonal":                                     # diag(p (1 - p))
                total[i] += np.einsum("k,kab->ab", p * (1 - p), Jk**2)
            else:                                                             # diag(p) - p p^T
                total[i] += np.einsum("k,kab->ab", p, Jk**2) - np.einsum("k,kab->ab", p, Jk) ** 2
    return [t / len(X) for t in total]


def _path_enumeration(model, X):
    """The paper's diagonal pass by explicit enumeration of every path to the outputs.

    For weight W_l[j, i]: x_j^2 * sum over paths i -> ... -> k of
    prod (relu'(z)^2 * w^2) along the path, times p_k (1 - p_k).
    """
    total = [np.zeros(W.shape) for W in model.weights]
    L = model.n_layers
    for x in X:
        Zs, As = model.forward(x[None, :], return_all=True)
        p = F.softmax(Zs[-1])[0]
        for l in range(L):
            for i in range(model.weights[l].shape[1]):
                g = 0.0
                for path in itertools.product(*[range(model.weights[m].shape[1]) for m in range(l + 1, L)]):
                    units, factor = (i, *path), 1.0
                    for step, m in enumerate(range(l + 1, L)):
                        factor *= float(Zs[m - 1][0, units[step]] > 0) * model.weights[m][units[step], units[step + 1]] ** 2
                    g += factor * p[units[-1]] * (1 - p[units[-1]])
                total[l][:, i] += As[l][0] ** 2 * g
    return [t / len(X) for t in total]


# -- the diagonal ----------------------------------------------------------------
@pytest.mark.parametrize("approximation", obd.APPROXIMATIONS)
def test_without_hidden_layer_the_diagonal_is_the_exact_hessian_diagonal(approximation):
    model, X, y = _model_and_data([4, 3], n=7)
    h = obd.second_derivatives(model, X, y, approximation)
    np.testing.assert_allclose(h[0], _finite_difference_diagonal(model, X, y)[0], rtol=1e-5, atol=1e-7)


def test_lecun_pass_equals_path_enumeration_with_two_hidden_layers():
    model, X, y = _model_and_data([3, 4, 3, 3], n=5, seed=1)
    for h, brute in zip(obd.second_derivatives(model, X, y), _path_enumeration(model, X)):
        np.testing.assert_allclose(h, brute, rtol=1e-10, atol=1e-14)


def test_lecun_pass_equals_per_example_jacobians_with_one_hidden_layer():
    # One hidden layer: one path per (unit, output), so the paper's pass is exactly
    # the Gauss-Newton diagonal with the diagonal output term p (1 - p).
    model, X, y = _model_and_data([4, 5, 3], n=6, seed=2)
    for h, brute in zip(obd.second_derivatives(model, X, y), _brute_force(model, X, "diagonal")):
        np.testing.assert_allclose(h, brute, rtol=1e-10, atol=1e-14)


@given(mlp_layer_sizes(min_layers=1, max_layers=3, max_width=4), st.integers(0, 1000))
def test_gauss_newton_option_equals_per_example_jacobians(sizes, seed):
    model, X, y = _model_and_data(sizes, n=4, seed=seed)
    for h, brute in zip(obd.second_derivatives(model, X, y, "gauss_newton"), _brute_force(model, X, "full")):
        np.testing.assert_allclose(h, brute, rtol=1e-9, atol=1e-12)


def test_gauss_newton_option_is_the_exact_hessian_diagonal_of_a_relu_mlp():
    model, X, y = _model_and_data([3, 4, 3, 3], n=5, seed=3)
    h = obd.second_derivatives(model, X, y, "gauss_newton")
    for H, fd in zip(h, _finite_difference_diagonal(model, X, y)):
        np.testing.assert_allclose(H, fd, rtol=1e-4, atol=1e-6)


def test_second_derivatives_do_not_depend_on_the_batch_size_and_accept_csr_weights():
    model, X, y = _model_and_data([5, 4, 3], n=9, seed=4)
    model.set_mask_inplace(0, np.random.default_rng(0).random((5, 4)) < 0.6)
    csr = model.copy()
    csr.weights[0] = sparse.to_csr(csr.weights[0], csr.masks[0])
    for approximation in obd.APPROXIMATIONS:
        ref = obd.second_derivatives(model, X, y, approximation, batch_size=100)
        for other in (obd.second_derivatives(model, X, y, approximation, batch_size=2),
                      obd.second_derivatives(csr, X, y, approximation, batch_size=4)):
            for a, b in zip(ref, other):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


# -- saliencies and deletion ------------------------------------------------------
def test_saliency_is_half_the_hessian_times_the_squared_weight():
    model = MLP.from_weights([np.array([[3.0, -2.0]])], [np.zeros(2)])
    s = obd.saliencies(model, [np.array([[2.0, 0.5]])])
    assert s[0].tolist() == [[9.0, 1.0]]                 # 2 * 3^2 / 2 and 0.5 * 2^2 / 2


def test_saliency_predicts_the_loss_increase_of_a_small_deletion_at_a_minimum():
    # Softmax regression trained to a minimum: E is nearly quadratic around it,
    # so deleting one weight changes E by about its saliency (exactly, up to
    # third-order terms, because with one weight removed the diagonal is all that matters).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X @ np.array([1.0, -1.0, 0.5]) + 0.3 * rng.normal(size=200) > 0).astype(int)
    model = obd.train_network(MLP([3, 2], dtype=np.float64, rng=0), X, y, epochs=300, batch_size=200,
                              lr=0.05, rng=0)
    s = obd.saliencies(model, obd.second_derivatives(model, X, y))
    k = np.unravel_index(np.argmin(s[0]), s[0].shape)
    deleted = M.apply_masks(model, [~np.isin(np.arange(6).reshape(3, 2), np.ravel_multi_index(k, (3, 2)))])
    actual = deleted.loss(X, y) - model.loss(X, y)
    assert actual == pytest.approx(s[0][k], rel=0.1, abs=1e-6)


def test_delete_lowest_saliency_removes_the_documented_count_and_never_revives():
    model, X, y = _model_and_data([6, 5, 3], n=10, seed=5)
    model = M.prune(model, 0.3)
    s = obd.saliencies(model, obd.second_derivatives(model, X, y))
    for scope in ("global", "layer"):
        pruned = obd.delete_lowest_saliency(model, s, 0.5, scope)
        old, new = M.current_masks(model), M.current_masks(pruned)
        assert all(not np.any(n & ~o) for n, o in zip(new, old))
        removed = sum(int(o.sum() - n.sum()) for o, n in zip(old, new))
        expected = (M.n_to_prune(0.5, sum(int(o.sum()) for o in old)) if scope == "global"
                    else sum(M.n_to_prune(0.5, int(o.sum())) for o in old))
        assert removed == expected
        assert obd.predicted_loss_increase(s, old, new) >= 0


def test_optimal_brain_damage_loop_nests_masks_and_keeps_deleted_weights_zero():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 8)), rng.integers(0, 3, 120)
    model = obd.train_network(MLP([8, 6, 3], rng=0), X, y, epochs=3, rng=0)
    final, records = obd.optimal_brain_damage(model, X, y, amount=0.2, n_iterations=3, retrain_epochs=1, rng=0,
                                              hessian_samples=50)
    fractions = [r["fraction_remaining"] for r in records]
    assert fractions == sorted(fractions, reverse=True) and fractions[-1] == pytest.approx(0.8**3, abs=0.02)
    for W, m in zip(final.weights, final.masks):
        assert np.all(W[~m] == 0)
    assert all(r["predicted_increase"] >= 0 for r in records)


def test_obd_functions_do_not_mutate_the_model():
    model, X, y = _model_and_data([4, 3, 2], n=5)
    before = [W.copy() for W in model.weights]
    h = obd.second_derivatives(model, X, y)
    obd.delete_lowest_saliency(model, obd.saliencies(model, h), 0.5)
    obd.optimal_brain_damage(model, X, y, n_iterations=1, retrain_epochs=1, rng=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.weights, before)) and model.masks == [None, None]


def test_bad_obd_input_raises_clear_errors():
    model, X, y = _model_and_data([4, 3, 2], n=5)
    with pytest.raises(ValueError, match="approximation"):
        obd.second_derivatives(model, X, y, "exact")
    with pytest.raises(ValueError, match="h: expected 2 arrays"):
        obd.saliencies(model, [np.zeros((4, 3))])
    with pytest.raises(ValueError, match="scope"):
        obd.delete_lowest_saliency(model, obd.saliencies(model, obd.second_derivatives(model, X, y)), 0.5, "row")
    with pytest.raises(ValueError, match="X: expected 4 features"):
        obd.second_derivatives(model, X[:, :3], y)
    with pytest.raises(ValueError, match="amount"):
        obd.delete_lowest_saliency(model, obd.saliencies(model, obd.second_derivatives(model, X, y)), 1.5)


# -- the experiment: modes, records, the table ----------------------------------------
def _tiny_data(seed=0):
    """A separable 3-class problem small enough for a seconds-long replicate (no files needed)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.0, size=(3, 6))
    y = rng.integers(0, 3, 260)
    X = (centers[y] + rng.normal(size=(260, 6))).astype(np.float32)
    return X[:200], y[:200], X[200:], y[200:]


TINY = dict(hidden=[8], epochs=3, fractions=[0.3, 0.6], n_single=4, hessian_samples=100)


@pytest.mark.parametrize("mode", OX.MODES)
def test_run_seed_gives_one_row_per_method_and_fraction_in_both_modes(mode):
    lines = OX.run_seed(_tiny_data(), 0, mode=mode, **TINY)
    rows = [r for r in lines if r.get("method") in obd.DELETION_SCORES]
    assert sorted((r["method"], r["fraction_removed"]) for r in rows) == sorted(
        (m, f) for m in obd.DELETION_SCORES for f in TINY["fractions"])
    assert all(0 <= r["test_error"] <= 1 and 0 <= r["test_error_retrained"] <= 1 for r in rows)
    assert all(r["predicted_increase"] >= 0 for r in rows if r["method"] == "obd")
    assert [r["method"] for r in lines[:1]] == ["dense"] and lines[1]["single_deletions"]["n_weights"] == 4


def test_run_seed_is_the_same_bits_for_the_same_seed():
    assert OX.run_seed(_tiny_data(), 3, **TINY) == OX.run_seed(_tiny_data(), 3, **TINY)


def _spy_on_data_order(monkeypatch):
    """Record the data-order stream's state at every training call (``pruning.obd.fit``: equal states, the
    same minibatches) and the rows of every loss measured on the Hessian samples (equal rows, the same
    samples)."""
    from nnlite.classifier import Classifier
    seen = []
    real_fit, real_loss = obd.fit, Classifier.loss

    def fit(model, X, y, *, rng, **kwargs):
        seen.append(("fit", json.dumps(rng.bit_generator.state)))
        return real_fit(model, X, y, rng=rng, **kwargs)

    def loss(self, X, y):
        seen.append(("loss on", np.asarray(X).tobytes()))
        return real_loss(self, X, y)
    monkeypatch.setattr(obd, "fit", fit)
    monkeypatch.setattr(Classifier, "loss", loss)
    return seen


@pytest.mark.parametrize("mode", OX.MODES)
def test_every_method_at_one_seed_retrains_on_the_same_minibatches_and_hessian_samples(mode, monkeypatch):
    seen = _spy_on_data_order(monkeypatch)
    name = {"iterative": "_iterative_curve", "one-shot": "_one_shot_curve"}[mode]
    curve = getattr(OX, name)

    def marked_curve(model, data, method, *args):
        seen.append(("method", method))
        return curve(model, data, method, *args)
    monkeypatch.setattr(OX, name, marked_curve)
    OX.run_seed(_tiny_data(), 0, mode=mode, **TINY)
    starts = [i for i, (what, _) in enumerate(seen) if what == "method"]
    chunks = [seen[a + 1:b] for a, b in zip(starts, starts[1:] + [len(seen)])]
    assert [seen[i][1] for i in starts] == list(obd.DELETION_SCORES)
    assert len([what for what, _ in chunks[0] if what == "fit"]) == len(TINY["fractions"])
    assert chunks[0] == chunks[1] == chunks[2]   # obd, magnitude, random: same minibatches, same samples


def test_random_scores_come_from_their_own_stream_not_the_data_order():
    X, y, _, _ = _tiny_data()
    model = obd.train_network(MLP([6, 8, 3], rng=0), X, y, epochs=1, rng=0)
    runs = {method: obd.optimal_brain_damage(model, X, y, amount=0.3, n_iterations=2, hessian_samples=50,
                                             method=method, rng=7, data_rng=11)[1] for method in ("magnitude", "random")}
    again = obd.optimal_brain_damage(model, X, y, amount=0.3, n_iterations=2, hessian_samples=50, method="random",
                                     rng=8, data_rng=11)[1]
    # the random deletion differs with its own stream, while the data order (data_rng) is untouched by it:
    assert [r["fraction_remaining"] for r in runs["random"]] == [r["fraction_remaining"] for r in again]
    assert runs["random"] != again
    with pytest.raises(TypeError, match="data_rng: expected None, an int"):
        obd.optimal_brain_damage(model, X, y, n_iterations=1, data_rng="0")


def test_iterative_mode_deletes_to_each_fraction_of_the_original_weights():
    # the schedule's counts add up to each target: the removed share is the requested one (to a weight)
    counts = OX.deletion_schedule([0.2, 0.5, 0.9], 1000)
    assert counts == [200, 300, 400] and np.cumsum(counts).tolist() == [200, 500, 900]
    X, y, _, _ = _tiny_data()
    model = obd.train_network(MLP([6, 8, 3], rng=0), X, y, epochs=1, rng=0)
    n = sum(W.size for W in model.weights)
    _, records = obd.optimal_brain_damage(model, X, y, amount=OX.deletion_schedule([0.3, 0.6], n), rng=0,
                                          method="magnitude", evaluate=lambda m: m.score(X, y))
    assert [r["fraction_remaining"] for r in records] == pytest.approx([0.7, 0.4], abs=1 / n)
    assert all("pruned" in r and "retrained" in r and "predicted_increase" not in r for r in records)


def test_the_sgd_deviation_option_trains_with_plain_gradient_steps():
    # optimizer="sgd" (the paper's training) and "adam" (the labelled deviation) give different nets
    X, y, _, _ = _tiny_data()
    adam = obd.train_network(MLP([6, 3], rng=0), X, y, epochs=1, rng=0)
    sgd = obd.train_network(MLP([6, 3], rng=0), X, y, epochs=1, lr=0.05, optimizer="sgd", rng=0)
    assert not np.allclose(adam.weights[0], sgd.weights[0])
    with pytest.raises(ValueError, match="optimizer: expected one of"):
        obd.train_network(MLP([6, 3], rng=0), X, y, optimizer="rmsprop")
    with pytest.raises(ValueError, match="mode: expected one of"):
        OX.run_seed(_tiny_data(), 0, mode="twice", **TINY)


def test_summary_is_mean_and_t_interval_over_seeds():
    from scipy import stats
    lines = [{"seed": s, "method": "obd", "fraction_removed": 0.5, "test_error": e, "test_error_retrained": e / 2}
             for s, e in enumerate([0.1, 0.2, 0.3])] + [{"seed": 0, "method": "dense", "fraction_removed": 0.0,
                                                          "test_error": 0.05}]
    summary = OX.summarize(lines)
    curve = summary["curves"]["obd"]["test_error"]
    half = stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)              # sd of 0.1, 0.2, 0.3 is 0.1
    assert curve["fraction_removed"] == [0.5] and curve["n"] == [3]
    assert curve["mean"][0] == pytest.approx(0.2) and curve["ci95"][0] == pytest.approx(half)
    table = OX.format_table(summary)
    assert "| 50% | 20.00 ± " + f"{100 * half:.2f} (n=3)" in table and "| 0% (dense) | 5.00 (n=1)" in table
    assert summary["curves"]["magnitude"]["test_error"]["n"] == []
    assert OX.table_cell(summary, "obd", "test_error", 0.5) == pytest.approx((0.2, 0.2 - half, 0.2 + half))
    a, b = ("obd", "test_error_retrained", 0.5), ("obd", "test_error", 0.5)   # 0.1 ± 0.12 against 0.2 ± 0.25
    assert not OX.clearly_below(summary, a, b)


def _command(data_dir, out, *extra):
    return ["obd", "--n-train", "600", "--hessian-samples", "200", "--hidden", "8", "--epochs", "1",
            "--fractions", "0.5", "0.9", "--n-single", "3", "--data-dir", str(data_dir), "--out", str(out), *extra]


@pytest.mark.parametrize("mode", OX.MODES)
def test_obd_command_writes_records_that_summarize_to_the_printed_table(mode, shared_data_dir, tmp_path, capsys):
    from pruning.__main__ import main
    assert main(_command(shared_data_dir, tmp_path, "--mode", mode, "--seeds", "2")) == 0
    printed = capsys.readouterr().out
    records = tmp_path / f"obd_{mode}.jsonl"
    assert (tmp_path / f"obd_{mode}.png").stat().st_size > 0
    assert json.loads(records.read_text().splitlines()[0])["settings"]["mode"] == mode
    assert main(["obd", "--summarize", str(records)]) == 0
    assert capsys.readouterr().out == printed                       # the table is rebuilt from the records alone
    summary = json.loads(printed.strip().splitlines()[-1])
    assert summary["curves"]["obd"]["test_error_retrained"]["n"] == [2, 2]


def test_obd_command_resumes_finished_seeds_and_refuses_other_settings(shared_data_dir, tmp_path, capsys):
    from pruning.__main__ import main
    assert main(_command(shared_data_dir, tmp_path, "--seeds", "1")) == 0
    first = (tmp_path / "obd_iterative.jsonl").read_text()
    assert main(_command(shared_data_dir, tmp_path, "--seeds", "2")) == 0
    both = (tmp_path / "obd_iterative.jsonl").read_text()
    assert both.startswith(first) and len(both.splitlines()) > len(first.splitlines())
    with pytest.raises(SystemExit) as stop:
        main(_command(shared_data_dir, tmp_path, "--epochs", "2"))
    assert stop.value.code == 2 and "--epochs" in capsys.readouterr().err
    assert (tmp_path / "obd_iterative.jsonl").read_text() == both


def test_quick_fills_only_the_unset_options():
    filled = OX.apply_quick(argparse.Namespace(quick=True, n_train=None, hidden=None, epochs=3, hessian_samples=None,
                                                fractions=None))
    assert (filled.n_train, filled.hidden, filled.epochs) == (5000, [100], 3)
    assert OX.apply_quick(argparse.Namespace(quick=False, n_train=None, hidden=None, epochs=None,
                                              hessian_samples=None, fractions=None)).hessian_samples == "all"


def test_hessian_by_differences_is_symmetric_and_its_diagonal_is_the_exact_one():
    # a ReLU MLP away from the kinks: the Gauss-Newton diagonal is the exact Hessian diagonal (tested above
    # against differences of the loss); differences of the gradient agree to their O(eps^2) error
    model, X, y = _model_and_data([3, 4, 3], n=6, seed=6)
    H = obd.hessian_by_differences(model, X, y)
    diagonal = np.concatenate([h.ravel() for h in obd.second_derivatives(model, X, y, "gauss_newton")])
    assert H.shape == (24, 24) and np.array_equal(H, H.T)
    np.testing.assert_allclose(np.diag(H), diagonal, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("mode", [*OX.MODES, "iterative_sgd"])
def test_docs_obd_tables_are_the_summaries_of_the_committed_records(mode):
    # docs/pruning.md quotes `python -m pruning obd --summarize docs/records/obd_<mode>.jsonl` verbatim,
    # so a number in the docs cannot drift from the records it was built from
    root = Path(__file__).resolve().parents[2]
    lines = OX.read_records(root / "docs" / "records" / f"obd_{mode}.jsonl")
    assert OX.format_table(OX.summarize(lines)) in (root / "docs" / "pruning.md").read_text()
    assert {r["seed"] for r in lines} >= {0, 1, 2}                # every cell has n >= 3


def _docs_summary(name):
    root = Path(__file__).resolve().parents[2]
    return OX.summarize(OX.read_records(root / "docs" / "records" / f"{name}.jsonl"))


FRACTIONS = (0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.98)


def _clearly(summary, below, above, key):
    """The fractions at which method ``below``'s 95% interval of ``key`` lies entirely below ``above``'s."""
    return [f for f in FRACTIONS if OX.clearly_below(summary, (below, key, f), (above, key, f))]


def test_docs_obd_claims_hold_on_the_committed_records():
    """The sentences of docs/pruning.md's OBD section ("read only where the 95% intervals do not overlap")."""
    it, shot = _docs_summary("obd_iterative"), _docs_summary("obd_one-shot")
    before, after = "test_error", "test_error_retrained"
    # OBD far better than random: after retraining from 60% removed on, before retraining at every fraction
    assert _clearly(it, "obd", "random", after) == [0.6, 0.8, 0.9, 0.95, 0.98]
    assert _clearly(it, "obd", "random", before) == list(FRACTIONS)
    # flat with the recipe: OBD retrained inside the dense interval up to 90% removed
    dense, half, _ = it["dense"]
    assert all(abs(OX.table_cell(it, "obd", after, f)[0] - dense) < half for f in FRACTIONS[:5])
    # never clearly worse than magnitude; clearly better before retraining at 95 and 98%, after at 98%
    assert _clearly(it, "magnitude", "obd", before) == _clearly(it, "magnitude", "obd", after) == []
    assert _clearly(it, "obd", "magnitude", before) == [0.95, 0.98]
    assert _clearly(it, "obd", "magnitude", after) == [0.98]
    # one shot: clearly worse than magnitude from 80% removed, before and after retraining; at 98% no better
    # than random
    assert _clearly(shot, "magnitude", "obd", before) == _clearly(shot, "magnitude", "obd", after) == [0.8, 0.9, 0.95, 0.98]
    assert 0.98 not in _clearly(shot, "obd", "random", before) + _clearly(shot, "obd", "random", after)
    # with plain gradient steps (--optimizer sgd): worse than magnitude after retraining at 80, 90 and 95%
    sgd = _docs_summary("obd_iterative_sgd")
    assert _clearly(sgd, "magnitude", "obd", after) == [0.8, 0.9, 0.95]
    assert sgd["single_deletions"]["spearman_actual_vs_saliency_plus_first_order"][0] > 0.99


@pytest.mark.parametrize("argv, named", [
    (["--summarize", "/no/such/obd.jsonl"], "/no/such/obd.jsonl"),
    (["--mode", "twice"], "--mode"),
    (["--hessian-samples", "0"], "--hessian-samples"),
    (["--optimizer", "rmsprop"], "--optimizer"),
])
def test_obd_command_errors_are_one_line_with_status_2(argv, named, tmp_path, capsys):
    from pruning.__main__ import main
    with pytest.raises(SystemExit) as stop:
        main(["obd", *argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and named in err[0]
    assert not (tmp_path / "out").exists()


# -- a CNN: the same pass over its weight layers -----------------------------------------
def test_lecun_pass_of_a_cnn_equals_the_mlp_it_computes():
    # A kernel as large as the image is a dense layer on the flattened image (im2col's (di, dj, c) order is
    # the C-order flattening of (h, w, c)), so the CNN's h must be the MLP's, layer by layer.
    from nnlite.layers import Conv2d, Dense, Flatten
    from nnlite.models import Sequential
    rng = np.random.default_rng(0)
    cnn = Sequential([Conv2d(2, 4, 3, rng=0, dtype=np.float64), Flatten(),
                      Dense(4, 3, activation=None, rng=1, dtype=np.float64)], input_shape=(3, 3, 2))
    for b in cnn.biases:
        b[:] = rng.normal(scale=0.3, size=b.shape)
    mlp = MLP.from_weights(cnn.weights, cnn.biases)
    X, y = rng.normal(size=(7, 3, 3, 2)), rng.integers(0, 3, 7)
    for h_cnn, h_mlp in zip(obd.second_derivatives(cnn, X, y), obd.second_derivatives(mlp, X.reshape(7, -1), y)):
        np.testing.assert_allclose(h_cnn, h_mlp, rtol=1e-12, atol=1e-15)


def test_obd_deletes_the_lowest_saliency_weights_of_a_cnn_through_its_max_pool():
    from nnlite.models import small_cnn
    rng = np.random.default_rng(0)
    model = small_cnn((4, 4, 1), 2, channels=(2,), hidden=3, rng=0, dtype=np.float64)
    X, y = rng.normal(size=(6, 4, 4, 1)), rng.integers(0, 2, 6)
    h = obd.second_derivatives(model, X, y)
    assert [H.shape for H in h] == [W.shape for W in model.weights] and all(np.all(H >= 0) for H in h)
    s = obd.saliencies(model, h)
    pruned = obd.delete_lowest_saliency(model, s, 0.25)
    deleted = [m_old & ~m_new for m_old, m_new in zip(M.current_masks(model), M.current_masks(pruned))]
    dropped = np.concatenate([S[d] for S, d in zip(s, deleted)])
    kept = np.concatenate([S[~d] for S, d in zip(s, deleted)])
    assert dropped.max() <= kept.min() and all(np.all(W[d] == 0) for W, d in zip(pruned.weights, deleted))
    with pytest.raises(ValueError, match="approximation: 'gauss_newton' is implemented for an MLP"):
        obd.second_derivatives(model, X, y, approximation="gauss_newton")
