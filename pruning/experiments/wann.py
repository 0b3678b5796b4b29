"""The WANN experiment: ``python -m pruning wann``.

A topology search (``pruning.wann``) on a classification task
(``pruning.wann_tasks``: the 8x8 digits offline, or MNIST at 16x16), saved
every generation to ``--out/checkpoint.npz`` so that ``--resume`` continues it
bit for bit; then the champion (chosen on validation data) is measured the
paper's ways, saved (``champion.npz``), drawn (``champion.png``) and reported
(``results.json``, and as a grid record in ``--out/results.jsonl``).

Step 2 of every generation, the evaluation of the population, runs in
chunks of genomes: on ``--n-jobs N`` threads of this process
(``ThreadEvaluator``, the default backend), or as ``nnlite.experiment.run_grid``
tasks on local processes (``--backend loky``) or a Dask cluster
(``--backend dask``; ``GridEvaluator``). Each genome is evaluated by the same
deterministic code wherever it runs, so the same seed gives the same bits for
any number of jobs and any backend. With ``--seeds N`` the
seeds ``--seed .. --seed + N - 1`` are searched in turn, each in
``--out/seed<k>``.
"""
import functools
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np

from nnlite.cli import (add_grid_arguments, non_negative_int, option_names, positive_float, positive_int,
                        probability, save_figure)
from nnlite.experiment import (atomic_write, load_dataset, map_in_threads, pin_threads, register_dataset,
                               remove_stale_temp_files, run_grid, task_key, write_text_atomic)
from pruning import wann as W
from pruning.wann import (ACTIVATIONS, DEFAULTS, Genome, SearchConfig, SearchState, _check_is_genome, check_genome,
                          choose_champion, node_depths, report_champion, start_search)


def _rng_state(rng):
    """The generator's PCG64 state as plain ints (the only bit generator a checkpoint stores)."""
    state = rng.bit_generator.state
    if state["bit_generator"] != "PCG64":
        raise TypeError(f"rng: expected a generator over PCG64 (np.random.default_rng), found {state['bit_generator']}")
    return {"state": int(state["state"]["state"]), "inc": int(state["state"]["inc"]),
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}


def _rng_from_state(saved, path):
    """A PCG64 generator rebuilt from the plain ints of ``_rng_state`` (nothing in the file names code)."""
    # Older checkpoints stored numpy's own state dict; its numbers are read, its "bit_generator" name is not run.
    if isinstance(saved, dict) and saved.get("bit_generator", "PCG64") != "PCG64":
        raise ValueError(f"path: {path}: expected a PCG64 rng state, found bit_generator "
                         f"{saved['bit_generator']!r:.80}; nothing named in a checkpoint is imported or run")
    plain = ({**saved, **saved["state"]} if isinstance(saved, dict) and isinstance(saved.get("state"), dict)
             else saved)
    keys = ("state", "inc", "has_uint32", "uinteger")
    if not isinstance(plain, dict) or not all(isinstance(plain.get(k), int) and not isinstance(plain.get(k), bool)
                                              and plain[k] >= 0 for k in keys):
        raise ValueError(f"path: {path} is not a WANN checkpoint: expected the rng state as non-negative ints "
                         f"{keys}, found {plain!r:.200}")
    bit_generator = np.random.PCG64()
    bit_generator.state = {"bit_generator": "PCG64", "state": {"state": plain["state"], "inc": plain["inc"]},
                           "has_uint32": plain["has_uint32"], "uinteger": plain["uinteger"]}
    return np.random.Generator(bit_generator)


