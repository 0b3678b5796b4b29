"""Weight Agnostic Neural Networks (pruning.wann, pruning.wann_tasks)."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pruning import wann
from pruning.wann_tasks import area_matrix, downsample_area, load_task
from strategies import float_matrices, wann_genomes, wann_mutation_sequences

LINEAR, STEP, SIN, GAUSS, TANH, SIGMOID, INVERSE, ABS, RELU, COS = range(10)


def tiny_genome(activations_hidden=(), connections=(), enabled=None, n_inputs=2, n_outputs=1):
    """A genome from a list of (src, dst) connections (node 0 bias, 1..n_inputs inputs, then outputs, hidden)."""
    acts = [LINEAR] * (1 + n_inputs + n_outputs) + list(activations_hidden)
    src, dst = (np.array([c[i] for c in connections], dtype=int) for i in (0, 1))
    enabled = np.ones(len(connections), bool) if enabled is None else np.array(enabled)
    return wann.check_genome(wann.Genome(n_inputs, n_outputs, acts, src, dst, enabled))


def naive_outputs(genome, X, w):
    """Reference in float64: every node in topological order, one connection at a time.

    z = w * (sum of computed sources + sum of inputs), each sum in increasing
    source id, the evaluator's order of operations, so the results agree to
    the last bit even where step(sin(pi x)) is discontinuous.
    """
    v = np.zeros((genome.n_nodes, len(X)))
    v[0], v[1: 1 + genome.n_inputs] = 1.0, X.T
    for node in np.argsort(wann.node_depths(genome), kind="stable"):
        if node > genome.n_inputs:
            sources = np.sort(genome.src[genome.enabled & (genome.dst == node)])
            from_inputs, from_computed = np.zeros(len(X)), np.zeros(len(X))
            for s in sources:
                if s <= genome.n_inputs:
                    from_inputs += v[s]
                else:
                    from_computed += v[s]
            v[node] = wann.activation_forward(w * (from_computed + from_inputs), genome.activations[node])
    return v[genome.output_nodes].T


# --- activations ----------------------------------------------------------

def test_activations_match_hand_values():
    z = np.array([-1.0, 0.0, 0.5])
    expected = {LINEAR: z, STEP: [0, 0, 1], SIN: [0, 0, 1], GAUSS: np.exp(-z**2 / 2), TANH: np.tanh(z),
                SIGMOID: 1 / (1 + np.exp(-z)), INVERSE: -z, ABS: [1, 0, 0.5], RELU: [0, 0, 0.5], COS: [-1, 1, 0]}
    for k, values in expected.items():
        np.testing.assert_allclose(wann.activation_forward(z, k), values, atol=1e-12, err_msg=wann.ACTIVATIONS[k])


@pytest.mark.parametrize("k", range(len(wann.ACTIVATIONS)))
def test_activation_backward_matches_finite_differences(k):
    z = np.array([-1.3, -0.4, 0.3, 0.9])  # away from the kinks of step, abs and relu
    eps = 1e-6
    numeric = (wann.activation_forward(z + eps, k) - wann.activation_forward(z - eps, k)) / (2 * eps)
    np.testing.assert_allclose(wann.activation_backward(np.ones_like(z), z, k), numeric, atol=1e-6)


# --- step 2: evaluation by hand -------------------------------------------

def test_two_inputs_to_one_linear_output_give_w_times_their_sum():
    g = tiny_genome(connections=[(1, 3), (2, 3)])
    X = np.array([[1.0, 2.0], [0.5, -1.0]])
    out = wann.evaluate_genome(g, X, [-2.0, 0.5])
    np.testing.assert_allclose(out[:, :, 0], [[-6.0, 1.0], [1.5, -0.25]])


def test_hidden_relu_and_bias_by_hand():
    # x1 -> h (relu) -> o, bias -> o:  o = w * (relu(w * x1) + 1)
    g = tiny_genome([RELU], [(1, 4), (4, 3), (0, 3)])
    X = np.array([[2.0, 7.0], [-1.0, 7.0]])
    out = wann.evaluate_genome(g, X, [-1.0, 2.0])[:, :, 0]
    np.testing.assert_allclose(out, [[-1 * (0 + 1), -1 * (1 + 1)], [2 * (4 + 1), 2 * (0 + 1)]])


def test_disabled_connections_are_ignored_and_unfed_nodes_output_f_of_zero():
    # h (cos) has only a disabled input, so it outputs cos(0) = 1; o = w * 1
    g = tiny_genome([COS], [(1, 4), (4, 3), (2, 3)], enabled=[False, True, False])
    out = wann.evaluate_genome(g, np.array([[3.0, 5.0]]), [0.5, -2.0])
    np.testing.assert_allclose(out[:, 0, 0], [0.5, -2.0])


@given(wann_genomes(), st.data())
def test_evaluation_matches_naive_connection_by_connection_reference(genome, data):
    X = data.draw(float_matrices((3, genome.n_inputs), bound=2.0))
    assert wann.evaluate_genome(genome, X).dtype == np.float32
    out = wann.evaluate_genome(genome, X, wann.SHARED_WEIGHTS, dtype=np.float64)
    assert out.shape == (6, 3, genome.n_outputs)
    for i, w in enumerate(wann.SHARED_WEIGHTS):
        np.testing.assert_allclose(out[i], naive_outputs(genome, X, w), rtol=1e-12, atol=1e-12)


@given(wann_genomes(), st.sampled_from(wann.SHARED_WEIGHTS))
def test_every_enabled_connection_is_evaluated_at_the_shared_weight(genome, w):
    # The per-connection-weight network with every weight set to w equals the shared-weight network.
    X = np.random.default_rng(0).normal(size=(4, genome.n_inputs))
    plan = wann.plan_forward(genome)
    Ws = [np.where(m, w, 0.0) for m in wann.layer_masks(genome, plan)]
    tuned = wann.tuned_forward(plan, Ws, X)[1][:, plan.output_nodes]
    # Both in float64: a step after sin(pi * 1) (1.2e-16 in float64, -8.7e-08 in float32)
    # gives 1 in one precision and 0 in the other.
    shared = wann.evaluate_genome(genome, X, [w], dtype=np.float64)[0]
    np.testing.assert_allclose(shared, tuned, rtol=1e-10, atol=1e-10)


def test_rewards_are_minus_cross_entropy_and_accuracies_per_weight():
    outputs = np.array([[[2.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]]])  # (2 weights, 2 samples, 2 classes)
    rewards, acc = wann.rewards_and_accuracies(outputs, np.array([0, 1]))
    lse = lambda a, b: np.log(np.exp(a) + np.exp(b))  # noqa: E731
    np.testing.assert_allclose(rewards, [-(lse(2, 0) - 2 + np.log(2)) / 2, -(lse(0, 1) + lse(1, 0) - 0) / 2])
    np.testing.assert_allclose(acc, [0.5, 0.0])


# --- step 4: mutations ------------------------------------------------------

@given(wann_genomes(max_mutations=10), wann_mutation_sequences(), st.integers(0, 2**32 - 1))
def test_mutation_sequences_keep_children_acyclic_with_same_inputs_and_outputs(genome, names, seed):
    rng = np.random.default_rng(seed)
    before = [np.array(a) for a in (genome.activations, genome.src, genome.dst, genome.enabled)]
    child = genome
    for name in names:
        try:
            child = getattr(wann, name)(child, rng)
        except ValueError as error:  # the mutation does not apply to this genome
            assert name.split("_")[0] in str(error)
        wann.check_genome(child)  # ids in range, no duplicates, nothing into inputs / out of outputs, acyclic
        assert (child.n_inputs, child.n_outputs) == (genome.n_inputs, genome.n_outputs)
        depth = wann.node_depths(child)
        assert np.all(depth[child.src] < depth[child.dst])  # feed-forward by layer
    for a, b in zip(before, (genome.activations, genome.src, genome.dst, genome.enabled)):
        np.testing.assert_array_equal(a, b)  # the parent is untouched


def test_add_node_splits_one_connection_into_two_through_a_new_hidden_node():
    g = tiny_genome(connections=[(1, 3), (2, 3)])
    child = wann.add_node(g, rng=0)
    assert child.n_nodes == g.n_nodes + 1 and len(child.src) == len(g.src) + 2
    split = np.flatnonzero(~child.enabled)
    assert len(split) == 1
    a, b, new = child.src[split[0]], child.dst[split[0]], g.n_nodes
    assert list(zip(child.src[-2:], child.dst[-2:])) == [(a, new), (new, b)] and child.enabled[-2:].all()


def test_add_connection_enable_and_change_activation_do_what_they_say():
    g = tiny_genome([TANH], [(1, 4), (4, 3)], n_inputs=2)
    child = wann.add_connection(g, rng=1)
    assert len(child.src) == 3 and child.enabled.all()
    assert (child.src[-1], child.dst[-1]) in {(0, 3), (2, 3), (0, 4), (2, 4), (1, 3)}
    disabled = g.replace(enabled=[True, False])
    assert wann.enable_connection(disabled, rng=0).enabled.all()
    changed = wann.change_activation(g, rng=0)
    assert changed.activations[4] != TANH and np.array_equal(changed.activations[:4], g.activations[:4])


def test_mutations_that_do_not_apply_raise_and_mutate_redraws():
    complete = tiny_genome(connections=[(0, 3), (1, 3), (2, 3)])
    for op in (wann.add_connection, wann.enable_connection, wann.change_activation):
        with pytest.raises(ValueError, match=op.__name__):
            op(complete, rng=0)
    with pytest.raises(ValueError, match="add_node"):
        wann.add_node(complete.replace(enabled=[False] * 3), rng=0)
    # only add_node applies, whatever the probabilities say
    child = wann.mutate(complete, rng=0, mutation_probabilities=(1, 1e-9, 1, 1))
    assert child.n_nodes == complete.n_nodes + 1


# --- step 3: non-dominated sorting and crowding distance --------------------

def test_nondominated_sort_on_a_hand_example():
    objectives = [[1, 1], [2, 2], [0, 3], [1, 0], [2, 2]]
    np.testing.assert_array_equal(wann.nondominated_sort(objectives), [1, 0, 0, 2, 0])


@given(st.integers(1, 12).flatmap(lambda n: float_matrices((n, 2), bound=3.0)))
def test_first_front_contains_no_dominated_member_and_later_fronts_are_dominated(objectives):
    front = wann.nondominated_sort(objectives)
    def dominated_by(i, j):
        return np.all(objectives[j] >= objectives[i]) and np.any(objectives[j] > objectives[i])
    n = len(objectives)
    for i in np.flatnonzero(front == 0):
        assert not any(dominated_by(i, j) for j in range(n))
    for i in np.flatnonzero(front > 0):
        assert any(dominated_by(i, j) for j in np.flatnonzero(front == front[i] - 1))


def test_crowding_distance_on_hand_examples():
    np.testing.assert_allclose(wann.crowding_distance([[0.0], [1.0], [3.0], [4.0]]), [np.inf, 0.75, 0.75, np.inf])
    # two objectives on a front: (0, 4), (1, 2), (3, 1), (4, 0); ranges 4 and 4
    d = wann.crowding_distance([[0, 4], [1, 2], [3, 1], [4, 0]])
    np.testing.assert_allclose(d, [np.inf, (3 - 0) / 4 + (4 - 1) / 4, (4 - 1) / 4 + (2 - 0) / 4, np.inf])
    np.testing.assert_allclose(wann.crowding_distance([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]), [np.inf, 0, np.inf])


def test_rank_population_orders_by_front_then_crowding():
    objectives = [[1, 1], [0, 4], [1, 2], [3, 1], [4, 0]]  # front 0: 1..4 (0 is dominated by 2)
    rank = wann.rank_population(objectives)
    assert rank[0] == 4  # the only member of front 1 is last
    assert set(rank[[1, 4]]) == {0, 1}  # the extremes of front 0 (infinite crowding) first


def test_choose_objectives_uses_connections_in_about_80_percent_of_generations():
    rewards, n_conn = np.array([[-1.0, -3.0], [-2.0, -2.5]]), np.array([5, 7])
    obj, name = wann.choose_objectives(rewards, n_conn, rng=0, p_connection_objective=1.0)
    assert name == "connections" and np.allclose(obj, [[-2, -5], [-2.25, -7]])
    obj, name = wann.choose_objectives(rewards, n_conn, rng=0, p_connection_objective=0.0)
    assert name == "max" and np.allclose(obj, [[-2, -1], [-2.25, -2]])
    rng = np.random.default_rng(0)
    share = np.mean([wann.choose_objectives(rewards, n_conn, rng)[1] == "connections" for _ in range(2000)])
    assert 0.77 < share < 0.83


def test_selection_keeps_elites_unchanged_and_never_breeds_from_culled_members():
    # Mutations keep n_inputs, so a child's n_inputs names its parent's rank.
    population = [wann.initial_genome(i + 1, 2, rng=i, p_enable=0.5) for i in range(10)]
    rank = np.arange(10)
    children = wann.select_and_reproduce(population, rank, rng=0, elite_fraction=0.2, cull_fraction=0.5,
                                         tournament_size=2)
    assert len(children) == 10 and children[0] is population[0] and children[1] is population[1]
    assert all(c.n_inputs <= 5 for c in children[2:])


# --- step 5: determinism and resume -----------------------------------------

def small_problem():
    rng = np.random.default_rng(0)
    X = rng.random((200, 6)).astype(np.float32)
    return X, (X[:, :3].sum(1) > X[:, 3:].sum(1)).astype(np.int64)


def small_config(n_generations):
    return wann.SearchConfig(population_size=12, n_generations=n_generations, batch_size=64, p_enable=0.3,
                             tournament_size=3)


def test_search_is_deterministic_for_a_given_rng():
    X, y = small_problem()
    a = wann.run_search(wann.start_search(6, 2, small_config(6), rng=3), X, y)
    b = wann.run_search(wann.start_search(6, 2, small_config(6), rng=3), X, y)
    assert a.history == b.history
    assert all(wann.genomes_equal(g, h) for g, h in zip(a.population, b.population))


def test_resumed_search_equals_uninterrupted_search(tmp_path):
    X, y = small_problem()
    straight = wann.run_search(wann.start_search(6, 2, small_config(8), rng=5), X, y)
    path = tmp_path / "checkpoint.npz"
    wann.run_search(wann.start_search(6, 2, small_config(3), rng=5), X, y, checkpoint_path=path)
    resumed = wann.load_state(path)
    assert resumed.generation == 3
    resumed.config.n_generations = 8
    wann.run_search(resumed, X, y, checkpoint_path=path)
    assert resumed.history == straight.history
    assert resumed.rng.bit_generator.state == straight.rng.bit_generator.state
    assert all(wann.genomes_equal(g, h) for g, h in zip(resumed.population, straight.population))
    with np.load(path, allow_pickle=False) as f:  # plain arrays and a JSON string, no pickled objects
        assert f["src"].dtype == np.int32 and f["meta"].dtype.kind == "U"


def test_parallel_population_evaluation_equals_serial():
    from concurrent.futures import ProcessPoolExecutor
    X, y = small_problem()
    population = wann.start_search(6, 2, small_config(1), rng=0).population
    serial = wann.evaluate_population(population, X, y)
    with ProcessPoolExecutor(2) as executor:
        parallel = wann.evaluate_population(population, X, y, executor=executor, n_jobs=2)
    for s, p in zip(serial, parallel):   # exact: the same code on the same arrays in another process;
        np.testing.assert_array_equal(s, p)   # same bits on any core count is the house rule
    a = wann.run_search(wann.start_search(6, 2, small_config(2), rng=1), X, y, n_jobs=1)
    b = wann.run_search(wann.start_search(6, 2, small_config(2), rng=1), X, y, n_jobs=2)
    assert a.history == b.history and all(wann.genomes_equal(g, h) for g, h in zip(a.population, b.population))


# --- reports: ensemble and tuned weights ------------------------------------

def test_ensemble_vote_and_mean_softmax():
    outputs = np.array([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]], [[0.0, 1.0, 0.0]], [[9.0, 0.0, 0.0]]])
    assert wann.ensemble_predict(outputs, "vote")[0] == 0  # a 2-2 tie goes to the lower class
    assert wann.ensemble_predict(outputs[:3], "vote")[0] == 1
    assert wann.ensemble_predict(outputs, "mean_softmax")[0] == 0
    with pytest.raises(ValueError, match="method"):
        wann.ensemble_predict(outputs, "max")


def test_tuned_backward_matches_finite_differences():
    g = tiny_genome([TANH, SIGMOID], [(1, 5), (2, 5), (5, 6), (0, 6), (6, 3), (5, 4), (1, 4), (2, 3)], n_outputs=2)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 2)), np.array([0, 1, 1, 0, 1])
    plan = wann.plan_forward(g)
    masks = wann.layer_masks(g, plan)
    Ws = [np.where(m, rng.normal(size=m.shape), 0.0) for m in masks]

    def loss(Ws):
        outputs = wann.tuned_forward(plan, Ws, X)[1][:, plan.output_nodes]
        return wann.functional.softmax_cross_entropy_forward(outputs, y)
    Zs, A = wann.tuned_forward(plan, Ws, X)
    dOut = wann.functional.softmax_cross_entropy_backward(A[:, plan.output_nodes], y)
    dWs = wann.tuned_backward(plan, Ws, Zs, A, dOut)
    eps = 1e-6
    for W, dW, m in zip(Ws, dWs, masks):
        for i, j in zip(*np.nonzero(m)):
            W[i, j] += eps
            up = loss(Ws)
            W[i, j] -= 2 * eps
            down = loss(Ws)
            W[i, j] += eps
            assert abs((up - down) / (2 * eps) - dW[i, j]) < 1e-6


def test_training_individual_weights_lowers_the_loss_and_keeps_non_connections_zero():
    X, y = small_problem()
    g = tiny_genome([TANH], [(1, 9), (2, 9), (9, 7), (4, 8), (5, 8), (0, 8)], n_inputs=6, n_outputs=2)
    plan, Ws = wann.train_individual_weights(g, X, y, init_weight=0.5, epochs=20, batch_size=32, rng=0)
    start = [np.where(m, np.float32(0.5), np.float32(0)) for m in wann.layer_masks(g, plan)]
    ce = lambda Ws: wann.functional.softmax_cross_entropy_forward(  # noqa: E731
        wann.tuned_forward(plan, Ws, X)[1][:, plan.output_nodes], y)
    assert ce(Ws) < ce(start) - 0.05
    assert all(np.all(W[~m] == 0) for W, m in zip(Ws, wann.layer_masks(g, plan)))


def test_digits8_cli_writes_report_drawing_and_resumes(tmp_path, capsys):
    from pruning.__main__ import main
    argv = ["wann", "--task", "digits8", "--population", "8", "--generations", "3", "--batch-size", "64",
            "--tune-epochs", "1", "--out", str(tmp_path)]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("best_weight_accuracy", "ensemble_vote_accuracy", "ensemble_mean_softmax_accuracy", "tuned_accuracy"):
        assert 0 <= report[key] <= 1
    assert report["generations"] == 3 and (tmp_path / "champion.png").stat().st_size > 0
    assert wann.load_genome(tmp_path / "champion.npz").n_connections == report["n_connections"]
    assert main(argv[:6] + ["5", "--resume"] + argv[7:]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["generations"] == 5


# --- tasks ------------------------------------------------------------------

def test_area_downsampling_averages_blocks():
    R = area_matrix(28, 16)
    np.testing.assert_allclose(R.sum(axis=1), 1.0)
    np.testing.assert_allclose(R.sum(axis=0), 16 / 28)  # every input pixel counts equally
    images = np.random.default_rng(0).random((2, 28, 28))
    halves = downsample_area(images, 14)
    np.testing.assert_allclose(halves, images.reshape(2, 14, 2, 14, 2).mean(axis=(2, 4)), rtol=1e-5)
    np.testing.assert_allclose(downsample_area(np.full((1, 28, 28), 7.0)), 7.0, rtol=1e-6)


def test_digits8_task_is_split_and_scaled():
    task = load_task("digits8")
    assert task.X_train.shape == (1197, 64) and task.X_val.shape == (300, 64) and task.X_test.shape == (300, 64)
    assert task.X_train.min() >= 0 and task.X_train.max() <= 1


def test_mnist16_task_is_16_by_16(shared_data_dir):
    task = load_task("mnist16", data_dir=shared_data_dir)
    assert task.X_train.shape == (55000, 256) and task.X_val.shape == (5000, 256) and task.X_test.shape == (10000, 256)
    assert 0 <= task.X_test.min() and task.X_test.max() <= 1


# --- bad input ----------------------------------------------------------------

def test_bad_inputs_raise_clear_errors():
    g = tiny_genome(connections=[(1, 3)])
    with pytest.raises(ValueError, match="empty population"):
        wann.evaluate_population([], np.zeros((2, 2)), np.zeros(2, int))
    with pytest.raises(ValueError, match="X: expected 2 features"):
        wann.evaluate_genome(g, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="weights"):
        wann.evaluate_genome(g, np.zeros((2, 2)), [])
    with pytest.raises(ValueError, match="cycle"):
        wann.check_genome(wann.Genome(1, 1, [0, 0, 0, 0, 0], [1, 3, 4, 3], [3, 4, 3, 2], [True] * 4))
    with pytest.raises(ValueError, match="into the bias or an input"):
        wann.check_genome(wann.Genome(1, 1, [0, 0, 0], [2], [1], [True]))
    with pytest.raises(ValueError, match="out of an output"):
        wann.check_genome(wann.Genome(1, 1, [0, 0, 0, 0], [2], [3], [True]))
    with pytest.raises(TypeError, match="Genome"):
        wann.check_genome("not a genome")
    with pytest.raises(ValueError, match="population_size"):
        wann.initial_population(2, 1, 1)
    with pytest.raises(ValueError, match="mutation_probabilities"):
        wann.mutate(g, 0, mutation_probabilities=(1, 1))
    with pytest.raises(ValueError, match="rank"):
        wann.select_and_reproduce([g, g], np.arange(3))
    with pytest.raises(ValueError, match="objectives"):
        wann.nondominated_sort(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="activation"):
        wann.initial_genome(2, 1, output_activation="softplus")
    with pytest.raises(ValueError, match="task"):
        load_task("cifar")
    with pytest.raises(ValueError, match="n_out"):
        area_matrix(8, 16)
