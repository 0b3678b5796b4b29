"""pruning.lottery: IMP masks nest, resets are bit-exact, runs resume with identical results."""
import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from pruning import lottery as LT
from pruning.experiments import lottery as LX
from pruning import masks as M

SIZES = (12, 8, 6, 3)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 12))

    def draw(n):
        y = rng.integers(0, 3, n)
        return (centers[y] + 0.8 * rng.normal(size=(n, 12))).astype(np.float32), y
    (X, y), (Xv, yv), (Xt, yt) = draw(240), draw(60), draw(60)
    return {"X_train": X, "y_train": y, "X_val": Xv, "y_val": yv, "X_test": Xt, "y_test": yt}


def _config(**kwargs):
    base = dict(layer_sizes=SIZES, rates=(0.2, 0.2, 0.1), n_rounds=3, n_iterations=30, batch_size=20, eval_every=10,
                control_rounds=(2,), seed=1)
    return LT.LotteryConfig(**{**base, **kwargs})


def _strip_seconds(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def test_imp_masks_are_nested_and_follow_the_per_layer_rates(data, tmp_path):
    config = _config()
    records = LX.run_trial(config, data, 0, tmp_path)
    masks = [[LX.load_arrays(tmp_path / "trial_0" / f"masks_round_{r}.npz")[f"mask{i}"] for i in range(3)]
             for r in range(1, 5)]
    previous = [np.ones((a, b), bool) for a, b in zip(SIZES[:-1], SIZES[1:])]
    for round_masks in masks:
        for i, (new, old) in enumerate(zip(round_masks, previous)):
            assert not np.any(new & ~old)                                          # nested
            assert int(old.sum() - new.sum()) == M.n_to_prune(config.rates[i], int(old.sum()))
        previous = round_masks
    assert [r["round"] for r in records] == [0, 1, 2, 3] and records[0]["fraction_remaining"] == 1.0
    assert "control" in records[2] and "control" not in records[1]


def test_reset_restores_the_survivors_initial_values_bit_for_bit(data):
    theta_0 = LT.randomly_initialize(SIZES, rng=0)
    trained, _ = LT.train_network(theta_0, data, 20, batch_size=20, rng=0)
    masks = LT.prune_parameters(trained, (0.5, 0.5, 0.5))
    ticket = LT.reset_parameters(masks, theta_0)
    for W, W0, m in zip(ticket.weights, theta_0.weights, masks):
        assert W.tobytes() == (W0 * m).tobytes() and np.all(W[m] == W0[m])
    assert all(np.array_equal(b, b0) for b, b0 in zip(ticket.biases, theta_0.biases))
    control = LT.random_reinitialization(masks, SIZES, rng=1)
    assert all(np.array_equal(cm, m) for cm, m in zip(control.masks, masks))
    assert not np.array_equal(control.weights[0], ticket.weights[0])


def test_rewinding_snapshot_is_the_weights_after_k_iterations(data, tmp_path):
    model = LT.randomly_initialize(SIZES, rng=0)
    _, record = LT.train_network(model, data, 25, batch_size=20, snapshot_iteration=7, rng=3)
    after_7, _ = LT.train_network(model, data, 7, batch_size=20, rng=3)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(record["snapshot"].weights, after_7.weights))
    records = LX.run_trial(_config(rewind_iteration=5, n_rounds=1), data, 0, tmp_path)
    assert (tmp_path / "trial_0" / "theta_rewind.npz").exists() and len(records) == 2


def test_early_stop_iteration_is_the_iteration_of_minimum_validation_loss(data):
    _, record = LT.train_network(LT.randomly_initialize(SIZES, rng=0), data, 40, batch_size=20, eval_every=10, rng=0)
    assert record["val_iterations"] == [0, 10, 20, 30, 40]
    assert record["early_stop_iteration"] == record["val_iterations"][int(np.argmin(record["val_loss"]))]
    assert record["val_loss_at_early_stop"] == min(record["val_loss"])


def test_interrupted_run_resumes_with_identical_results(data, tmp_path):
    config = _config()
    reference = LX.run_trial(config, data, 0, tmp_path / "uninterrupted")

    def interrupt_after_round_1(trial, round_index):
        if round_index == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        LX.run_trial(config, data, 0, tmp_path / "resumed", on_round_end=interrupt_after_round_1)
    assert len(json.loads((tmp_path / "resumed" / "trial_0" / "records.json").read_text())["records"]) == 2
    resumed = LX.run_trial(config, data, 0, tmp_path / "resumed")
    assert _strip_seconds(resumed) == _strip_seconds(reference)
    # A time-boxed run with fewer rounds can be extended later to the same result.
    LX.run_trial(_config(n_rounds=1), data, 0, tmp_path / "extended")
    assert _strip_seconds(LX.run_trial(config, data, 0, tmp_path / "extended")) == _strip_seconds(reference)
    for i in range(3):
        a = LX.load_arrays(tmp_path / "uninterrupted" / "trial_0" / "masks_round_4.npz")[f"mask{i}"]
        b = LX.load_arrays(tmp_path / "resumed" / "trial_0" / "masks_round_4.npz")[f"mask{i}"]
        assert np.array_equal(a, b)