def save_state(state, path):
    """Write a :class:`SearchState` to one ``.npz`` (arrays + a JSON string; no pickle).

    The file is written beside ``path`` under a temporary name and renamed
    (``nnlite.experiment.atomic_write``), so an interrupted save leaves the previous
    checkpoint intact. The rng is stored as PCG64's state, plain ints.
    """
    pop = state.population
    meta = {"config": state.config.to_json(), "generation": state.generation, "history": state.history,
            "rng_state": _rng_state(state.rng), "n_inputs": pop[0].n_inputs, "n_outputs": pop[0].n_outputs}
    atomic_write(path, lambda f: np.savez(
        f, meta=np.array(json.dumps(meta, allow_nan=False)),
        n_nodes=np.array([g.n_nodes for g in pop]), n_conn=np.array([len(g.src) for g in pop]),
        activations=np.concatenate([g.activations for g in pop]),
        src=np.concatenate([g.src for g in pop]), dst=np.concatenate([g.dst for g in pop]),
        enabled=np.concatenate([g.enabled for g in pop])))


_STATE_ARRAYS = ("meta", "n_nodes", "n_conn", "activations", "src", "dst", "enabled")


def load_state(path):
    """Read a :class:`SearchState` written by :func:`save_state`; every part is validated.

    Raises ``ValueError`` naming the file and what is wrong (missing arrays,
    inconsistent lengths, an invalid genome, settings or rng state).
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in _STATE_ARRAYS if k in f.files}
        meta = json.loads(str(arrays.get("meta", "{}")))
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:  # a text file, a truncated zip, bad JSON
        raise ValueError(f"path: {path} is not a readable WANN checkpoint ({_first_line(error)})") from None
    missing = [k for k in _STATE_ARRAYS if k not in arrays]
    if missing:
        raise ValueError(f"path: {path} is not a WANN checkpoint: missing arrays {missing}")
    return _state_from_parts(path, meta, arrays)


def _first_line(error):
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


def _state_from_parts(path, meta, arrays):
    keys = {"config", "generation", "history", "rng_state", "n_inputs", "n_outputs"}
    if not isinstance(meta, dict) or not keys <= set(meta):
        raise ValueError(f"path: {path} is not a WANN checkpoint: expected metadata keys {sorted(keys)}")
    n_nodes, n_conn = (np.asarray(arrays[k]) for k in ("n_nodes", "n_conn"))
    lengths_ok = (n_nodes.ndim == n_conn.ndim == 1 and len(n_nodes) == len(n_conn) >= 2
                  and np.issubdtype(n_nodes.dtype, np.integer) and np.issubdtype(n_conn.dtype, np.integer)
                  and n_nodes.min() >= 0 and n_conn.min() >= 0 and n_nodes.sum() == len(arrays["activations"])
                  and n_conn.sum() == len(arrays["src"]) == len(arrays["dst"]) == len(arrays["enabled"]))
    if not lengths_ok or arrays["enabled"].dtype != bool:
        raise ValueError(f"path: {path} is not a WANN checkpoint: the genome arrays' lengths or dtypes disagree")
    for name in ("n_inputs", "n_outputs", "generation"):
        if not isinstance(meta[name], int) or isinstance(meta[name], bool) or meta[name] < (name != "generation"):
            raise ValueError(f"path: {path}: expected {name} to be an int >= {int(name != 'generation')}, "
                             f"found {meta[name]!r}")
    acts = np.split(arrays["activations"], np.cumsum(n_nodes)[:-1])
    src, dst, enabled = (np.split(arrays[k], np.cumsum(n_conn)[:-1]) for k in ("src", "dst", "enabled"))
    try:
        population = [check_genome(Genome(meta["n_inputs"], meta["n_outputs"], *parts))
                      for parts in zip(acts, src, dst, enabled)]
        config = SearchConfig.from_json(meta["config"])
    except (ValueError, TypeError, OverflowError) as error:
        raise ValueError(f"path: {path} holds an invalid search: {error}") from None
    if len(population) != config.population_size or not isinstance(meta["history"], list):
        raise ValueError(f"path: {path}: expected {config.population_size} genomes and a history list, "
                         f"found {len(population)} genomes")
    return SearchState(config, population, _rng_from_state(meta["rng_state"], path), meta["generation"],
                       meta["history"])


def save_genome(genome, path):
    """Write one genome to ``.npz`` (plain arrays, no pickle), atomically."""
    _check_is_genome(genome)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected a str or a path, found {type(path).__name__} {path!r}")
    if not Path(path).expanduser().parent.is_dir():
        raise ValueError(f"path: expected a file in an existing folder, found {path}; create "
                         f"{Path(path).expanduser().parent} first")
    atomic_write(path, lambda f: np.savez(f, n_inputs=genome.n_inputs, n_outputs=genome.n_outputs,
                                          activations=genome.activations, src=genome.src, dst=genome.dst,
                                          enabled=genome.enabled))


def load_genome(path):
    """Read a genome written by :func:`save_genome` (validated)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("n_inputs", "n_outputs", "activations", "src", "dst", "enabled")}
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"path: {path} is not a saved WANN genome ({_first_line(error)})") from None
    try:
        return check_genome(Genome(int(arrays["n_inputs"]), int(arrays["n_outputs"]), arrays["activations"],
                                   arrays["src"], arrays["dst"], arrays["enabled"]))
    except (ValueError, TypeError, OverflowError) as error:
        raise ValueError(f"path: {path} holds an invalid genome: {error}") from None


