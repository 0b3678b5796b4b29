"""Bad inputs to data preprocessing, pruning masks and schedules, WANN tasks and the official-models helpers.

Each test feeds one bad argument (the others good) and asserts a ValueError or
TypeError whose message names that argument (``assert_rejected``).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decomposition import official_models
from nnlite import MLP, data
from pruning import masks as M
from pruning import schedules as S
from pruning import wann_tasks as T
from strategies import assert_rejected, bad_arrays

NAN, INF = float("nan"), float("inf")
BAD_INTS = [0, -1, 1.5, NAN, INF, "3", None]
BAD_FRACTIONS = [-0.1, 1.5, NAN, INF, "0.5", None]

# kinds that are bad for any array argument (the width of an arbitrary-shape array is free)
ANY_SHAPE_KINDS = ("nan", "inf", "complex", "object", "string", "empty")


def tiny_mlp():
    return MLP([4, 5, 3], rng=0, dtype=np.float64)


# -- nnlite.data preprocessing -------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(bad=bad_arrays((3, 4), kinds=("nan", "inf", "complex", "object", "string", "empty")))
def test_scaling_refuses_every_bad_pixel_array_naming_X(bad):
    _, X = bad
    for scale in (data.scale_255, data.scale_65025):
        assert_rejected(scale, "X", X)


@pytest.mark.parametrize("scale", [data.scale_255, data.scale_65025])
@pytest.mark.parametrize("X", [np.array([[0.5, 1.0]]), np.array([[-1, 2]]), np.array([[70000, 0]]),
                               np.zeros((4, 3), dtype=bool), np.zeros((0, 3), dtype=np.uint8)])
def test_scaling_refuses_scaled_negative_too_large_bool_and_empty_pixels(scale, X):
    assert_rejected(scale, "X", X)


@pytest.mark.parametrize("X", [np.array(["a", "b"]).reshape(1, 2), np.ones((2, 2), dtype=object), np.arange(3)])
def test_flatten_refuses_non_numeric_or_one_dimensional_X(X):
    assert_rejected(data.flatten, "X", X)


def test_a_file_is_not_a_data_dir(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert_rejected(data.resolve_data_dir, "data_dir", a_file)
    assert_rejected(data.load_mnist, "data_dir", "test", data_dir=a_file, download=False)


def test_fetch_refuses_a_non_string_base_url():
    assert_rejected(data.fetch, "base_url", "mnist/t10k-labels-idx1-ubyte.gz", download=False, base_url=3)


@pytest.mark.parametrize("argument, value", [("url", 3), ("url", None), ("url", "ftp://host/file"), ("path", 3),
                                             ("sha256", "abc"), ("sha256", 3), ("size", -1), ("size", NAN),
                                             ("size", "10")])
def test_download_checks_its_arguments_before_connecting(tmp_path, argument, value):
    kwargs = {"url": "http://127.0.0.1:9/x", "path": tmp_path / "f.bin", "sha256": "0" * 64, "size": 10,
              "progress": False, argument: value}
    assert_rejected(data.download, argument, **kwargs)
    assert not any(tmp_path.iterdir())


def test_read_idx_names_the_path_of_a_directory_or_a_missing_file(tmp_path):
    assert_rejected(data.read_idx, "path", tmp_path)
    with pytest.raises(FileNotFoundError, match="path: "):
        data.read_idx(tmp_path / "missing.idx")


# -- pruning.masks -----------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(bad=bad_arrays((4, 3), kinds=ANY_SHAPE_KINDS))
def test_magnitude_pruning_refuses_bad_weights_naming_W(bad):
    _, W = bad
    assert_rejected(M.magnitudes, "W", W)
    assert_rejected(M.magnitude_mask, "W", W, 0.5)
    assert_rejected(M.global_magnitude_masks, "weights", [np.ones((2, 2)), W], 0.5)


@settings(max_examples=30, deadline=None)
@given(bad=bad_arrays((4, 3), kinds=ANY_SHAPE_KINDS))
def test_score_pruning_refuses_bad_scores_naming_scores(bad):
    _, scores = bad
    assert_rejected(M.lowest_score_mask, "scores", scores, 0.5)
    assert_rejected(M.global_lowest_score_masks, "scores", [scores], 0.5)


def test_single_layer_messages_name_the_users_argument_not_an_internal_list():
    error = assert_rejected(M.lowest_score_mask, "scores", np.array([[np.nan, 1.0]]), 0.5)
    assert "scores[0]" not in str(error)
    error = assert_rejected(M.magnitude_mask, "mask", np.ones((2, 2)), 0.5, mask=np.ones((3, 3), bool))
    assert "masks[0]" not in str(error)


@pytest.mark.parametrize("scores", [[], np.ones((4, 3)), "scores"])
def test_global_pruning_wants_a_non_empty_list_of_arrays(scores):
    assert_rejected(M.global_lowest_score_masks, "scores", scores, 0.5)


@pytest.mark.parametrize("n_unpruned", [-1, 1.5, "10", None])
def test_n_to_prune_checks_n_unpruned(n_unpruned):
    assert_rejected(M.n_to_prune, "n_unpruned", 0.5, n_unpruned)


@pytest.mark.parametrize("shape", [(-1, 3), (1.5, 3), "4x3", None, ()])
def test_random_masks_check_the_shape(shape):
    assert_rejected(M.random_mask, "shape", shape, 0.5, rng=0)
    assert_rejected(M.global_random_masks, "shapes", [shape], 0.5, rng=0)


@pytest.mark.parametrize("layers", [[], [0, 0], "0", [1.5]])
def test_check_layers_wants_distinct_indices(layers):
    assert_rejected(M.check_layers, "layers", layers, 2)


@pytest.mark.parametrize("masks", [[], "m", [None], [np.full((2, 2), 0.5)]])
def test_fraction_remaining_wants_boolean_masks(masks):
    assert_rejected(M.fraction_remaining, "masks", masks)


@pytest.mark.parametrize("call", [M.prune_masks, M.prune])
@pytest.mark.parametrize("model", ["model", None, np.ones((2, 2))])
def test_pruning_refuses_what_is_not_a_model(call, model):
    assert_rejected(call, "model", model, 0.5)


@pytest.mark.parametrize("call", [M.apply_masks, M.apply_masks_inplace, M.set_masks, M.set_masks_inplace])
def test_mask_setters_check_model_and_masks(call):
    good = [np.ones((4, 5), bool), np.ones((5, 3), bool)]
    assert_rejected(call, "model", "model", good)
    assert_rejected(call, "masks", tiny_mlp(), None)
    assert_rejected(call, "masks", tiny_mlp(), "m")


@pytest.mark.parametrize("call", [M.remove_masks, M.remove_masks_inplace, M.current_masks])
def test_mask_readers_check_the_model(call):
    assert_rejected(call, "model", "model")


def test_prune_masks_names_amount_when_it_is_not_a_number_or_a_list():
    assert_rejected(M.prune_masks, "amount", tiny_mlp(), None)


# -- pruning.schedules -----------------------------------------------------------

@pytest.mark.parametrize("method", ["target_sparsity", "should_prune", "last_pruning_step", "sparsity_in_force",
                                    "__call__"])
@pytest.mark.parametrize("step", [-1, NAN, INF, 1.5, "10", None, True, np.array([1, -2])])
def test_schedule_steps_are_ints_from_zero(method, step):
    schedule = S.PolynomialDecay(0.0, 0.8, 0, 100)
    assert_rejected(getattr(schedule, method), "step", step)


def test_schedule_accepts_int_arrays_of_steps():
    schedule = S.PolynomialDecay(0.0, 0.8, 0, 100)
    assert schedule.target_sparsity(np.arange(0, 201, 50)).shape == (5,)


@pytest.mark.parametrize("t", [NAN, "5", None, -1, 2.5])
def test_cubic_sparsity_checks_t(t):
    assert_rejected(S.cubic_sparsity, "t", t, 0.0, 0.8, 0, 10, 1)


@pytest.mark.parametrize("argument, value", [("n_total", "10"), ("n_total", None), ("n_total", 1.5),
                                             ("n_unpruned", "10"), ("n_unpruned", 1.5), ("n_unpruned", 11)])
def test_n_to_prune_now_checks_its_counts(argument, value):
    kwargs = {"sparsity": 0.5, "n_total": 10, "n_unpruned": 10, argument: value}
    assert_rejected(S.n_to_prune_now, argument, **kwargs)


# -- pruning.wann_tasks ----------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(bad=bad_arrays((2, 8, 8), kinds=("nan", "inf", "complex", "object", "string", "empty", "wrong_ndim",
                                        "wrong_width")))
def test_downsample_area_refuses_bad_images(bad):
    _, images = bad
    assert_rejected(T.downsample_area, "images", images, 4)


@pytest.mark.parametrize("size", BAD_INTS + [9])
def test_downsample_area_names_size(size):
    assert_rejected(T.downsample_area, "size", np.ones((2, 8, 8)), size)


@pytest.mark.parametrize("argument, value", [("name", "cifar"), ("name", None), ("data_dir", 3),
                                             ("n_validation", -1), ("n_validation", 1.5), ("n_validation", "5"),
                                             ("n_validation", None), ("n_validation", 10 ** 6)])
def test_load_task_checks_every_argument_before_loading(argument, value):
    kwargs = {"name": "digits8", argument: value}
    assert_rejected(T.load_task, argument, **kwargs)


# -- decomposition.official_models -------------------------------------------------

@pytest.mark.parametrize("model", ["mnist-1", None])
def test_official_model_helpers_want_a_manifest_row(tmp_path, model):
    assert_rejected(official_models.model_url, "model", model)
    assert_rejected(official_models.fetch_model, "model", model, tmp_path)


def test_base_urls_need_a_scheme(tmp_path):
    row = official_models.select_models("mnist-1")[0]
    assert_rejected(official_models.model_url, "base_url", row, base_url="127.0.0.1/x")
    assert_rejected(official_models.fetch_models, "base_url", ["mnist-1"], tmp_path, base_url="127.0.0.1/x",
                    progress=False)


@pytest.mark.parametrize("flag", ["progress", "keep_h5"])
def test_fetch_models_flags_are_booleans(tmp_path, flag):
    kwargs = {"progress": False, flag: "yes"}
    assert_rejected(official_models.fetch_models, flag, ["mnist-1"], tmp_path, base_url="http://127.0.0.1:9/",
                    **kwargs)


def test_folders_are_paths_and_not_files(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    row = official_models.select_models("mnist-1")[0]
    assert_rejected(official_models.fetch_model, "folder", row, 3)
    assert_rejected(official_models.fetch_model, "folder", row, a_file)
    assert_rejected(official_models.remove_stale_temporaries, "folder", 3)
    assert_rejected(official_models.resolve_models_dir, "models_dir", a_file)
    assert official_models.remove_stale_temporaries(str(tmp_path)) == []


@pytest.mark.parametrize("max_age", [-1, NAN, "900", None])
def test_remove_stale_temporaries_checks_max_age(tmp_path, max_age):
    assert_rejected(official_models.remove_stale_temporaries, "max_age", tmp_path, max_age)


@pytest.mark.parametrize("names", [3, [3], None])
def test_ensure_models_checks_names(names):
    assert_rejected(official_models.ensure_models, "names", names)


def test_ensure_models_reads_a_single_name_as_one_name(tmp_path):
    # tmp_path is not the download cache, so nothing is fetched; a str must not be split into letters
    assert official_models.ensure_models("mnist-1", models_dir=tmp_path) is None
