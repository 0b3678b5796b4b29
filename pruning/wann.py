"""Weight Agnostic Neural Networks (Gaier & Ha, NeurIPS 2019), line by line.

Adam Gaier and David Ha, "Weight Agnostic Neural Networks", NeurIPS 2019
(arXiv:1906.04358). The search is over *topologies*, not weights: every
enabled connection of a network carries one shared weight value ``w``, and a
network is judged by how well it does across several values of ``w``.

Algorithm (the numbered steps of the paper's Section 3 / Fig. 2)
------------------------------------------------------------------
1. **Initialise** a population of minimal networks: every input (and the bias)
   is wired to every output, each connection enabled with a small probability
   (:func:`initial_population`).
2. **Evaluate** each network at the shared weights {-2, -1, -0.5, 0.5, 1, 2}
   (:func:`evaluate_population`; one forward pass evaluates all weights, see
   :func:`evaluate_genome`).
3. **Rank** by Pareto dominance, non-dominated sorting with crowding distance
   (:func:`nondominated_sort`, :func:`crowding_distance`,
   :func:`rank_population`): in 80% of generations on (mean performance,
   fewer connections), in 20% on (mean performance, max performance)
   (:func:`choose_objectives`).
4. **Vary**: tournament selection with elitism and culling; each child gets
   one topological mutation (:func:`select_and_reproduce`, :func:`mutate`):
   add a connection (feed-forward only, :func:`add_connection`), insert a node
   by splitting a connection (:func:`add_node`), re-enable a connection
   (:func:`enable_connection`), or change a hidden node's activation
   (:func:`change_activation`).
5. **Repeat** from step 2 (:func:`run_search`; the state after any generation
   continues bit for bit).

After the search, :func:`report_champion` measures the champion the ways
the paper does: a random shared weight (:func:`random_shared_weight_accuracies`),
the best single shared weight, the ensemble over weight values, and
individually tuned weights (:func:`train_individual_weights`).

Settings the paper leaves open follow the authors' released code; where the
two differ, and for this module's first version, :data:`DEFAULTS` names each
choice (``SearchConfig.from_defaults``). A genome never changes, so its
layering and evaluation plan are cached (:func:`cached_plan`), which changes
no result.

The experiment (tasks, checkpoints, the population evaluated as a grid,
drawings, ``python -m pruning wann``) is ``pruning.experiments.wann``; this
module is the algorithm only.

Genome layout
-------------
Node ids: ``0`` is the bias (constant 1), ``1..n_inputs`` the inputs, the next
``n_outputs`` ids the outputs, then the hidden nodes in order of creation.
``activations[i]`` indexes :data:`ACTIVATIONS`. Connection ``c`` goes
``src[c] -> dst[c]`` and counts only if ``enabled[c]``. Disabled connections
stay in the genome (they may be re-enabled) and count for acyclicity.

Notation: outside this module rows are samples (``X (n, n_inputs)``). Inside
the population evaluator node values are stored node-major,
``values (n_nodes, n_weights, n)``, so each layer is one CSR product with the
sparse operand on the left (scipy's fast path, see the spec's CSR facts).
With the compiled backend (``nnlite.sparse.backend() == "numba"``) a layer
is instead one compiled pass (``pruning._wann_kernels``) over the rows of
:func:`kernel_layout`, with the same bits.
"""
import dataclasses
import time

import numpy as np
import scipy.sparse as sp

from nnlite import functional, sparse
from nnlite._checks import check_float_array, check_int, check_labels, check_n_features, check_rng
from nnlite.optim import Adam
from pruning import _wann_kernels as _kernels

#: The shared weight values of WANN step 2.
SHARED_WEIGHTS = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)

#: The activation set of the paper (index = the id stored in a genome).
ACTIVATIONS = ("linear", "step", "sin", "gaussian", "tanh", "sigmoid", "inverse", "abs", "relu", "cos")

#: The four topological mutations of WANN step 4 (order of ``mutation_probabilities``).
MUTATIONS = ("add_connection", "add_node", "enable_connection", "change_activation")

#: Values of the named options where the paper, the authors' code and nnlite's first version differ.
SIZE_OBJECTIVES = ("negative", "inverse")
ADD_CONNECTION_SAMPLINGS = ("source-first", "uniform-pair")
INAPPLICABLE_MUTATIONS = ("keep-parent", "redraw")
ELITISMS = ("floor-after-cull", "round-before-cull")

#: Search defaults (``SearchConfig.from_defaults``). The paper (Gaier & Ha 2019) states the 80/20 objective
#: split, the six shared weights and the four mutations, but no mutation probabilities, elite or cull rounding,
#: add-connection sampling or what happens to an inapplicable mutation: there "paper" follows the authors'
#: released code (google/brain-tokyo-workshop, WANNRelease/WANN) and says so. The two differ in the size
#: objective only (the paper's "fewer connections" vs the code's 1 / connections). "nnlite-v1" is this
#: module before issue 13, kept so the figures made with it reproduce.
DEFAULTS = {
    "paper": {"mutation_probabilities": (0.20, 0.25, 0.05, 0.50), "elitism": "floor-after-cull",
              "inapplicable_mutation": "keep-parent", "add_connection_sampling": "source-first",
              "size_objective": "negative"},
    "released-code": {"mutation_probabilities": (0.20, 0.25, 0.05, 0.50), "elitism": "floor-after-cull",
                      "inapplicable_mutation": "keep-parent", "add_connection_sampling": "source-first",
                      "size_objective": "inverse"},
    "nnlite-v1": {"mutation_probabilities": (0.25, 0.25, 0.05, 0.45), "elitism": "round-before-cull",
                  "inapplicable_mutation": "redraw", "add_connection_sampling": "uniform-pair",
                  "size_objective": "negative"},
}


# ---------------------------------------------------------------------------
# Activations: forward and derivative pairs
# ---------------------------------------------------------------------------

def check_activation_index(k, name="k"):
    """An activation id: an int in [0, len(ACTIVATIONS)) (negative ids would wrap around silently)."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{name}: expected an activation id, an int in [0, {len(ACTIVATIONS)}), found "
                        f"{type(k).__name__} {k!r}; use activation_id(name) for a name")
    if not 0 <= k < len(ACTIVATIONS):
        raise ValueError(f"{name}: expected an activation id in [0, {len(ACTIVATIONS)}), found {k}")
    return int(k)


def activation_forward(Z, k):
    """Apply activation ``ACTIVATIONS[k]`` elementwise to ``Z`` (any shape)."""
    name = ACTIVATIONS[check_activation_index(k)]
    if name == "linear":
        return Z
    if name == "step":  # unsigned step: 1 where Z > 0
        return (Z > 0).astype(Z.dtype)
    if name == "sin":
        return np.sin(np.pi * Z)
    if name == "gaussian":
        return np.exp(-Z * Z / 2)
    if name == "tanh":
        return np.tanh(Z)
    if name == "sigmoid":  # written through tanh: stable for any Z
        return (np.tanh(Z / 2) + 1) / 2
    if name == "inverse":
        return -Z
    if name == "abs":
        return np.abs(Z)
    if name == "relu":
        return np.maximum(Z, 0)
    return np.cos(np.pi * Z)  # "cos"


def activation_backward(dA, Z, k):
    """dZ = dA * f'(Z) for activation ``ACTIVATIONS[k]`` (step: f' = 0)."""
    name = ACTIVATIONS[check_activation_index(k)]
    derivative = {
        "linear": lambda: np.ones_like(Z),
        "step": lambda: np.zeros_like(Z),
        "sin": lambda: np.pi * np.cos(np.pi * Z),
        "gaussian": lambda: -Z * np.exp(-Z * Z / 2),
        "tanh": lambda: 1 - np.tanh(Z) ** 2,
        "sigmoid": lambda: (1 - np.tanh(Z / 2) ** 2) / 4,
        "inverse": lambda: -np.ones_like(Z),
        "abs": lambda: np.sign(Z),
        "relu": lambda: (Z > 0).astype(Z.dtype),
        "cos": lambda: -np.pi * np.sin(np.pi * Z),
    }[name]
    return dA * derivative()


def activation_id(name, argument="name"):
    """The id of an activation name, with an error naming ``argument`` and listing the valid names."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{argument}: expected an activation name from {ACTIVATIONS}, found {name!r}")
    return ACTIVATIONS.index(name)