def test_resuming_with_other_settings_is_refused(data, tmp_path):
    LX.run_trial(_config(n_rounds=0), data, 0, tmp_path)
    with pytest.raises(ValueError, match=r"other settings: lr=0.01 \(saved run: 0.0012\)"):
        LX.run_trial(_config(n_rounds=0, lr=1e-2), data, 0, tmp_path)
    with pytest.raises(ValueError, match=r"n_train=300 \(saved run: None\)"):
        LX.run_trial(_config(n_rounds=0), data, 0, tmp_path, data_settings={"n_train": 300})


def test_summarize_computes_the_targets_and_plots(tmp_path):
    def record(r, acc, it, control=None):
        rec = {"round": r, "fraction_remaining": 0.8**r, "test_accuracy_at_early_stop": acc,
               "early_stop_iteration": it, "test_accuracy_final": acc}
        if control is not None:
            rec["control"] = {"test_accuracy_at_early_stop": control, "early_stop_iteration": it,
                              "test_accuracy_final": control}
        return rec
    trials = [[record(r, 0.980 + 0.001 * (r in (7, 12)), 1000 - 30 * r, 0.97 if r == 12 else None)
               for r in range(13)] for _ in range(3)]
    summary = LX.summarize(trials)
    t = summary["targets"]
    assert t["ticket_21.1_within_0.2_of_dense_or_above"] and t["ticket_7.0_within_0.2_of_dense_or_above"]
    assert t["ticket_minus_control_7.0_points"] == pytest.approx(1.1)
    assert t["early_stop_21.1_earlier_than_dense"] and len(summary["rounds"]) == 13
    LX.plot_summary(summary, tmp_path / "lottery.png")
    assert (tmp_path / "lottery.png").stat().st_size > 0


def test_bad_lottery_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="rates: expected one pruning rate per layer"):
        LT.LotteryConfig(rates=(0.2, 0.1))
    with pytest.raises(ValueError, match="rewind_iteration"):
        LT.LotteryConfig(n_iterations=10, rewind_iteration=10)
    with pytest.raises(ValueError, match="n_iterations"):
        LT.LotteryConfig(n_iterations=0)


def test_lottery_command_runs_and_resumes_on_a_small_mnist_subset(shared_data_dir, tmp_path, capsys):
    from pruning.__main__ import main
    argv = ["lottery", "--iterations", "20", "--rounds", "1", "--trials", "1", "--n-train", "300",
            "--eval-every", "10", "--control-rounds", "1", "--data-dir", str(shared_data_dir), "--out", str(tmp_path)]
    main(argv)
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["n_trials"] == 1 and [e["round"] for e in first["rounds"]] == [0, 1]
    assert "control_test_accuracy_at_early_stop" in first["rounds"][1] and (tmp_path / "lottery.png").exists()
    main(argv + ["--summary-only"])
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["rounds"] == first["rounds"]
    # --quick fills in the options left unset; options given explicitly win
    quick = LX.config_from_args(argparse.Namespace(
        quick=True, iterations=1, rounds=None, trials=1, n_train=None, eval_every=1, control_rounds=[], rewind=0,
        seed=0))
    assert quick.n_iterations == 1 and quick.n_rounds == 7 and quick.control_rounds == ()


def test_a_kill_after_theta_k_is_written_but_before_records_redoes_round_0_from_theta_0(data, tmp_path):
    config = _config(rewind_iteration=5, n_rounds=2)
    reference = LX.run_trial(config, data, 0, tmp_path / "uninterrupted")
    # The files on disk when round 0 is killed just before records.json: theta_0, theta_k, the next mask.
    LX.run_trial(_config(rewind_iteration=5, n_rounds=0), data, 0, tmp_path / "killed")
    (tmp_path / "killed" / "trial_0" / "records.json").unlink()
    assert (tmp_path / "killed" / "trial_0" / "theta_rewind.npz").exists()
    assert _strip_seconds(LX.run_trial(config, data, 0, tmp_path / "killed")) == _strip_seconds(reference)


# -- issue 13 §2: paper settings as --full, headline table with 95% CIs, --summarize ----------------