def draw_genome(genome, ax=None, input_shape=None):
    """Draw a network with matplotlib: used inputs on the left, hidden layers,
    outputs on the right; enabled connections as lines, nodes coloured by
    activation. With ``input_shape`` (e.g. (16, 16)) an inset image shows how
    many enabled connections leave each pixel. Returns the axes."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 7))
    depth = node_depths(genome)
    src, dst = genome.src[genome.enabled], genome.dst[genome.enabled]
    used = np.zeros(genome.n_nodes, dtype=bool)
    used[src], used[dst] = True, True
    used[genome.output_nodes] = True
    used[genome.hidden_nodes] = True
    xy = np.zeros((genome.n_nodes, 2))
    for d in np.unique(depth[used]):
        nodes = np.flatnonzero(used & (depth == d))
        xy[nodes, 0] = d
        xy[nodes, 1] = np.linspace(0, 1, len(nodes) + 2)[1:-1]
    ax.plot(np.stack([xy[src, 0], xy[dst, 0]]), np.stack([xy[src, 1], xy[dst, 1]]), color="0.6", lw=0.3, alpha=0.5)
    cmap = plt.get_cmap("tab10")
    fixed = np.flatnonzero(used[: 1 + genome.n_inputs])
    ax.scatter(xy[fixed, 0], xy[fixed, 1], s=6, c="k", label="input / bias", zorder=3)
    for k, name in enumerate(ACTIVATIONS):
        nodes = np.concatenate([genome.hidden_nodes, genome.output_nodes])
        nodes = nodes[genome.activations[nodes] == k]
        if len(nodes):
            ax.scatter(xy[nodes, 0], xy[nodes, 1], s=30, color=cmap(k), label=name, zorder=3, edgecolor="k", lw=0.3)
    for i, node in enumerate(genome.output_nodes):
        ax.annotate(str(i), xy[node], xytext=(5, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_xticks(np.unique(depth[used]))
    ax.set_xlabel("layer (0: inputs and bias; last: outputs, labelled by class)")
    ax.set_yticks([])
    ax.set_title(f"{genome.n_connections} connections, {len(genome.hidden_nodes)} hidden nodes")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if input_shape is not None:
        counts = np.bincount(src, minlength=genome.n_nodes)[1: 1 + genome.n_inputs].reshape(input_shape)
        inset = ax.inset_axes([1.02, 0.0, 0.25, 0.25])
        inset.imshow(counts, cmap="viridis")
        inset.set_title("connections per pixel", fontsize=7)
        inset.axis("off")
    return ax


#: Search settings of the command: saved in OUT/settings.json, and a resumed run must not contradict them.
SEARCH_OPTIONS = ("task", "population", "batch_size", "tournament_size", "p_enable", "seed", "defaults")


def add_arguments(parser):
    """Arguments of the ``wann`` subcommand."""
    parser.add_argument("--task", choices=("digits8", "mnist16"), default=None, help="default: digits8")
    parser.add_argument("--population", type=positive_int, default=None, help="default: 64 (at least 2)")
    parser.add_argument("--generations", type=non_negative_int, default=None,
                        help="total generations, counting those of earlier runs of a resumed search (default: no "
                             "limit with --time-budget-minutes, else 100; a resumed search keeps its own)")
    parser.add_argument("--time-budget-minutes", type=positive_float, default=None,
                        help="minutes of search for this invocation (a resumed search gets a fresh budget; "
                             "default: the first invocation's). The search stops at whichever of the two "
                             "limits comes first")
    parser.add_argument("--defaults", choices=tuple(DEFAULTS), default=None,
                        help="mutation probabilities, elitism, add-connection sampling, size objective: the "
                             "paper's (where it is silent, the authors' released code), the released code's, "
                             "or nnlite-v1 (before issue 13; reproduces the figures made with it). Default: paper")
    parser.add_argument("--n-jobs", type=positive_int, default=1,
                        help="chunks of the population evaluated at once: threads of this process under "
                             "--backend sequential, processes under --backend loky, Dask workers of the "
                             "LocalCluster under --backend dask (the results are the same bits for any number)")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="fitness batch (default: 1000, digits8: 512)")
    parser.add_argument("--tournament-size", type=positive_int, default=None, help="default: 8")
    parser.add_argument("--p-enable", type=probability, default=None,
                        help="probability of each initial connection (default: 0.05)")
    parser.add_argument("--tune-epochs", type=non_negative_int, default=10)
    parser.add_argument("--seed", type=non_negative_int, default=None, help="default: 0")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--resume", action="store_true",
                        help="continue the search saved in OUT (its settings apply; --generations and "
                             "--time-budget-minutes may change; other options given must agree with it)")
    parser.add_argument("--out", required=True, help="output directory (refused if it holds a search, "
                                                     "unless --resume); with --seeds N one folder per seed in it")
    add_grid_arguments(parser, jobs=False)
    return parser


def _search_settings(args, out):
    """The command's search settings: the saved ones (``--resume``) or the options and their defaults.

    A new run refuses an ``out`` that holds a search; a resumed run refuses
    options that contradict the saved settings, naming them. Nothing is written
    here: ``_save_settings`` does that once the task has loaded.
    """
    settings_path = out / "settings.json"
    given = {k: getattr(args, k) for k in SEARCH_OPTIONS if getattr(args, k) is not None}
    saved = json.loads(settings_path.read_text()) if settings_path.exists() else {}
    if saved and "defaults" not in saved:  # a search started before issue 13
        saved["defaults"] = "nnlite-v1"
    if not args.resume and (saved or (out / "checkpoint.npz").exists()):
        raise ValueError(f"--out: {out} already holds a WANN search; pass --resume to continue it "
                         "or choose another --out")
    differ = [k for k in given if k in saved and saved[k] != given[k]]
    if differ:
        raise ValueError(f"--resume: the search in {out} was made with "
                         + ", ".join(f"{_flag(k)} {saved[k]}" for k in differ) + ", found "
                         + ", ".join(f"{_flag(k)} {given[k]}" for k in differ)
                         + "; drop those options or choose another --out")
    task = saved.get("task", given.get("task", "digits8"))
    settings = {"task": task, "population": 64, "batch_size": 512 if task == "digits8" else 1000,
                "tournament_size": 8, "p_enable": 0.05, "seed": 0, "defaults": "paper",
                "time_budget_minutes": args.time_budget_minutes, **given, **saved}
    with option_names({"population_size": "--population", "batch_size": "--batch-size",
                       "tournament_size": "--tournament-size", "p_enable": "--p-enable"}):
        SearchConfig(population_size=settings["population"], batch_size=settings["batch_size"],
                     tournament_size=settings["tournament_size"], p_enable=settings["p_enable"])
    return settings


def _save_settings(out, settings):
    """Write OUT/settings.json for a new search (a resumed one keeps its own)."""
    if not (out / "settings.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "settings.json", json.dumps(settings, indent=1))


def _new_config(settings, args):
    """The config of a new search: --generations, else no limit with a time budget, else 100."""
    generations = args.generations
    if generations is None:
        generations = None if args.time_budget_minutes is not None else 100
    return SearchConfig.from_defaults(settings["defaults"], population_size=settings["population"],
                                      n_generations=generations, batch_size=settings["batch_size"],
                                      tournament_size=settings["tournament_size"], p_enable=settings["p_enable"])


def _budget_minutes(args, settings, state):
    """This invocation's budget: --time-budget-minutes, else the first invocation's (settings.json)."""
    budget = args.time_budget_minutes if args.time_budget_minutes is not None else settings.get("time_budget_minutes")
    if budget is None and state.config.n_generations is None:
        raise ValueError("--time-budget-minutes: the search has no generation limit, so it needs a budget; found "
                         "none; pass --time-budget-minutes or --generations")
    return budget


def _flag(name):
    return "--" + name.replace("_", "-")


# -- the population evaluated as a grid ------------------------------------------
def genome_json(genome):
    """A genome as JSON values (a grid task's parameters)."""
    return {"n_inputs": int(genome.n_inputs), "n_outputs": int(genome.n_outputs),
            **{k: getattr(genome, k).tolist() for k in ("activations", "src", "dst", "enabled")}}


def genome_from_json(d):
    return Genome(d["n_inputs"], d["n_outputs"], *(np.array(d[k]) for k in ("activations", "src", "dst", "enabled")))


def evaluate_chunk_task(params, seed_sequence, data_dir=None):
    """One grid task: step 2 for a chunk of genomes on the generation's batch of the task (loaded by name)."""
    W.use_content_cache()
    task = load_dataset("wann-task", task=params["task"], data_dir=data_dir)
    batch = np.array(params["batch"], dtype=np.int64)
    rewards, accuracies = W.evaluate_chunk([genome_from_json(g) for g in params["genomes"]], task.X_train[batch],
                                           task.y_train[batch], params["weights"])
    return {"rewards": rewards.tolist(), "accuracies": accuracies.tolist(),
            "dtypes": [rewards.dtype.str, accuracies.dtype.str]}


class ThreadEvaluator:
    """Step 2 of a generation on ``n_threads`` threads of this process, ``chunks_per_thread`` chunks each.

    ``evaluate(population, batch, weights)`` for ``pruning.wann.run_search``, on
    the rows ``batch`` of ``X`` and ``y``. The genomes stay in this process, with
    their cached plans, and nothing is written to disk or pickled, which made
    ``GridEvaluator`` on local processes slower than one thread for this step
    (``python benchmarks/pruning.py --compare-evaluators``). The products and
    activations release the GIL. The same bits as
    ``pruning.wann.evaluate_population`` for any ``n_threads``.
    """

    def __init__(self, X, y, n_threads, *, chunks_per_thread=4):
        self.X, self.y, self.n_threads, self.chunks_per_thread = X, y, n_threads, chunks_per_thread

    def __call__(self, population, batch, weights):
        X, y = self.X[batch], self.y[batch]
        chunks = [c for c in np.array_split(np.arange(len(population)), self.n_threads * self.chunks_per_thread)
                  if len(c)]
        parts = map_in_threads(lambda chunk: W.evaluate_chunk([population[i] for i in chunk], X, y, weights),
                               chunks, self.n_threads)
        return tuple(np.concatenate([part[i] for part in parts]) for i in range(2))


class GridEvaluator:
    """Step 2 of a generation as ``run_grid`` tasks, one per chunk of ``n_chunks`` genomes.

    ``evaluate(population, batch, weights)`` for ``pruning.wann.run_search``. The
    tasks load the task's training images by name; their records go to a
    scratch folder ``folder/.evaluation`` that is removed after each generation.
    The rewards come back through JSON (exact for floats) in their own dtype: the
    same bits as ``pruning.wann.evaluate_population`` for any ``n_chunks``.
    """

    def __init__(self, task, folder, *, data_dir=None, n_chunks=2, **grid):
        self.task, self.folder, self.data_dir, self.n_chunks, self.grid = task, Path(folder), data_dir, n_chunks, grid

    def __call__(self, population, batch, weights):
        chunks = [c for c in np.array_split(np.arange(len(population)), self.n_chunks) if len(c)]
        params = [{"task": self.task, "batch": [int(i) for i in batch], "weights": [float(w) for w in weights],
                   "genomes": [genome_json(population[i]) for i in chunk]} for chunk in chunks]
        scratch = self.folder / ".evaluation"
        shutil.rmtree(scratch, ignore_errors=True)
        records = {r["key"]: r["result"] for r in run_grid(functools.partial(evaluate_chunk_task,
                                                                             data_dir=self.data_dir),
                                                           params, scratch, **self.grid)}
        shutil.rmtree(scratch, ignore_errors=True)
        parts = [records[task_key(p)] for p in params]
        return tuple(np.concatenate([np.array(part[name], dtype=part["dtypes"][i]) for part in parts])
                     for i, name in enumerate(("rewards", "accuracies")))


def run_search(state, X, y, *, time_budget_s=None, evaluate=None, checkpoint_path=None, checkpoint_seconds=0.0,
               progress=None):
    """``pruning.wann.run_search``, saving the state to ``checkpoint_path`` (``save_state``) after the first
    generation, then whenever ``checkpoint_seconds`` have passed since the last save, and at the end; printing
    one line per generation to ``progress``.

    A save is fsynced and holds the whole history (tens of milliseconds, growing with the generations);
    a search resumed from any save continues bit for bit, so the interval only bounds the generations a
    kill loses.
    """
    last_save = []

    def on_generation_end(state, seconds):
        if checkpoint_path and (not last_save or seconds - last_save[-1] >= checkpoint_seconds):
            save_state(state, checkpoint_path)
            last_save.append(seconds)
        if progress:
            h = state.history[-1]
            progress(f"gen {h['generation']:5d}  {seconds:7.1f}s  best mean reward {h['best_mean_reward']:.4f}  "
                     f"mean acc {h['best_mean_accuracy']:.3f}  connections {h['best_n_connections']}  "
                     f"(median {h['median_n_connections']:.0f})")
    W.run_search(state, X, y, time_budget_s=time_budget_s, evaluate=evaluate, on_generation_end=on_generation_end)
    if checkpoint_path:
        save_state(state, checkpoint_path)
    return state


# -- the champion's report: one grid record per search ----------------------------
def champion_report_task(params, seed_sequence, out_dir, data_dir=None):
    """One grid task: choose the champion of the search saved in ``out_dir/params["folder"]`` on validation
    data, save it (``champion.npz``), draw it (``champion.png``) and return its report (``report_champion``,
    tuning and random weights from the search's seed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    folder = Path(out_dir) / params["folder"]
    state = load_state(folder / "checkpoint.npz")
    task = load_dataset("wann-task", task=params["task"], data_dir=data_dir)
    champion, _ = choose_champion(state.population, task.X_val, task.y_val)
    save_genome(champion, folder / "champion.npz")
    report = report_champion(champion, task, tune_epochs=params["tune_epochs"], rng=params["seed"])
    ax = draw_genome(champion, input_shape=task.input_shape)
    save_figure(ax.figure, folder / "champion.png", dpi=120, bbox_inches="tight")
    plt.close(ax.figure)
    return report


def _task(task, data_dir=None):
    from pruning.wann_tasks import load_task
    return load_task(task, data_dir=data_dir)


register_dataset("wann-task", _task)   # grid tasks load a task by name


def main(args):
    """Run (or resume) the search of every seed, report each champion; the last printed line is JSON. Returns 0.

    The population of each generation is evaluated in ``--n-jobs`` chunks: on threads under the sequential
    backend (``ThreadEvaluator``), as grid tasks otherwise (``GridEvaluator``); the champions' reports are
    one grid task per search (``champion_report_task``), so ``--out/results.jsonl`` holds them.
    """
    if args.scheduler is not None and args.backend != "dask":
        raise ValueError(f"--scheduler: expected only with --backend dask, found --backend {args.backend}; "
                         "add --backend dask or drop --scheduler")
    out = Path(args.out)
    first = _search_settings(args, out)["seed"]
    seeds = [first] if args.seeds is None else list(range(first, first + args.seeds))
    folders = {seed: "." if args.seeds is None else f"seed{seed}" for seed in seeds}
    with _client(args) as client:
        grid = {"backend": args.backend, "scheduler": client, "n_jobs": args.n_jobs}
        runs = {seed: _search(_with_seed(args, seed, args.seeds is not None), out / folders[seed], grid)
                for seed in seeds}
        params = [{"folder": folders[seed], "task": settings["task"], "seed": settings["seed"],
                   "generation": state.generation, "tune_epochs": args.tune_epochs}
                  for seed, (settings, state, _) in runs.items()]
        task = functools.partial(champion_report_task, out_dir=str(out), data_dir=args.data_dir)
        records = {r["params"]["folder"]: r["result"] for r in run_grid(task, params, out, **grid)}
    for seed, (settings, state, timing) in runs.items():
        report = {**records[folders[seed]], **timing, "task": settings["task"],
                  "population": state.config.population_size, "batch_size": state.config.batch_size,
                  "generations": state.generation,
                  "n_jobs": args.n_jobs, "generation_limit": state.config.n_generations,
                  "stopped_by": state.stopped_by, "defaults": settings["defaults"], "seed": settings["seed"]}
        write_text_atomic(out / folders[seed] / "results.json", json.dumps(report, indent=1))
        print(json.dumps(report), flush=True)
    return 0


def _with_seed(args, seed, several):
    import argparse
    return argparse.Namespace(**{**vars(args), "seed": seed if several else args.seed})


def _client(args):
    """One Dask client for the whole command (``--backend dask``), else nothing."""
    import contextlib

    from nnlite.experiment import dask_client
    return dask_client(args.scheduler, args.n_jobs) if args.backend == "dask" else contextlib.nullcontext()


def _evaluator(settings, task, out, args, grid):
    """Step 2's runner: in this process (one job), on threads (sequential backend), or as grid tasks."""
    if grid["backend"] != "sequential":
        return GridEvaluator(settings["task"], out, data_dir=args.data_dir, n_chunks=grid["n_jobs"], **grid)
    return ThreadEvaluator(task.X_train, task.y_train, grid["n_jobs"]) if grid["n_jobs"] > 1 else None


def _search(args, out, grid):
    """Run or resume the search saved in ``out``; returns (settings, state, this run's timing)."""
    remove_stale_temp_files(out)
    settings = _search_settings(args, out)
    task = load_dataset("wann-task", task=settings["task"], data_dir=args.data_dir)
    _save_settings(out, settings)   # after the task loads: a missing dataset leaves no search behind
    checkpoint = out / "checkpoint.npz"
    if checkpoint.exists():
        state = load_state(checkpoint)
        if state.population[0].n_inputs != task.X_train.shape[1]:
            raise ValueError(f"--task: the search in {out} has {state.population[0].n_inputs} inputs, "
                             f"task {settings['task']} has {task.X_train.shape[1]}; choose another --out")
        if args.generations is not None:
            state.config.n_generations = args.generations
        print(f"resumed from {checkpoint} at generation {state.generation}", flush=True)
    else:
        state = start_search(task.X_train.shape[1], task.n_classes, _new_config(settings, args), rng=settings["seed"])
    budget_minutes = _budget_minutes(args, settings, state)
    evaluate = _evaluator(settings, task, out, args, grid)
    start, start_cpu = time.perf_counter(), time.process_time()
    with pin_threads(1):
        run_search(state, task.X_train, task.y_train, evaluate=evaluate,
                   time_budget_s=None if budget_minutes is None else 60 * budget_minutes,
                   checkpoint_path=checkpoint, checkpoint_seconds=10.0, progress=lambda s: print(s, flush=True))
    # CPU seconds of this process (workers excluded): the wall clock depends on machine load
    timing = {"search_seconds_this_run": round(time.perf_counter() - start, 1),
              "search_cpu_seconds_this_run": round(time.process_time() - start_cpu, 1),
              "time_budget_minutes": budget_minutes}
    return settings, state, timing