# ---------------------------------------------------------------------------
# Genomes
# ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True, eq=False)
class Genome:
    """A network: nodes with activations, connections with enabled flags.

    Parameters
    ----------
    n_inputs, n_outputs : int
    activations : ndarray of shape (n_nodes,), int
        Ids into :data:`ACTIVATIONS` (ignored for the bias and inputs).
    src, dst : ndarray of shape (n_connections,), int
    enabled : ndarray of shape (n_connections,), bool

    The arrays are copied and made read-only: a genome never changes, the
    mutations return new genomes.
    """
    n_inputs: int
    n_outputs: int
    activations: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    enabled: np.ndarray

    def __post_init__(self):
        for name, dtype in (("activations", np.int8), ("src", np.int32), ("dst", np.int32), ("enabled", bool)):
            value = np.asarray(getattr(self, name))
            if value.size and (value.dtype == bool) != (dtype is bool) or value.size and not (
                    value.dtype == bool or np.issubdtype(value.dtype, np.integer)):
                raise TypeError(f"genome.{name}: expected {'bools' if dtype is bool else 'integer ids'}, "
                                f"found dtype {value.dtype}")
            if value.size and dtype is not bool and not (np.iinfo(dtype).min <= value.min()
                                                          and value.max() <= np.iinfo(dtype).max):
                raise ValueError(f"genome.{name}: expected ids that fit {np.dtype(dtype).name}, found range "
                                 f"[{value.min()}, {value.max()}]")
            value = value.astype(dtype)
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        check_genome(self)  # the same check as load_genome's: a Genome is valid from birth

    @property
    def n_nodes(self):
        return len(self.activations)

    @property
    def n_connections(self):
        """The number of *enabled* connections (the size objective)."""
        return int(self.enabled.sum())

    @property
    def output_nodes(self):
        return np.arange(1 + self.n_inputs, 1 + self.n_inputs + self.n_outputs)

    @property
    def hidden_nodes(self):
        return np.arange(1 + self.n_inputs + self.n_outputs, self.n_nodes)

    def replace(self, **changes):
        """A new genome with some arrays replaced (its caches are not copied)."""
        return dataclasses.replace(self, **changes)

    def __getstate__(self):
        # The cached layering and plan (see :func:`cached_plan`) stay behind:
        # a worker process rebuilds them cheaper than they pickle.
        return {k: v for k, v in self.__dict__.items() if k != "_memo"}


def genomes_equal(a, b):
    """True when two genomes have identical nodes and connections."""
    return (a.n_inputs == b.n_inputs and a.n_outputs == b.n_outputs
            and all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("activations", "src", "dst", "enabled")))


def node_depths(genome):
    """Layer of every node: inputs and bias 0, hidden = longest path from the
    inputs (over all connections, enabled or not), outputs one past the
    deepest hidden node.

    Returns
    -------
    depth : ndarray of shape (n_nodes,), int

    Raises ``ValueError`` if the connections contain a cycle.
    """
    depth = np.zeros(genome.n_nodes, dtype=np.int64)
    for _ in range(genome.n_nodes + 1):
        new = depth.copy()
        np.maximum.at(new, genome.dst, depth[genome.src] + 1)
        new[: 1 + genome.n_inputs] = 0
        if np.array_equal(new, depth):
            break
        depth = new
    else:
        raise ValueError("genome: expected a feed-forward (acyclic) network, found a cycle among its connections")
    is_hidden = np.zeros(genome.n_nodes, dtype=bool)
    is_hidden[genome.hidden_nodes] = True
    depth[genome.output_nodes] = (depth[is_hidden].max() if is_hidden.any() else 0) + 1
    return depth


# --- caches: a genome never changes, so its layering and plan are computed once ---

#: Set to False (e.g. by ``benchmarks/pruning.py --compare-uncached``) to rebuild every time, as before the cache.
CACHE_ENABLED = True

#: Plans by genome content, for genomes that arrive as new objects in a worker process evaluating a chunk
#: of the population (switched on there by :func:`use_content_cache`); bounded, oldest dropped first.
_PLANS_BY_CONTENT = {}
_MAX_PLANS_BY_CONTENT = 512
_CONTENT_CACHE_ON = False


def use_content_cache():
    """Switch on the plan cache by content, in a worker process (in the main process, children are new
    genomes and elites keep their object cache, so hashing every genome's content would cost more than it
    saves)."""
    global _CONTENT_CACHE_ON
    _CONTENT_CACHE_ON = True


def _memo(genome):
    """The genome's own cache dict (created on first use; never pickled)."""
    memo = genome.__dict__.get("_memo")
    if memo is None:
        memo = {}
        object.__setattr__(genome, "_memo", memo)
    return memo


def cached_depths(genome):
    """:func:`node_depths`, computed once per genome object (read-only array)."""
    if not CACHE_ENABLED:
        return node_depths(genome)
    memo = _memo(genome)
    if "depth" not in memo:
        depth = node_depths(genome)
        depth.setflags(write=False)
        memo["depth"] = depth
    return memo["depth"]


def _content_key(genome):
    return (genome.n_inputs, genome.n_outputs, genome.activations.tobytes(), genome.src.tobytes(),
            genome.dst.tobytes(), genome.enabled.tobytes())


def cached_plan(genome):
    """:func:`plan_forward`, kept across generations: on the genome object
    (elites and unchanged children are the same objects) and, bounded, by
    content (a genome unpickled in a worker is a new object). The plan is a
    pure function of the genome, so caching changes no result."""
    if not CACHE_ENABLED:
        return plan_forward(genome)
    memo = _memo(genome)
    if "plan" not in memo:
        if not _CONTENT_CACHE_ON:
            memo["plan"] = plan_forward(genome)
            return memo["plan"]
        key = _content_key(genome)
        plan = _PLANS_BY_CONTENT.pop(key, None) or plan_forward(genome)
        _PLANS_BY_CONTENT[key] = plan  # most recent last
        while len(_PLANS_BY_CONTENT) > _MAX_PLANS_BY_CONTENT:
            del _PLANS_BY_CONTENT[next(iter(_PLANS_BY_CONTENT))]
        memo["plan"] = plan
    return memo["plan"]


def _layer_groups(activations, nodes):
    """(activation id, positions in ``nodes``) for each activation used in a layer."""
    acts = activations[nodes]
    return [(int(k), np.flatnonzero(acts == k)) for k in np.unique(acts)]


def _inherit_cache(parent, child, *, new_connection=None):
    """Pass on what a mutation leaves unchanged (only what the parent has cached).

    add_connection, enable_connection and change_activation keep the layering
    (:func:`node_depths` runs over all connections, enabled or not, and a new
    connection goes from a shallower to a deeper node, so no longest path
    changes). Of the plan, change_activation keeps the connection matrices
    (its activation groups are recomputed); add_connection and
    enable_connection (``new_connection = (src, dst)``, now enabled) change
    one matrix of one layer, which is rebuilt.
    """
    if not CACHE_ENABLED or "_memo" not in parent.__dict__:
        return child
    memo, child_memo = parent.__dict__["_memo"], _memo(child)
    if "depth" in memo:
        child_memo["depth"] = memo["depth"]
    if "plan" not in memo:
        return child
    plan = memo["plan"]
    if new_connection is None:
        layers = [(nodes, _layer_groups(child.activations, nodes)) for nodes, _ in plan.layers]
        child_memo["plan"] = dataclasses.replace(plan, layers=layers)
        return child
    src, dst = new_connection
    layer = int(memo["depth"][dst]) - 1  # layers are the depths 1, 2, ... in order
    from_input = src <= child.n_inputs
    matrix = _layer_matrices(child, plan.layers[layer][0], child.src[child.enabled], child.dst[child.enabled],
                             (from_input, not from_input))[0 if from_input else 1]
    part = list(plan.from_inputs if from_input else plan.from_computed)
    part[layer] = matrix
    child_memo["plan"] = dataclasses.replace(plan, **{"from_inputs" if from_input else "from_computed": part})
    return child


def _check_is_genome(genome):
    """A Genome is checked when it is built and never changes, so a type check is all an entry point needs."""
    if not isinstance(genome, Genome):
        raise TypeError(f"genome: expected a pruning.wann.Genome, found {type(genome).__name__}; build one with "
                        "initial_genome or load_genome")
    return genome