def test_mean_ci95_is_the_student_t_interval_of_the_mean():
    from scipy import stats
    values = [0.97, 0.98, 0.975, 0.99]
    stat = LX.mean_ci95(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    # same formula evaluated two ways: equal up to float rounding
    assert stat["n"] == 4 and stat["ci95"] == pytest.approx((high - low) / 2, rel=1e-12)
    assert LX.mean_ci95([0.5]) == {"mean": 0.5, "std": 0.0, "ci95": None, "n": 1}


def _trial(shift, rounds=10):
    """Round records of one fake trial: the control at rounds 3, 7, 9 is 2 points worse and stops later."""
    records = []
    for r in range(rounds):
        rec = {"round": r, "fraction_remaining": 0.8**r, "test_accuracy_at_early_stop": 0.98 + shift,
               "early_stop_iteration": 1000 - 50 * r, "test_accuracy_final": 0.98}
        if r in (3, 7, 9):
            rec["control"] = {"test_accuracy_at_early_stop": 0.96 + shift, "early_stop_iteration": 2 * (1000 - 50 * r),
                              "test_accuracy_final": 0.96}
        records.append(rec)
    return records


def test_summary_pairs_ticket_and_control_per_trial_and_the_table_has_the_13_5_row():
    summary = LX.summarize([_trial(0.0), _trial(0.004), _trial(-0.002)])
    row = {e["round"]: e for e in summary["rounds"]}[9]
    assert row["reported"] and 9 in LX.REPORTED_ROUNDS
    # paired differences are all 2 points and all ratios 2: zero spread (float rounding only)
    assert row["ticket_minus_control_points"]["mean"] == pytest.approx(2.0)
    assert row["ticket_minus_control_points"]["ci95"] == pytest.approx(0.0, abs=1e-9)
    assert row["control_over_ticket_early_stop"]["mean"] == pytest.approx(2.0) and row["early_stop_iteration"]["n"] == 3
    table = LX.format_table(summary).splitlines()
    assert [line.split(" | ")[0] for line in table[2:]] == ["| 100.0", "| 51.2", "| 21.0", "| 13.4"]
    assert "±" in table[-1] and "2.00 ± 0.00" in table[-1]


def test_deviations_from_paper_are_none_for_full_and_labelled_for_the_defaults():
    full = LX.config_from_args(argparse.Namespace(full=True, quick=False, iterations=None, rounds=None, trials=None,
                                                  n_train=None, eval_every=None, control_rounds=None, rewind=0,
                                                  seed=0))
    assert (full.n_iterations, full.n_rounds, full.lr, full.batch_size, full.rates) == (50_000, 18, 1.2e-3, 60,
                                                                                           (0.2, 0.2, 0.1))
    assert full.control_rounds == (3, 7, 9, 12, 15, 18)
    assert LX.deviations_from_paper(full, 5) == []
    default = LT.LotteryConfig()
    lines = LX.deviations_from_paper(default, 3, 10000)
    assert all(line.startswith("Deviation from paper: ") for line in lines)
    assert {line.split()[3].split("=")[0] for line in lines} == {"n_iterations", "n_trials", "n_train"}


def test_full_and_quick_together_and_summarize_without_results_are_one_line_errors(capsys, tmp_path):
    from pruning.__main__ import main
    for argv, option in ((["lottery", "--full", "--quick", "--out", str(tmp_path)], "--full"),
                         (["lottery", "--summarize", str(tmp_path)], "--summarize")):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and len(err.splitlines()) == 1 and option in err


def test_summarize_prints_the_table_of_results_jsonl(capsys, tmp_path):
    from pruning.__main__ import main
    config = LX._config_json(LT.LotteryConfig(n_rounds=9, n_iterations=300))
    rows = [{"key": f"k{t}", "params": {"config": config, "data": {"n_train": 10000}, "trial": t},
             "result": _trial(0.001 * t)} for t in (2, 0, 1)]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["lottery", "--summarize", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| % weights remaining") and out[5].startswith("| 13.4 | 3 |")
    assert "Deviation from paper: n_iterations=300 instead of 50000" in out
    assert json.loads(out[-1])["n_trials"] == 3


def test_summarize_refuses_records_that_are_not_lists_of_round_dicts():
    for bad in ("x", None, ["x"]):
        with pytest.raises(TypeError, match="trial_records: expected a list"):
            LX.summarize(bad)


def test_the_pure_imp_loop_gives_the_records_of_the_resumable_experiment(data, tmp_path):
    # pruning.lottery.iterative_magnitude_pruning (no files) and pruning.experiments.lottery.run_trial
    # (saving every round) run the same rounds from the same named streams
    config = _config(rewind_iteration=5)
    pure = LT.iterative_magnitude_pruning(config, data, trial=1)
    saved = LX.run_trial(config, data, 1, tmp_path)
    assert pure == _strip_seconds(saved)


def test_the_lottery_steps_prune_reset_and_retrain_a_cnn():
    from nnlite.models import small_cnn
    rng = np.random.default_rng(0)

    def draw(n):
        y = rng.integers(0, 2, n)
        return (rng.normal(size=(n, 4, 4, 1)) + y[:, None, None, None]).astype(np.float32), y
    (X, y), (Xv, yv), (Xt, yt) = draw(40), draw(10), draw(10)
    images = {"X_train": X, "y_train": y, "X_val": Xv, "y_val": yv, "X_test": Xt, "y_test": yt}
    theta_0 = small_cnn((4, 4, 1), 2, channels=(2,), hidden=3, rng=0)
    trained, record = LT.train_network(theta_0, images, 6, batch_size=10, eval_every=3, rng=0)
    masks = LT.prune_parameters(trained, [0.5, 0.5, 0.2])                       # step 3, per weight layer
    ticket = LT.reset_parameters(masks, theta_0)                                # step 4
    for W0, W, m in zip(theta_0.weights, ticket.weights, masks):
        np.testing.assert_array_equal(W, W0 * m)                                # m * theta_0, bit for bit
    retrained, _ = LT.train_network(ticket, images, 6, batch_size=10, eval_every=3, rng=1)
    assert all(np.all(W[~m] == 0) for W, m in zip(retrained.weights, masks))
    assert 0 <= record["test_accuracy_final"] <= 1


def test_docs_lottery_full_claims_hold_on_the_committed_records():
    """The sentences of docs/pruning.md's "Full mode: the paper's settings, 2 of its 5 trials"."""
    path = Path(__file__).resolve().parents[2] / "docs" / "records" / "lottery_full.jsonl"
    summary = LX.summarize_records(path)
    assert summary["deviations"] == ["Deviation from paper: n_trials=2 instead of 5"]   # otherwise --full
    rows = {round(e["percent_remaining"], 1): e for e in summary["rounds"] if e["reported"]}
    mean = lambda pct, key: rows[pct][key]["mean"]  # noqa: E731
    lo = lambda pct, key: rows[pct][key]["mean"] - rows[pct][key]["ci95"]  # noqa: E731
    trials = [json.loads(line)["result"] for line in path.read_text().splitlines()]
    at = [{round(100 * r["fraction_remaining"], 1): r for r in t} for t in trials]
    acc, stop = "test_accuracy_at_early_stop", "early_stop_iteration"
    assert len(trials) == 2
    # dense: 98.04% at early stop 4,950 (4,200 and 5,700)
    assert round(100 * mean(100.0, acc), 2) == 98.04 and [t[100.0][stop] for t in at] == [4200, 5700]
    # tickets above their own trial's dense at 21.1, 13.5 and 7.0% in both trials; 3.6%: below in one; 1.9%: both
    for pct in (21.1, 13.5, 7.0):
        assert all(t[pct][acc] > t[100.0][acc] for t in at)
    assert sum(t[3.6][acc] < t[100.0][acc] for t in at) == 1 and all(t[1.9][acc] < t[100.0][acc] for t in at)
    assert [round(100 * (mean(p, acc) - mean(100.0, acc)), 2) for p in (13.5, 3.6)] == [0.33, 0.12]
    # faster than dense at 21.1%: earlier in both trials, by 19% and 37%
    assert [round(100 * (1 - t[21.1][stop] / t[100.0][stop])) for t in at] == [19, 37]
    # beats its control at every control round in both trials; the control stops later in both
    controls = (51.3, 21.1, 13.5, 7.0, 3.6, 1.9)
    assert all(t[p][acc] > t[p]["control"][acc] and t[p]["control"][stop] > t[p][stop] for t in at for p in controls)
    gaps = [mean(p, "ticket_minus_control_points") for p in controls]
    assert gaps == sorted(gaps) and (round(gaps[0], 2), round(gaps[-1], 2)) == (0.19, 1.21)   # rising
    assert [p for p in controls if lo(p, "ticket_minus_control_points") > 0] == [21.1]
    ratios = [mean(p, "control_over_ticket_early_stop") for p in controls]
    assert 1.55 < min(ratios) and max(ratios) < 4.05
    assert [p for p in controls if lo(p, "control_over_ticket_early_stop") > 1] == [1.9]
    assert (round(mean(21.1, "control_over_ticket_early_stop"), 2), round(mean(21.1, "ticket_minus_control_points"), 2)) \
        == (2.32, 0.41)
