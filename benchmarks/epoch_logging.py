"""What logging the training accuracy costs a CNN epoch (``nnlite.train.fit``).

One epoch of the DSR experiment's dense CNN (``pruning.dsr.build_model``,
channels 16 32, hidden 128, batch 128, Adam 1e-3) on a training set, twice:
with the default running minibatch accuracy (scored in the training forward
pass, as Keras logs it) and with ``rescore_train=True`` (the whole training
set scored again after the epoch). Validation is off in both. The two
settings alternate for ``--repeats`` rounds; the best of each is kept.

Usage::

    python benchmarks/epoch_logging.py [--dataset cifar10] [--n-train N] [--repeats R] [--clock cpu]

Last line: ``{"running_s": .., "rescore_s": .., "rescore_extra": rescore_s / running_s - 1}``.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from nnlite.optim import Adam  # noqa: E402
from nnlite.train import fit  # noqa: E402
from pruning import dsr  # noqa: E402
from pruning.experiments import dsr as DX  # noqa: E402


def one_epoch(data, rescore):
    model = dsr.build_model("dense", data.X_train.shape[1:], 10, 0.0, rng=0)
    return lambda: fit(model, data.X_train, data.y_train, optimizer=Adam(1e-3), epochs=1, batch_size=128, rng=0,
                       progress=False, rescore_train=rescore)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("fashion-mnist", "cifar10"), default="cifar10")
    parser.add_argument("--n-train", type=int, default=None, help="training subset (default: all)")
    parser.add_argument("--data-dir", default=_common.default_data_dir())
    _common.add_timing_arguments(parser, repeats=3, threads=1)
    args = _common.parse_timing_args(parser)
    data = DX.load_dataset(args.dataset, args.data_dir, args.n_train, rng=0, validation="test")
    best = {False: float("inf"), True: float("inf")}
    with _common.blas_threads(args.threads):
        for _ in range(args.repeats):
            for rescore in (False, True):
                seconds, _ = _common.timed(one_epoch(data, rescore), args.clock)
                best[rescore] = min(best[rescore], seconds)
    print(f"{args.dataset}, {len(data.X_train)} training images, {_common.conditions(args)}")
    print(f"epoch with running accuracy: {best[False]:.2f} s; with a full rescore: {best[True]:.2f} s "
          f"(+{100 * (best[True] / best[False] - 1):.0f}%)")
    _common.print_json_last({"running_s": best[False], "rescore_s": best[True],
                             "rescore_extra": best[True] / best[False] - 1})


if __name__ == "__main__":
    main()