def check_genome(genome):
    """Validate a genome (on construction and on load); raise ``ValueError``/``TypeError`` naming the field."""
    _check_is_genome(genome)
    check_int(genome.n_inputs, "n_inputs")
    check_int(genome.n_outputs, "n_outputs")
    n_fixed = 1 + genome.n_inputs + genome.n_outputs
    if genome.activations.ndim != 1 or genome.n_nodes < n_fixed:
        raise ValueError(f"activations: expected one id per node, at least {n_fixed} (bias, {genome.n_inputs} inputs, "
                         f"{genome.n_outputs} outputs), found shape {genome.activations.shape}")
    if genome.activations.min() < 0 or genome.activations.max() >= len(ACTIVATIONS):
        raise ValueError(f"activations: expected ids in [0, {len(ACTIVATIONS)}), found range "
                         f"[{genome.activations.min()}, {genome.activations.max()}]")
    for name in ("src", "dst", "enabled"):
        if getattr(genome, name).ndim != 1 or getattr(genome, name).shape != genome.src.shape:
            raise ValueError(f"{name}: expected src, dst, enabled of one common 1-d shape (one entry per "
                             f"connection), found {genome.src.shape}, {genome.dst.shape}, {genome.enabled.shape}")
    if len(genome.src) == 0:
        return genome
    for name in ("src", "dst"):
        ids = getattr(genome, name)
        if ids.min() < 0 or ids.max() >= genome.n_nodes:
            raise ValueError(f"{name}: expected node ids in [0, {genome.n_nodes}), found range "
                             f"[{ids.min()}, {ids.max()}]")
    if np.any(genome.dst <= genome.n_inputs):
        raise ValueError(f"dst: found a connection into the bias or an input (ids <= {genome.n_inputs}); inputs "
                         "have no incoming connections")
    if np.any((genome.src > genome.n_inputs) & (genome.src < n_fixed)):
        raise ValueError("src: found a connection out of an output node; outputs are the last layer")
    pairs = np.sort(genome.src.astype(np.int64) * genome.n_nodes + genome.dst)  # sorted: repeats are neighbours
    if np.any(pairs[1:] == pairs[:-1]):
        raise ValueError("src, dst: found the same (src, dst) connection twice")
    cached_depths(genome)  # raises on cycles (and keeps the layering for the genome's plan)
    return genome


def initial_genome(n_inputs, n_outputs, rng=None, *, p_enable=0.05, output_activation="linear"):
    """WANN step 1: every input and the bias wired to every output, each connection
    enabled with probability ``p_enable``. Output nodes use
    ``output_activation`` (linear by default: their values are the logits of
    the softmax in the reward) and never change it: change_activation only
    touches hidden nodes."""
    rng = check_rng(rng)
    n_inputs, n_outputs = check_int(n_inputs, "n_inputs"), check_int(n_outputs, "n_outputs")
    _check_probability(p_enable, "p_enable")
    n_fixed = 1 + n_inputs + n_outputs
    activations = np.full(n_fixed, activation_id("linear"))
    activations[1 + n_inputs:] = activation_id(output_activation, "output_activation")
    src, dst = np.meshgrid(np.arange(1 + n_inputs), np.arange(1 + n_inputs, n_fixed), indexing="ij")
    enabled = rng.random(src.size) < p_enable
    return Genome(n_inputs, n_outputs, activations, src.ravel(), dst.ravel(), enabled)


def initial_population(n_inputs, n_outputs, population_size, rng=None, *, p_enable=0.05, output_activation="linear"):
    """WANN step 1 for a whole population (a list of :class:`Genome`)."""
    if not (isinstance(population_size, (int, np.integer)) and population_size >= 2):
        raise ValueError(f"population_size: expected an int >= 2, found {population_size!r}")
    _check_probability(p_enable, "p_enable")
    rng = check_rng(rng)
    return [initial_genome(n_inputs, n_outputs, rng, p_enable=p_enable, output_activation=output_activation)
            for _ in range(population_size)]


# ---------------------------------------------------------------------------
# WANN step 2: evaluation with one shared weight
# ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ForwardPlan:
    """The layers of a genome, computed once and reused for every batch.

    ``layers[l] = (nodes, groups)``: the node ids of layer ``l`` (hidden
    layers by depth, the outputs last) and a list of (activation id,
    positions in ``nodes``). The enabled connections into layer ``l`` are two
    CSR arrays of ones, split by source: ``from_inputs[l]`` (len(nodes),
    1 + n_inputs) over the bias and inputs, and ``from_computed[l]``
    (len(nodes), n_nodes - 1 - n_inputs) over the outputs and hidden nodes
    (column = node id - 1 - n_inputs). The input part does not depend on the
    shared weight, so it is multiplied once for all weights.
    """
    n_nodes: int
    n_inputs: int
    output_nodes: np.ndarray
    layers: list
    from_inputs: list
    from_computed: list


def _ones_csr(rows, cols, shape):
    """CSR array of ``shape`` with a 1 at each (row, col), built directly (sorted, no duplicates)."""
    order = np.lexsort((cols, rows))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=shape[0]))]).astype(np.int32)
    return sp.csr_array((np.ones(len(rows), np.float32), cols[order].astype(np.int32), indptr), shape=shape)


def plan_forward(genome):
    """Topological order of a genome, computed once (see :class:`ForwardPlan`)."""
    depth = cached_depths(genome)
    src, dst = genome.src[genome.enabled], genome.dst[genome.enabled]
    layers, from_inputs, from_computed = [], [], []
    for d in range(1, depth.max() + 1):
        nodes = np.flatnonzero(depth == d)
        layers.append((nodes, _layer_groups(genome.activations, nodes)))
        inputs_part, computed_part = _layer_matrices(genome, nodes, src, dst)
        from_inputs.append(inputs_part)
        from_computed.append(computed_part)
    return ForwardPlan(genome.n_nodes, genome.n_inputs, genome.output_nodes, layers, from_inputs, from_computed)


def _layer_matrices(genome, nodes, src, dst, parts=(True, True)):
    """The CSR arrays (from_inputs, from_computed) of the enabled connections
    ``src -> dst`` into layer ``nodes``; a part not asked for is None."""
    n_first = 1 + genome.n_inputs
    position = np.full(genome.n_nodes, -1)
    position[nodes] = np.arange(len(nodes))
    into = position[dst] >= 0
    rows, cols = position[dst[into]], src[into]
    first = cols < n_first
    return (_ones_csr(rows[first], cols[first], (len(nodes), n_first)) if parts[0] else None,
            _ones_csr(rows[~first], cols[~first] - n_first, (len(nodes), genome.n_nodes - n_first))
            if parts[1] else None)


def _check_probability(value, name):
    """A finite real in [0, 1] (a probability setting)."""
    if not _is_real(value) or not 0 <= value <= 1:
        kind = type(value).__name__
        raise (ValueError if _is_real(value) or isinstance(value, (float, np.floating)) else TypeError)(
            f"{name}: expected a probability in [0, 1], found {kind} {value!r}")
    return value


def _check_weights(weights, name="weights"):
    try:
        weights = np.atleast_1d(np.asarray(weights, dtype=np.float32))
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a sequence of numbers, found {weights!r}") from None
    if weights.ndim != 1 or weights.size == 0 or not np.all(np.isfinite(weights)):
        raise ValueError(f"{name}: expected a non-empty 1-d array of finite shared weights, found {weights!r}")
    return weights


def evaluate_genome(genome, X, weights=SHARED_WEIGHTS, plan=None, dtype=np.float32):
    """Outputs of a genome for a batch, every enabled connection set to ``w``.

    A node's value is ``f(sum_j w * v_j) = f(w * sum_j v_j)`` over its enabled
    incoming connections ``j``; nodes without enabled inputs output ``f(0)``.
    All shared weights are evaluated in one pass (a leading weight axis).

    Parameters
    ----------
    genome : Genome
    X : ndarray of shape (n, n_inputs)
    weights : sequence of float of length n_weights
    plan : ForwardPlan, optional
        ``plan_forward(genome)``, to skip recomputing the layers.
    dtype : float32 (the search) or float64

    Returns
    -------
    outputs : ndarray of shape (n_weights, n, n_outputs) of ``dtype``
    """
    _check_is_genome(genome)
    X = check_float_array(X, "X")
    if X.shape[1] != genome.n_inputs:
        raise ValueError(f"X: expected {genome.n_inputs} features per row (the genome's inputs), found {X.shape[1]}")
    weights = _check_weights(weights).astype(dtype)
    inputs_T = _inputs_transposed(X, dtype)
    return _evaluate_cached(genome, inputs_T, weights) if plan is None else _evaluate_plan(plan, inputs_T, weights)


def _inputs_transposed(X, dtype=np.float32):
    """[1; X.T] of shape (1 + n_inputs, n), C-contiguous (the bias row first)."""
    inputs_T = np.ones((X.shape[1] + 1, len(X)), dtype=dtype)
    inputs_T[1:] = X.T
    return inputs_T


def _evaluate_plan(plan, inputs_T, weights):
    """:func:`evaluate_genome` on a plan; ``inputs_T`` (1 + n_inputs, n) = [1; X.T]."""
    n_w, n = len(weights), inputs_T.shape[1]
    n_first = 1 + plan.n_inputs
    # Node-major values of the outputs and hidden nodes (ids n_first...), one slice per weight.
    values = np.zeros((plan.n_nodes - n_first, n_w, n), dtype=inputs_T.dtype)
    for (nodes, groups), from_inputs, from_computed in zip(plan.layers, plan.from_inputs, plan.from_computed):
        # WANN step 2: z_i = w * sum over enabled j -> i of v_j, for every w at once;
        # the sum over inputs is the same for every w, so it is computed once.
        S = (from_computed @ values.reshape(len(values), -1)).reshape(len(nodes), n_w, n)
        S += (from_inputs @ inputs_T)[:, None, :]
        S *= weights[None, :, None]   # z = w * sum
        for k, where in groups:
            values[nodes[where] - n_first] = activation_forward(S[where], k)
    return values[plan.output_nodes - n_first].transpose(1, 2, 0)


@dataclasses.dataclass(frozen=True)
class KernelLayout:
    """A genome's rows for the compiled evaluation: the computed nodes (hidden and
    outputs) ordered by layer (:func:`node_depths`) and, within a layer, by
    activation, then id.

    ``node_ids[r]`` is row r's node; rows ``0..n_unlayered-1`` are nodes in no
    layer (depth 0: no incoming connection; their value stays 0, as in
    ``_evaluate_plan``). ``groups`` lists ``(activation id, first row, end
    row)`` and ``layers`` the ``(first row, end row)`` of each layer. Row r's
    computed sources are the rows ``src_rows[src_ptr[r]:src_ptr[r + 1]]`` and
    its inputs the columns ``in_cols[in_ptr[r]:in_ptr[r + 1]]`` of ``[1; X.T]``,
    both in ascending node id (the order of :class:`ForwardPlan`'s CSR sums).
    """
    node_ids: np.ndarray
    n_unlayered: int
    layers: list
    groups: list
    src_ptr: np.ndarray
    src_rows: np.ndarray
    in_ptr: np.ndarray
    in_cols: np.ndarray
    output_rows: np.ndarray


def kernel_layout(genome):
    """The :class:`KernelLayout` of a genome, computed once per genome object (as :func:`cached_plan`)."""
    if not CACHE_ENABLED:
        return _kernel_layout(genome)
    memo = _memo(genome)
    if "layout" not in memo:
        memo["layout"] = _kernel_layout(genome)
    return memo["layout"]


def _kernel_layout(genome):
    n_first = 1 + genome.n_inputs
    depth, activation = cached_depths(genome)[n_first:], genome.activations[n_first:].astype(np.int64)
    order = np.lexsort((activation, depth))   # by depth, activation, then id (the sort is stable)
    node_ids = n_first + order
    row_of = np.full(genome.n_nodes, -1, dtype=np.int64)
    row_of[node_ids] = np.arange(len(node_ids))
    d, a = depth[order], activation[order]
    n_unlayered = int(np.count_nonzero(d == 0))
    new_depth = np.r_[True, d[1:] != d[:-1]]
    groups = [(int(a[b]), b, e) for b, e in _runs(new_depth | np.r_[True, a[1:] != a[:-1]], n_unlayered)]
    layers = _runs(new_depth, n_unlayered)
    src, dst = genome.src[genome.enabled].astype(np.int64), genome.dst[genome.enabled].astype(np.int64)
    rows = row_of[dst]
    by_row = np.lexsort((src, rows))   # each row's sources by ascending id
    src, rows = src[by_row], rows[by_row]
    computed = src >= n_first
    src_ptr = np.r_[0, np.cumsum(np.bincount(rows[computed], minlength=len(d)))]
    in_ptr = np.r_[0, np.cumsum(np.bincount(rows[~computed], minlength=len(d)))]
    return KernelLayout(node_ids, n_unlayered, layers, groups, src_ptr, row_of[src[computed]], in_ptr,
                        src[~computed], row_of[genome.output_nodes])


def _runs(starts, first):
    """(first row, end row) of the runs that begin where ``starts`` is True, from row ``first`` on."""
    begin = np.flatnonzero(starts[first:]) + first
    return [(int(b), int(e)) for b, e in zip(begin, np.r_[begin[1:], len(starts)])]


def _evaluate_cached(genome, inputs_T, weights):
    """The outputs of a genome from its cached layout (compiled backend) or plan (NumPy/SciPy), the same bits."""
    if sparse.backend() == "numba" and _kernels.AVAILABLE:
        return _evaluate_compiled(kernel_layout(genome), inputs_T, weights)
    return _evaluate_plan(cached_plan(genome), inputs_T, weights)


def _evaluate_compiled(layout, inputs_T, weights):
    """``_evaluate_plan`` with each layer's pre-activations from one compiled pass (the same bits)."""
    values = np.empty((len(layout.node_ids), len(weights), inputs_T.shape[1]), dtype=inputs_T.dtype)
    values[:layout.n_unlayered] = 0
    groups = iter(layout.groups)
    for row0, row1 in layout.layers:
        # WANN step 2: z_i = w * sum over enabled j -> i of v_j, for every w, in place
        _kernels.layer_preactivations(values, inputs_T, weights, row0, row1, layout.src_ptr, layout.src_rows,
                                      layout.in_ptr, layout.in_cols)
        row = row0
        while row < row1:
            k, first, end = next(groups)
            if ACTIVATIONS[k] != "linear":
                values[first:end] = activation_forward(values[first:end], k)
            row = end
    # the layout of _evaluate_plan's result: the reductions of rewards_and_accuracies follow it (same bits)
    return values[layout.output_rows].transpose(1, 2, 0)


def rewards_and_accuracies(outputs, y):
    """Per-weight reward (-mean cross-entropy of softmax) and accuracy.

    outputs : ndarray of shape (n_weights, n, n_classes); y : ndarray (n,)
    Returns two ndarrays of shape (n_weights,).
    """
    n_w, n, k = outputs.shape
    log_p = functional.log_softmax(outputs.reshape(n_w * n, k).astype(np.float64)).reshape(n_w, n, k)
    rewards = log_p[:, np.arange(n), y].mean(axis=1)
    accuracies = (outputs.argmax(axis=2) == y[None, :]).mean(axis=1)
    return rewards, accuracies


def evaluate_chunk(genomes, X, y, weights=SHARED_WEIGHTS):
    """Rewards and accuracies (len(genomes), n_weights) of a list of genomes, one genome after another.

    Every genome's numbers depend on that genome and (X, y) only, so a
    population evaluated in chunks, anywhere, gives the same bits as in one
    piece (``pruning.experiments.wann.GridEvaluator`` relies on it).
    """
    inputs_T = _inputs_transposed(X)
    weights = _check_weights(weights)
    results = [rewards_and_accuracies(_evaluate_cached(g, inputs_T, weights), y) for g in genomes]
    return np.array([r for r, _ in results]), np.array([a for _, a in results])


def evaluate_population(population, X, y, weights=SHARED_WEIGHTS):
    """WANN step 2 for a population: rewards and accuracies at every shared weight.

    Parameters
    ----------
    population : list of Genome
    X : ndarray of shape (n, n_inputs); y : ndarray of shape (n,)

    Returns
    -------
    rewards, accuracies : ndarrays of shape (population_size, n_weights)
    """
    if len(population) == 0:
        raise ValueError("population: expected at least one genome, found an empty population")
    X = check_float_array(X, "X").astype(np.float32, copy=False)
    check_n_features(X, "X", population[0].n_inputs)
    y = check_labels(y, "y", len(X), population[0].n_outputs)
    return evaluate_chunk(population, X, y, weights)


# ---------------------------------------------------------------------------
# WANN step 3: ranking by Pareto dominance
# ---------------------------------------------------------------------------

def _check_objectives(objectives):
    objectives = np.asarray(objectives, dtype=np.float64)
    if objectives.ndim != 2 or len(objectives) == 0:
        raise ValueError(f"objectives: expected shape (population_size >= 1, n_objectives), found {objectives.shape}")
    if np.any(np.isnan(objectives)):
        raise ValueError("objectives: found NaN; every member needs comparable objective values")
    return objectives


def nondominated_sort(objectives):
    """Front index of every member (0 = not dominated by anyone); all objectives maximised.

    ``i`` dominates ``j`` when it is at least as good on every objective and
    strictly better on one (Deb et al. 2002, fast non-dominated sort).

    objectives : ndarray of shape (population_size, n_objectives)
    Returns an int ndarray of shape (population_size,).
    """
    objectives = _check_objectives(objectives)
    a, b = objectives[:, None, :], objectives[None, :, :]
    dominates = np.all(a >= b, axis=2) & np.any(a > b, axis=2)  # [i, j]: i dominates j
    n_dominators = dominates.sum(axis=0)
    front = np.full(len(objectives), -1)
    current, f = np.flatnonzero(n_dominators == 0), 0
    while current.size:
        front[current] = f
        n_dominators = n_dominators - dominates[current].sum(axis=0)
        current, f = np.flatnonzero((n_dominators == 0) & (front == -1)), f + 1
    return front


def crowding_distance(objectives):
    """Crowding distance of each member of one front (larger = more isolated).

    For every objective, sort the front; the two extremes get infinity, an
    inner member gets (next - previous) / (max - min). Distances add over
    objectives (Deb et al. 2002). An objective with max == min adds 0.

    objectives : ndarray of shape (front_size, n_objectives)
    Returns a float ndarray of shape (front_size,).
    """
    objectives = _check_objectives(objectives)
    distance = np.zeros(len(objectives))
    for f in objectives.T:
        order = np.argsort(f, kind="stable")
        span = f[order[-1]] - f[order[0]]
        distance[order[0]] = distance[order[-1]] = np.inf
        if span > 0 and len(f) > 2:
            distance[order[1:-1]] += (f[order[2:]] - f[order[:-2]]) / span
    return distance


def rank_population(objectives):
    """Rank of every member: by front, then by larger crowding distance (0 = best).

    Ties keep population order, so the ranking is deterministic.
    Returns an int ndarray of shape (population_size,) holding a permutation.
    """
    objectives = _check_objectives(objectives)
    front = nondominated_sort(objectives)
    crowding = np.zeros(len(objectives))
    for f in np.unique(front):
        members = front == f
        crowding[members] = crowding_distance(objectives[members])
    order = np.lexsort((np.arange(len(front)), -crowding, front))
    rank = np.empty(len(front), dtype=np.int64)
    rank[order] = np.arange(len(front))
    return rank


def choose_objectives(rewards, n_connections, rng=None, *, p_connection_objective=0.8, size_objective="negative"):
    """WANN step 3's objective pair for this generation (one ``rng.random()`` draw).

    With probability ``p_connection_objective`` (0.8 in the paper): (mean
    reward, size objective); otherwise (mean reward, max reward).

    size_objective : {"negative", "inverse"}
        ``"negative"`` maximises -n_connections (the paper: fewer
        connections). ``"inverse"`` maximises 1 / max(n_connections, 1), as
        the authors' released code does. Deviation from paper: ``"inverse"``
        is the code's, not the paper's; the dominance order is the same, the
        crowding distances differ.
    rewards : ndarray of shape (population_size, n_weights)
    n_connections : ndarray of shape (population_size,)
    Returns (objectives of shape (population_size, 2), name of the second one).
    """
    rng = check_rng(rng)
    if size_objective not in SIZE_OBJECTIVES:
        raise ValueError(f"size_objective: expected one of {SIZE_OBJECTIVES}, found {size_objective!r}")
    rewards = np.asarray(rewards, dtype=np.float64)
    if rng.random() < p_connection_objective:
        n_connections = np.asarray(n_connections, np.float64)
        size = -n_connections if size_objective == "negative" else 1 / np.maximum(n_connections, 1)
        return np.column_stack([rewards.mean(axis=1), size]), "connections"
    return np.column_stack([rewards.mean(axis=1), rewards.max(axis=1)]), "max"


# ---------------------------------------------------------------------------
# WANN step 4: topological mutations
# ---------------------------------------------------------------------------

def _new_connection_candidates(genome):
    """All (src, dst) pairs that add_connection may create: src in an earlier
    layer than dst (so the network stays feed-forward) and not yet connected."""
    depth = node_depths(genome)
    allowed = depth[:, None] < depth[None, :]
    allowed[genome.src, genome.dst] = False
    return np.nonzero(allowed)


def add_connection(genome, rng=None, *, sampling="source-first"):
    """Add a connection between two unconnected nodes, feed-forward only.

    A pair (src, dst) is allowed when src's layer (:func:`node_depths`) is
    below dst's; the new connection is enabled. Raises ``ValueError`` when the
    network is already complete.

    sampling : {"source-first", "uniform-pair"}
        ``"source-first"`` (the authors' released code; the paper does not
        say): a source uniformly among the nodes that have an allowed
        destination, then a destination uniformly among its allowed ones (the
        code scans the nodes in a random order and takes the first with a
        destination, which is the same distribution). ``"uniform-pair"``: one
        draw among all allowed pairs (nnlite before issue 13; favours sources
        with many allowed destinations, i.e. inputs over hidden nodes).
    """
    rng = check_rng(rng)
    if sampling not in ADD_CONNECTION_SAMPLINGS:
        raise ValueError(f"sampling: expected one of {ADD_CONNECTION_SAMPLINGS}, found {sampling!r}")
    if sampling == "uniform-pair":
        src, dst = _new_connection_candidates(genome)
        if len(src) == 0:
            raise ValueError("add_connection: found no unconnected feed-forward pair; the network is complete")
        c = rng.integers(len(src))
        new_src, new_dst = int(src[c]), int(dst[c])
    else:
        new_src, new_dst = _source_first_pair(genome, rng)
    child = genome.replace(src=np.append(genome.src, new_src), dst=np.append(genome.dst, new_dst),
                           enabled=np.append(genome.enabled, True))
    return _inherit_cache(genome, child, new_connection=(new_src, new_dst))


def _source_first_pair(genome, rng):
    """A source uniformly among the nodes with a free feed-forward pair, then
    one of its free destinations uniformly (both in increasing id order)."""
    depth = cached_depths(genome)
    n_deeper = genome.n_nodes - np.searchsorted(np.sort(depth), depth, side="right")
    n_free = n_deeper - np.bincount(genome.src, minlength=genome.n_nodes)  # existing ones all go deeper
    sources = np.flatnonzero(n_free > 0)
    if len(sources) == 0:
        raise ValueError("add_connection: found no unconnected feed-forward pair; the network is complete")
    src = int(sources[rng.integers(len(sources))])
    allowed = depth[src] < depth
    allowed[genome.dst[genome.src == src]] = False
    destinations = np.flatnonzero(allowed)
    return src, int(destinations[rng.integers(len(destinations))])


def add_node(genome, rng=None):
    """Insert a node by splitting an enabled connection a -> b.

    The connection is disabled and a new hidden node n (random activation) is
    wired a -> n -> b. In NEAT the in-weight is 1 and the out-weight the old
    weight, so the function barely changes. Under WANN every enabled
    connection carries the shared weight ``w``, so both new connections carry
    ``w`` and the path's contribution changes from ``w * v_a`` to
    ``w * f(w * v_a)``: the genome stores no per-connection weights, and the
    NEAT rule is used only when weights are later tuned (then both new
    connections start at the tuned network's shared weight).
    """
    rng = check_rng(rng)
    candidates = np.flatnonzero(genome.enabled)
    if len(candidates) == 0:
        raise ValueError("add_node: found no enabled connection to split")
    c = candidates[rng.integers(len(candidates))]
    new = genome.n_nodes
    enabled = genome.enabled.copy()
    enabled[c] = False
    return genome.replace(activations=np.append(genome.activations, rng.integers(len(ACTIVATIONS))),
                          src=np.append(genome.src, [genome.src[c], new]),
                          dst=np.append(genome.dst, [new, genome.dst[c]]),
                          enabled=np.append(enabled, [True, True]))


def enable_connection(genome, rng=None):
    """Re-enable a random disabled connection (acyclicity holds: disabled
    connections already count in the layering)."""
    rng = check_rng(rng)
    candidates = np.flatnonzero(~genome.enabled)
    if len(candidates) == 0:
        raise ValueError("enable_connection: found no disabled connection")
    enabled = genome.enabled.copy()
    c = candidates[rng.integers(len(candidates))]
    enabled[c] = True
    return _inherit_cache(genome, genome.replace(enabled=enabled),
                          new_connection=(int(genome.src[c]), int(genome.dst[c])))


def change_activation(genome, rng=None):
    """Give a random hidden node a different random activation."""
    rng = check_rng(rng)
    hidden = genome.hidden_nodes
    if len(hidden) == 0:
        raise ValueError("change_activation: found no hidden node")
    node = hidden[rng.integers(len(hidden))]
    activations = genome.activations.copy()
    # A different activation: shift by 1..len-1 places around the set.
    activations[node] = (activations[node] + rng.integers(1, len(ACTIVATIONS))) % len(ACTIVATIONS)
    return _inherit_cache(genome, genome.replace(activations=activations))


def _n_new_connection_candidates(genome):
    """len(_new_connection_candidates(genome)[0]) without the n_nodes^2 matrix:
    the pairs with depth[a] < depth[b], less the existing connections (all
    go to a deeper node, and no pair occurs twice)."""
    if not CACHE_ENABLED:  # the enumeration used before issue 13 (benchmarks/pruning.py --compare-uncached)
        return len(_new_connection_candidates(genome)[0])
    depth = cached_depths(genome)
    n_shallower = np.searchsorted(np.sort(depth), depth, side="left")
    return int(n_shallower.sum()) - len(genome.src)


def _applicable(genome):
    return np.array([_n_new_connection_candidates(genome) > 0, genome.enabled.any(),
                     (~genome.enabled).any(), len(genome.hidden_nodes) > 0])


def mutate(genome, rng=None, *, mutation_probabilities=(0.20, 0.25, 0.05, 0.50), inapplicable="keep-parent",
           add_connection_sampling="source-first"):
    """WANN step 4: apply one topological mutation, drawn with the given
    probabilities over :data:`MUTATIONS`.

    The default probabilities (add connection 20%, add node 25%, enable 5%,
    change activation 50%) are those of the authors' released code
    (``p/default_wan.json``, kept by their MNIST settings); the paper does not
    state them.

    inapplicable : {"keep-parent", "redraw"}
        What happens when the drawn mutation does not apply (e.g. change an
        activation without hidden nodes). ``"keep-parent"``: the child is the
        parent unchanged, as in the released code (the paper does not say).
        ``"redraw"`` (nnlite before issue 13): draw again among the applicable
        mutations (probabilities renormalised), so every child differs from
        its parent when any mutation applies.
    add_connection_sampling : see :func:`add_connection`.
    """
    _check_is_genome(genome)
    rng = check_rng(rng)
    p = np.asarray(mutation_probabilities, dtype=np.float64)
    if p.shape != (4,) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"mutation_probabilities: expected 4 non-negative numbers for {MUTATIONS}, found {p!r}")
    if inapplicable not in INAPPLICABLE_MUTATIONS:
        raise ValueError(f"inapplicable: expected one of {INAPPLICABLE_MUTATIONS}, found {inapplicable!r}")
    applicable = _applicable(genome)
    if inapplicable == "redraw":
        p = p * applicable
        if p.sum() == 0:
            return genome
    choice = rng.choice(4, p=p / p.sum())
    if not applicable[choice]:
        return genome
    if choice == 0:
        return add_connection(genome, rng, sampling=add_connection_sampling)
    return (None, add_node, enable_connection, change_activation)[choice](genome, rng)


def select_and_reproduce(population, rank, rng=None, *, elite_fraction=0.2, cull_fraction=0.2,
                         tournament_size=8, mutation_probabilities=(0.20, 0.25, 0.05, 0.50),
                         elitism="floor-after-cull", inapplicable="keep-parent", add_connection_sampling="source-first"):
    """WANN step 4: the next population.

    1. culling: the worst ``cull_fraction`` members cannot be parents;
    2. elitism: the best members pass on unchanged;
    3. tournament selection: each remaining child's parent is the best-ranked
       of ``tournament_size`` members drawn (with replacement) from the rest;
    4. each child gets one mutation (:func:`mutate`).

    rank : int ndarray of shape (population_size,), 0 = best (:func:`rank_population`).
    elitism : {"floor-after-cull", "round-before-cull"}
        How many elites (the paper gives no rounding). ``"floor-after-cull"``
        (the released code): floor(cull_fraction * n) are culled, then
        floor(elite_fraction * survivors) elites. ``"round-before-cull"``
        (nnlite before issue 13): round(elite_fraction * n) elites, and
        max(1, n - floor(cull_fraction * n)) possible parents.
    inapplicable, add_connection_sampling : see :func:`mutate`.
    """
    rng = check_rng(rng)
    n = len(population)
    rank = np.asarray(rank)
    if n == 0 or rank.shape != (n,):
        raise ValueError(f"rank: expected shape ({n},) for a non-empty population, found {rank.shape}")
    if not (0 <= elite_fraction < 1 and 0 <= cull_fraction < 1 and tournament_size >= 1):
        raise ValueError(f"expected elite_fraction, cull_fraction in [0, 1) and tournament_size >= 1, found "
                         f"{elite_fraction}, {cull_fraction}, {tournament_size}")
    if elitism not in ELITISMS:
        raise ValueError(f"elitism: expected one of {ELITISMS}, found {elitism!r}")
    order = np.argsort(rank, kind="stable")
    parents = order[: max(1, n - int(cull_fraction * n))]
    n_elite = int(round(elite_fraction * n)) if elitism == "round-before-cull" else int(elite_fraction * len(parents))
    contestants = rng.integers(len(parents), size=(n - n_elite, tournament_size))
    winners = parents[contestants.min(axis=1)]  # parents are sorted by rank: smallest index wins
    children = [mutate(population[i], rng, mutation_probabilities=mutation_probabilities, inapplicable=inapplicable,
                       add_connection_sampling=add_connection_sampling) for i in winners]
    return [population[i] for i in order[:n_elite]] + children


# ---------------------------------------------------------------------------
# WANN step 5: the search loop, resumable by generation
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class SearchConfig:
    """Settings of :func:`run_search` (the paper's MNIST run: population 960, 4,096 generations).

    The field defaults are ``DEFAULTS["paper"]``; :meth:`from_defaults` starts
    from another entry of :data:`DEFAULTS`. ``n_generations=None`` means no
    generation limit (stop on :func:`run_search`'s time budget).
    """
    population_size: int = 64
    n_generations: object = 100
    shared_weights: tuple = SHARED_WEIGHTS
    batch_size: int = 1000
    p_enable: float = 0.05
    p_connection_objective: float = 0.8
    elite_fraction: float = 0.2
    cull_fraction: float = 0.2
    tournament_size: int = 8
    mutation_probabilities: tuple = DEFAULTS["paper"]["mutation_probabilities"]
    output_activation: str = "linear"
    elitism: str = DEFAULTS["paper"]["elitism"]
    inapplicable_mutation: str = DEFAULTS["paper"]["inapplicable_mutation"]
    add_connection_sampling: str = DEFAULTS["paper"]["add_connection_sampling"]
    size_objective: str = DEFAULTS["paper"]["size_objective"]

    @classmethod
    def from_defaults(cls, defaults="paper", **settings):
        """A config starting from ``DEFAULTS[defaults]``, then ``settings``."""
        if defaults not in DEFAULTS:
            raise ValueError(f"defaults: expected one of {tuple(DEFAULTS)}, found {defaults!r}")
        return cls(**{**DEFAULTS[defaults], **settings})

    def __post_init__(self):
        for name, low in (("population_size", 2), ("n_generations", 0), ("batch_size", 1), ("tournament_size", 1)):
            value = getattr(self, name)
            if name == "n_generations" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name}: expected an int >= {low}{' or None' * (name == 'n_generations')}, "
                                 f"found {value!r}")
        for name, values in (("elitism", ELITISMS), ("inapplicable_mutation", INAPPLICABLE_MUTATIONS),
                             ("add_connection_sampling", ADD_CONNECTION_SAMPLINGS),
                             ("size_objective", SIZE_OBJECTIVES)):
            if getattr(self, name) not in values:
                raise ValueError(f"{name}: expected one of {values}, found {getattr(self, name)!r}")
        for name in ("p_enable", "p_connection_objective"):
            _check_probability(getattr(self, name), name)
        for name in ("elite_fraction", "cull_fraction"):
            if not _is_real(getattr(self, name)) or not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a fraction in [0, 1), found {getattr(self, name)!r}")
        _check_weights(self.shared_weights, "shared_weights")
        p = self.mutation_probabilities
        if len(p) != 4 or not all(_is_real(v) and v >= 0 for v in p) or sum(p) <= 0:
            raise ValueError(f"mutation_probabilities: expected 4 non-negative numbers for {MUTATIONS}, found {p!r}")
        activation_id(self.output_activation, "output_activation")

    def to_json(self):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, d):
        """The config saved by ``to_json`` (unknown or missing keys are refused, values validated)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        if isinstance(d, dict) and set(d) == fields - set(DEFAULTS["nnlite-v1"]) | {"mutation_probabilities"}:
            d = {**DEFAULTS["nnlite-v1"], **d}  # a checkpoint written before issue 13 ran nnlite-v1's settings
        if not isinstance(d, dict) or set(d) != fields:
            found = sorted(d) if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"config: expected the keys {sorted(fields)}, found {found}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def _is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and bool(np.isfinite(value))


@dataclasses.dataclass
class SearchState:
    """Everything a search needs to continue: population, rng, generation, history."""
    config: SearchConfig
    population: list
    rng: np.random.Generator
    generation: int = 0
    history: list = dataclasses.field(default_factory=list)
    #: Why the last :func:`run_search` stopped: "generations" or "time_budget" (not saved in checkpoints).
    stopped_by: str = None


def start_search(n_inputs, n_outputs, config=None, rng=None):
    """WANN step 1: a fresh :class:`SearchState` (generation 0)."""
    config = SearchConfig() if config is None else config
    if not isinstance(config, SearchConfig):
        raise TypeError(f"config: expected None or a pruning.wann.SearchConfig, found {type(config).__name__}; "
                        "pass SearchConfig(**settings)")
    rng = check_rng(rng)
    population = initial_population(n_inputs, n_outputs, config.population_size, rng,
                                     p_enable=config.p_enable, output_activation=config.output_activation)
    return SearchState(config, population, rng)


def step_generation_inplace(state, X, y, *, evaluate=None):
    """One generation (steps 2-4): evaluate on a random batch, rank, reproduce.

    The rng is used in a fixed order (batch, objectives, selection and
    mutations), so a run resumed from a saved state is bit-identical to an
    uninterrupted one. Mutates ``state`` (population, rng, generation, history).

    ``evaluate(population, batch, weights)``, if given, does step 2 elsewhere
    (``batch``: the row indices of the generation's batch) and must return
    what ``evaluate_population(population, X[batch], y[batch], weights)``
    returns; ``pruning.experiments.wann`` evaluates chunks of the population
    as grid tasks.

    Deviation from paper: one random batch per generation, shared by every
    network and weight value, in every preset of :data:`DEFAULTS` (the paper
    says only "a random batch"; the authors' released code draws a new one
    for each network and each weight value). Sharing it ranks the networks
    on the same images and evaluates the six weights in one pass.
    """
    c = state.config
    batch = state.rng.choice(len(X), size=min(c.batch_size, len(X)), replace=False)
    if evaluate is None:                                                                   # WANN step 2
        rewards, accuracies = evaluate_population(state.population, X[batch], y[batch], c.shared_weights)
    else:
        rewards, accuracies = evaluate(state.population, batch, c.shared_weights)
    n_connections = np.array([g.n_connections for g in state.population])
    objectives, second = choose_objectives(rewards, n_connections, state.rng,
                                           p_connection_objective=c.p_connection_objective,
                                           size_objective=c.size_objective)
    rank = rank_population(objectives)  # WANN step 3
    best = int(np.argmax(rewards.mean(axis=1)))
    state.history.append({"generation": state.generation, "objective": second,
                          "best_mean_reward": float(rewards[best].mean()),
                          "best_max_reward": float(rewards.max()),
                          "best_mean_accuracy": float(accuracies[best].mean()),
                          "best_n_connections": int(n_connections[best]),
                          "median_n_connections": float(np.median(n_connections))})
    state.population = select_and_reproduce(state.population, rank, state.rng,  # WANN step 4
                                            elite_fraction=c.elite_fraction, cull_fraction=c.cull_fraction,
                                            tournament_size=c.tournament_size,
                                            mutation_probabilities=c.mutation_probabilities, elitism=c.elitism,
                                            inapplicable=c.inapplicable_mutation,
                                            add_connection_sampling=c.add_connection_sampling)
    state.generation += 1
    return state


def _stopping_reason(state, time_budget_s, elapsed_s):
    """"generations", "time_budget" or None (go on): the first limit reached wins."""
    if state.config.n_generations is not None and state.generation >= state.config.n_generations:
        return "generations"
    if time_budget_s is not None and elapsed_s > time_budget_s:
        return "time_budget"
    return None


def run_search(state, X, y, *, time_budget_s=None, evaluate=None, on_generation_end=None):
    """WANN step 5: repeat generations until ``config.n_generations`` or the time
    budget, whichever comes first (``state.stopped_by`` says which).

    Parameters
    ----------
    state : SearchState
        From :func:`start_search` (or a saved one); advanced in place and returned.
    X : ndarray of shape (n, n_inputs); y : ndarray of shape (n,)
        The training data; each generation draws its batch from them.
    time_budget_s : float, optional
        Seconds for this call (a resumed search gets a fresh budget): stop
        after the generation during which it ran out. With
        ``config.n_generations=None`` it is the only stopping rule, and one of
        the two is required.
    evaluate : callable, optional
        Step 2 done elsewhere (see :func:`step_generation_inplace`).
    on_generation_end : callable(state, seconds), optional
        Called after every generation (e.g. to save a checkpoint, print progress).
    """
    X = check_float_array(X, "X").astype(np.float32, copy=False)
    y = check_labels(y, "y", len(X), state.population[0].n_outputs)
    if state.config.n_generations is None and time_budget_s is None:
        raise ValueError("time_budget_s: expected a budget when config.n_generations is None (no limit), found "
                         "None; give one of the two")
    start = time.perf_counter()
    while True:
        state.stopped_by = _stopping_reason(state, time_budget_s, time.perf_counter() - start)
        if state.stopped_by:
            return state
        step_generation_inplace(state, X, y, evaluate=evaluate)
        if on_generation_end is not None:
            on_generation_end(state, time.perf_counter() - start)


# ---------------------------------------------------------------------------
# Reports: single shared weight, ensemble, individually tuned weights
# ---------------------------------------------------------------------------

def choose_champion(population, X, y, weights=SHARED_WEIGHTS):
    """The member with the highest mean reward over ``weights`` on (X, y)
    (use held-out validation data). Returns (genome, its index)."""
    rewards, _ = evaluate_population(population, X, y, weights)
    best = int(np.argmax(rewards.mean(axis=1)))
    return population[best], best


def ensemble_predict(outputs, method="vote"):
    """Combine per-weight outputs (n_weights, n, n_classes) into labels (n,).

    ``"vote"``: each weight votes for its argmax (the paper's ensemble; ties go
    to the lowest class id). ``"mean_softmax"``: argmax of the softmax averaged
    over weights.
    """
    outputs = check_float_array(outputs, "outputs", ndim=3)
    n_w, n, k = outputs.shape
    if method == "vote":
        votes = np.zeros((n, k), dtype=np.int64)
        for labels in outputs.argmax(axis=2):
            votes[np.arange(n), labels] += 1
        return votes.argmax(axis=1)
    if method == "mean_softmax":
        return functional.softmax(outputs.reshape(n_w * n, k).astype(np.float64)).reshape(n_w, n, k).mean(0).argmax(1)
    raise ValueError(f"method: expected 'vote' or 'mean_softmax', found {method!r}")


# --- individually tuned weights: the topology as a masked layered network ---

def layer_masks(genome, plan=None):
    """Boolean masks (n_nodes, len(layer nodes)) of the enabled connections into each layer."""
    plan = plan_forward(genome) if plan is None else plan
    return [np.hstack([a.toarray(), b.toarray()]).T > 0 for a, b in zip(plan.from_inputs, plan.from_computed)]


def tuned_forward(plan, Ws, X):
    """Forward pass with one weight per connection (rows are samples).

    Ws[l] : ndarray (n_nodes, len(layer l)) zero off :func:`layer_masks`.
    Returns (Zs, A): pre-activations of every layer and all node values
    A (n, n_nodes); the outputs are ``A[:, plan.output_nodes]``.
    """
    A = np.zeros((len(X), plan.n_nodes), dtype=np.result_type(X.dtype, *[W.dtype for W in Ws]))
    A[:, 0] = 1.0
    A[:, 1: 1 + plan.n_inputs] = X
    Zs = []
    for (nodes, groups), W in zip(plan.layers, Ws):
        Z = A @ W
        for k, where in groups:
            A[:, nodes[where]] = activation_forward(Z[:, where], k)
        Zs.append(Z)
    return Zs, A


def tuned_backward(plan, Ws, Zs, A, dOut):
    """Gradients dWs for dOut = dL/d(outputs) (n, n_outputs), layers in reverse."""
    dA = np.zeros_like(A)
    dA[:, plan.output_nodes] = dOut
    dWs = [None] * len(Ws)
    for l in reversed(range(len(Ws))):
        nodes, groups = plan.layers[l]
        dZ = np.empty_like(Zs[l])
        for k, where in groups:
            dZ[:, where] = activation_backward(dA[:, nodes[where]], Zs[l][:, where], k)
        dWs[l] = A.T @ dZ  # rows of nodes at or after layer l are masked out by the optimizer
        dA += dZ @ Ws[l].T
    return dWs


def train_individual_weights(genome, X, y, *, init_weight=1.0, epochs=10, batch_size=128, lr=1e-2, rng=None):
    """Train one weight per enabled connection of a fixed topology with Adam.

    Every connection starts at ``init_weight`` (the best shared weight, so
    training starts from the best weight-agnostic network) and nnlite's Adam
    updates the layer matrices under the connection masks (entries that are
    not connections stay exactly 0). Loss: softmax cross-entropy. A step
    node has derivative 0, so the weights feeding it stay where they start
    (a limit of gradient tuning, not of the topology).

    Returns (plan, Ws): use ``tuned_forward(plan, Ws, X)``.
    """
    _check_is_genome(genome)
    rng = check_rng(rng)
    epochs, batch_size = check_int(epochs, "epochs", minimum=0), check_int(batch_size, "batch_size")
    if not _is_real(lr) or lr <= 0:
        raise ValueError(f"lr: expected a finite number > 0, found {lr!r}")
    if not _is_real(init_weight):
        raise ValueError(f"init_weight: expected a finite number, found {init_weight!r}")
    X = check_float_array(X, "X").astype(np.float32, copy=False)
    check_n_features(X, "X", genome.n_inputs)
    y = check_labels(y, "y", len(X), genome.n_outputs)
    plan = plan_forward(genome)
    masks = layer_masks(genome, plan)
    Ws = [np.where(m, np.float32(init_weight), np.float32(0)) for m in masks]
    optimizer = Adam(lr)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            rows = order[i: i + batch_size]
            Zs, A = tuned_forward(plan, Ws, X[rows])
            dOut = functional.softmax_cross_entropy_backward(A[:, plan.output_nodes], y[rows])
            optimizer.step_inplace(Ws, tuned_backward(plan, Ws, Zs, A, dOut), masks)
    return plan, Ws


def random_shared_weight_accuracies(genome, X, y, *, n_draws=100, weight_range=(-2.0, 2.0), rng=None, plan=None,
                                    chunk=8):
    """The paper's "random weight" test: accuracy at ``n_draws`` shared weights
    drawn uniformly from ``weight_range`` (one weight per test, all connections
    sharing it). Report their mean and standard deviation.

    Returns (weights, accuracies), two ndarrays of shape (n_draws,). Weights
    are evaluated ``chunk`` at a time to bound memory (n_nodes * chunk * n floats).
    """
    rng = check_rng(rng)
    if not (isinstance(n_draws, (int, np.integer)) and n_draws >= 1):
        raise ValueError(f"n_draws: expected an int >= 1, found {n_draws!r}")
    low, high = weight_range
    if not (_is_real(low) and _is_real(high) and low < high):
        raise ValueError(f"weight_range: expected finite (low, high) with low < high, found {weight_range!r}")
    weights = rng.uniform(low, high, n_draws)
    plan = cached_plan(genome) if plan is None else plan
    accuracies = np.concatenate([(evaluate_genome(genome, X, weights[i: i + chunk], plan).argmax(2) == y).mean(1)
                                 for i in range(0, n_draws, chunk)])
    return weights, accuracies


def report_champion(genome, task, *, weight_grid=np.linspace(-3, 3, 61), tune_epochs=10, n_random_draws=100,
                    rng=None):
    """The paper's measurements of a champion on ``task`` (a
    :class:`pruning.wann_tasks.Task`), as a JSON-ready dict.

    - ``random_shared_weight_*``: the paper's "random weight": test accuracy
      at ``n_random_draws`` shared weights drawn from U(-2, 2), mean and std
      (:func:`random_shared_weight_accuracies`);
    - ``six_weights_*``: test accuracy at each of the 6 shared weights of the
      search, their mean and std (not random: a fixed grid; reported as
      "random shared weight" before issue 13);
    - ``best_weight``: the shared weight of ``weight_grid`` with the best
      validation accuracy, and its test accuracy;
    - ``ensemble_vote`` / ``ensemble_mean_softmax``: test accuracy of the
      ensemble over the 6 shared weights;
    - ``tuned``: test accuracy after :func:`train_individual_weights` from the best weight.

    ``rng`` serves the tuning first, then the random weights.
    """
    rng = check_rng(rng)
    plan = plan_forward(genome)
    test_out = evaluate_genome(genome, task.X_test, SHARED_WEIGHTS, plan)
    per_weight = (test_out.argmax(2) == task.y_test).mean(1)
    grid_val = (evaluate_genome(genome, task.X_val, weight_grid, plan).argmax(2) == task.y_val).mean(1)
    best_w = round(float(weight_grid[int(np.argmax(grid_val))]), 6)
    best_acc = float((evaluate_genome(genome, task.X_test, [best_w], plan)[0].argmax(1) == task.y_test).mean())
    plan_t, Ws = train_individual_weights(genome, task.X_train, task.y_train, init_weight=best_w,
                                          epochs=tune_epochs, rng=rng)
    tuned_acc = float((tuned_forward(plan_t, Ws, task.X_test)[1][:, plan_t.output_nodes].argmax(1)
                       == task.y_test).mean())
    report = {"n_connections": genome.n_connections, "n_hidden": len(genome.hidden_nodes),
              "n_layers": len(plan.layers),
              "six_weights": list(SHARED_WEIGHTS), "six_weights_accuracies": [float(a) for a in per_weight],
              "six_weights_mean": float(per_weight.mean()), "six_weights_std": float(per_weight.std()),
              "best_weight": best_w, "best_weight_accuracy": best_acc,
              "ensemble_vote_accuracy": float((ensemble_predict(test_out, "vote") == task.y_test).mean()),
              "ensemble_mean_softmax_accuracy": float((ensemble_predict(test_out, "mean_softmax")
                                                       == task.y_test).mean()),
              "tuned_accuracy": tuned_acc, "tune_epochs": tune_epochs}
    if n_random_draws:  # drawn after the tuning, so the tuned figure is the same as before issue 13
        _, accuracies = random_shared_weight_accuracies(genome, task.X_test, task.y_test, n_draws=n_random_draws,
                                                        rng=rng, plan=plan)
        report.update({"random_shared_weight_mean": float(accuracies.mean()),
                       "random_shared_weight_std": float(accuracies.std(ddof=1)) if n_random_draws > 1 else 0.0,
                       "random_shared_weight_n_draws": n_random_draws, "random_shared_weight_range": [-2.0, 2.0]})
    return report
