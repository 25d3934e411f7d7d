"""Metrics against independent references: hand-computed values, scikit-image,
TensorFlow's tf.image (where installed) and Keras' own accuracy metric."""

import numpy as np
import pytest

from unetcolor import color
from unetcolor.evaluation import metrics


def photo_pair(size=64, noise=20, seed=0):
    """A natural photo crop and a noisy copy, both uint8 (size, size, 3)."""
    from skimage import data

    reference = data.astronaut()[100:100 + size, 150:150 + size]
    rng = np.random.default_rng(seed)
    test = np.clip(reference.astype(int) + rng.integers(-noise, noise + 1, reference.shape), 0, 255)
    return reference, test.astype(np.uint8)


# ----------------------------------------------------------------------- PSNR


def test_psnr_hand_computed_2x2():
    reference = np.zeros((2, 2, 3), np.uint8)
    test = reference.copy()
    test[0, 1, 2] = 4  # one value off by 4: MSE = 16 / 12 values
    # 10 log10(255^2 / (16/12)) worked out by hand
    assert metrics.psnr(reference, test) == pytest.approx(46.8814162, abs=1e-6)


def test_psnr_identical_is_inf_and_maximal_error_is_zero_db():
    image = np.full((4, 4, 3), 7, np.uint8)
    assert metrics.psnr(image, image) == float("inf")
    assert metrics.psnr(np.zeros_like(image), np.full_like(image, 255)) == pytest.approx(0.0)


def test_psnr_matches_skimage():
    from skimage.metrics import peak_signal_noise_ratio

    reference, test = photo_pair()
    expected = peak_signal_noise_ratio(reference, test, data_range=255)
    assert metrics.psnr(reference, test) == pytest.approx(expected, abs=1e-9)


def test_psnr_batch_matches_tensorflow():
    tf = pytest.importorskip("tensorflow")
    pairs = [photo_pair(size=32, noise=noise, seed=noise) for noise in (3, 10, 40)]
    reference = np.stack([p[0] for p in pairs])
    test = np.stack([p[1] for p in pairs])
    expected = tf.image.psnr(reference.astype(np.float64), test.astype(np.float64), max_val=255.0).numpy()
    np.testing.assert_allclose(metrics.psnr_batch(reference, test), expected, atol=1e-6)
    assert metrics.psnr_batch(reference, reference).tolist() == [np.inf] * 3


def test_psnr_refuses_model_range_floats():
    with pytest.raises(ValueError, match="output_to_rgb"):
        metrics.psnr(np.zeros((2, 2, 3), np.float32), np.zeros((2, 2, 3), np.float32))


# ----------------------------------------------------------------------- SSIM


def test_ssim_identical_is_one_and_noise_lowers_it():
    reference, test = photo_pair()
    assert metrics.ssim(reference, reference) == pytest.approx(1.0)
    assert 0.2 < metrics.ssim(reference, test) < 0.95


def test_ssim_gaussian_window_matches_tensorflow():
    tf = pytest.importorskip("tensorflow")
    reference, test = photo_pair(size=48, noise=30)
    # tf.image.ssim: 11x11 Gaussian window, sigma 1.5, population covariance, valid region only
    expected = float(tf.image.ssim(reference.astype(np.float32), test.astype(np.float32), max_val=255.0))
    ours = metrics.ssim(reference, test, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert ours == pytest.approx(expected, abs=1e-5)


# -------------------------------------------------------------- colorfulness


def test_colorfulness_of_gray_is_zero():
    gray = np.random.default_rng(1).integers(0, 256, (8, 8), dtype=np.uint8)
    assert metrics.colorfulness(color.gray_baseline(gray)) == 0.0


def test_colorfulness_hand_computed():
    # pure red and pure blue: rg = [255, 0], yb = [127.5, -255]
    # std: 127.5, 191.25; mean: 127.5, -63.75
    # M = sqrt(127.5^2 + 191.25^2) + 0.3 sqrt(127.5^2 + 63.75^2)
    image = np.array([[[255, 0, 0], [0, 0, 255]]], np.uint8)
    assert metrics.colorfulness(image) == pytest.approx(272.6186939, abs=1e-6)


def test_colorfulness_of_uniform_colour_is_only_the_mean_term():
    image = np.zeros((3, 5, 3), np.uint8)
    image[...] = (200, 100, 50)  # rg = 100, yb = 100
    assert metrics.colorfulness(image) == pytest.approx(0.3 * np.hypot(100, 100))


# ---------------------------------------------------------- Keras "accuracy"


def accuracy_cases():
    rng = np.random.default_rng(3)
    y_true = rng.uniform(-1, 1, (4, 8, 8, 3)).astype(np.float32)
    y_pred = rng.uniform(-1, 1, (4, 8, 8, 3)).astype(np.float32)
    # targets made from 8-bit photos tie often: a gray pixel has R = G = B
    rgb = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    rgb[:, :4] = rgb[:, :4, :, :1]
    rgb[:, :, :2, 1] = rgb[:, :, :2, 0]
    return [(y_true, y_pred), (color.rgb_to_target(rgb), y_pred)]


@pytest.mark.parametrize("case", [0, 1])
def test_keras_accuracy_matches_categorical_accuracy(case):
    import keras

    y_true, y_pred = accuracy_cases()[case]
    reference = keras.metrics.CategoricalAccuracy()
    reference.update_state(y_true, y_pred)
    assert metrics.keras_accuracy(y_true, y_pred) == pytest.approx(float(reference.result()), abs=1e-6)


def test_keras_accuracy_matches_what_compile_reports():
    """Compile a model that returns its input with metrics=["accuracy"], as
    training does, so Keras itself resolves the string."""
    import keras

    y_true, y_pred = accuracy_cases()[1]
    inputs = keras.Input(shape=y_pred.shape[1:])
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    model.compile(loss="mse", metrics=["accuracy"])
    reported = model.evaluate(y_pred, y_true, batch_size=2, verbose=0, return_dict=True)["accuracy"]
    ours = metrics.keras_accuracy(y_true, y_pred)
    assert ours == pytest.approx(reported, abs=1e-6)
    assert 0.2 < ours < 0.6  # a real check: not trivially 0 or 1


def test_keras_accuracy_counts_dominant_channel_only():
    y_true = np.array([[[[0.9, 0.1, 0.0], [0.0, 0.0, 0.5]]]])
    y_pred = np.array([[[[0.2, 0.1, 0.0], [0.5, 0.0, 0.0]]]])  # first pixel far off but same argmax
    assert metrics.keras_accuracy(y_true, y_pred) == 0.5


# --------------------------------------------------------- per-image table


def test_evaluate_images_and_summarize():
    reference, test = photo_pair(size=16)
    true_rgb = np.stack([reference, color.gray_baseline(color.rgb_to_gray(reference))])
    pred_rgb = np.stack([test, true_rgb[1]])
    gray = color.rgb_to_gray(true_rgb)
    table = metrics.evaluate_images(true_rgb, pred_rgb, gray, names=["colour", "gray"])
    assert list(table.columns) == [
        "psnr_model", "psnr_gray", "ssim_model", "ssim_gray",
        "colorfulness_model", "colorfulness_gray", "colorfulness_true",
    ]
    assert table.loc["colour", "psnr_model"] == pytest.approx(metrics.psnr(reference, test))
    # an already-gray truth: the gray baseline reproduces it exactly
    assert table.loc["gray", "psnr_gray"] == np.inf
    assert table.loc["gray", "ssim_gray"] == pytest.approx(1.0)
    assert (table["colorfulness_gray"] == 0).all()
    assert table.loc["colour", "colorfulness_true"] > 10

    summary = metrics.summarize(table)
    assert len(summary) == 7
    row = summary[(summary.metric == "colorfulness") & (summary.method == "ground truth")].iloc[0]
    assert row["mean"] == pytest.approx(table["colorfulness_true"].mean())
    assert row["median"] == pytest.approx(table["colorfulness_true"].median())
    assert row["n"] == 2
    assert set(summary.method) == {"model", "gray baseline", "ground truth"}


def test_side_by_side_puts_gray_outputs_and_original_in_a_row_with_their_psnr():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    gray_copy = lambda rgb: color.gray_baseline(color.rgb_to_gray(rgb))  # noqa: E731
    rows, titles = metrics.side_by_side({"identity": lambda rgb: rgb.copy(), "gray": gray_copy}, [photo])
    assert len(rows) == 1 and len(rows[0]) == 4
    np.testing.assert_array_equal(rows[0][0], color.rgb_to_gray(photo))
    np.testing.assert_array_equal(rows[0][3], photo)
    mse = np.mean((photo.astype(float) - gray_copy(photo).astype(float)) ** 2)
    expected = f"{10 * np.log10(255 ** 2 / mse):.2f} dB"
    assert titles[0] == [f"gray copy: {expected}", "PSNR inf dB", f"PSNR {expected}", ""]


# ------------------------------------------- a*, b* error AuC and bias (Zhang et al. 2016)


def brute_force_auc(truth_ab, pred_ab, thresholds=range(151), weights=None):
    """Reference: the thresholds x pixels comparison, written out, with optional pixel weights."""
    truth_ab, pred_ab = (np.asarray(x, np.float64).reshape(-1, 2) for x in (truth_ab, pred_ab))
    distance = np.sqrt(((pred_ab - truth_ab) ** 2).sum(-1))
    weights = np.full(len(distance), 1 / len(distance)) if weights is None else weights / weights.sum()
    within = distance[None, :] <= np.asarray(list(thresholds), np.float64)[:, None]
    return float((within * weights[None, :]).sum(1).mean())


def rebalanced_weights(truth_ab, grid=10.0):
    """Reference: 1 / frequency of each pixel's rint(ab / grid) cell, by np.unique."""
    cells = np.rint(np.asarray(truth_ab, np.float64).reshape(-1, 2) / grid)
    _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse.ravel()]


def colourful_batch(n=2, size=32):
    from skimage import data

    photo = data.astronaut()
    return np.stack([photo[100 + 40 * i:100 + 40 * i + size, 150:150 + size] for i in range(n)])


def test_identical_images_score_auc_one_and_no_bias():
    truth = colourful_batch()
    assert metrics.ab_error_auc(truth, truth) == 1.0
    assert metrics.ab_error_auc(truth, truth, rebalance=True) == 1.0
    assert metrics.ab_bias(truth, truth) == (0.0, 0.0)


@pytest.mark.parametrize("shift", [0.0, 5.0, 5.5, 37.0, 150.0, 151.0, 200.0])
def test_constant_b_shift_on_lab_arrays_gives_the_hand_computed_auc(shift):
    # integer a*, b* keep (b + shift) - b exact; distance <= t for the thresholds t >= shift
    rng = np.random.default_rng(1)
    truth = rng.integers(-60, 61, (3, 8, 8, 2)).astype(np.float64)
    pred = truth + [0.0, shift]
    expected = np.sum(np.arange(151) >= shift) / 151  # (151 - ceil(shift)) / 151, at least 0
    assert metrics.ab_error_curve(truth, pred).mean() == pytest.approx(expected, abs=1e-12)
    assert metrics.ab_error_curve(truth, pred, rebalance=True).mean() == pytest.approx(expected, abs=1e-12)
    if shift == 5.0:
        assert expected == pytest.approx(146 / 151)


def test_constant_b_shift_through_8bit_rgb():
    # built in L*a*b*, converted to 8-bit sRGB: the rounding moves a*, b* by about a unit
    lab = np.zeros((1, 16, 16, 3))
    lab[..., 0] = np.linspace(40, 70, 16)[None, :, None]
    lab[..., 1] = np.linspace(-15, 15, 16)[None, None, :]
    lab[..., 2] = 5.0
    shifted = lab + [0, 0, 20.0]
    truth, pred = color.lab_to_rgb(lab), color.lab_to_rgb(shifted)
    mean_da, mean_db = metrics.ab_bias(truth, pred)
    assert abs(mean_da) < 0.5 and mean_db == pytest.approx(20.0, abs=0.5)
    reference = brute_force_auc(color.rgb_to_lab(truth)[..., 1:], color.rgb_to_lab(pred)[..., 1:])
    assert metrics.ab_error_auc(truth, pred) == pytest.approx(reference, abs=1e-12)
    assert metrics.ab_error_auc(truth, pred) == pytest.approx(131 / 151, abs=2 / 151)


def test_gray_copy_bias_is_minus_the_truths_mean_ab():
    truth = colourful_batch()
    gray = color.gray_baseline(color.rgb_to_gray(truth))
    truth_lab = color.rgb_to_lab(truth).astype(np.float64)
    mean_da, mean_db = metrics.ab_bias(truth, gray)
    # a neutral gray has a* = b* = 0 up to scikit-image's float noise (|a*|, |b*| < 0.005 on 0..255 grays)
    assert mean_da == pytest.approx(-truth_lab[..., 1].mean(), abs=1e-2)
    assert mean_db == pytest.approx(-truth_lab[..., 2].mean(), abs=1e-2)
    assert abs(mean_da) + abs(mean_db) > 5  # the crop is colourful: a real cast, not noise


def test_raw_and_rebalanced_auc_match_brute_force_references():
    truth = colourful_batch(n=3)
    noisy = np.clip(truth.astype(int) + np.random.default_rng(2).integers(-40, 41, truth.shape), 0, 255)
    pred = noisy.astype(np.uint8)
    truth_ab, pred_ab = color.rgb_to_lab(truth)[..., 1:], color.rgb_to_lab(pred)[..., 1:]
    raw = brute_force_auc(truth_ab, pred_ab)
    balanced = brute_force_auc(truth_ab, pred_ab, weights=rebalanced_weights(truth_ab))
    assert metrics.ab_error_auc(truth, pred) == pytest.approx(raw, abs=1e-12)
    assert metrics.ab_error_auc(truth, pred, rebalance=True) == pytest.approx(balanced, abs=1e-12)
    assert raw != pytest.approx(balanced, abs=1e-3)
    # chunking the set changes nothing; the rebalancing counts the whole set, not each chunk
    assert metrics.ab_error_auc(truth, pred, rebalance=True, chunk=1) == pytest.approx(balanced, abs=1e-12)
    # other thresholds, as given
    assert metrics.ab_error_auc(truth, pred, thresholds=[0.5, 3, 10, 80]) == pytest.approx(
        brute_force_auc(truth_ab, pred_ab, thresholds=[0.5, 3, 10, 80]), abs=1e-12)


def test_rebalanced_equals_raw_when_the_truth_fills_one_bin():
    rng = np.random.default_rng(3)
    truth = rng.uniform(-4.9, 4.9, (2, 10, 10, 2))  # every ground truth in the cell around (0, 0)
    pred = truth + rng.normal(0, 30, truth.shape)
    raw = metrics.ab_error_curve(truth, pred)
    np.testing.assert_allclose(metrics.ab_error_curve(truth, pred, rebalance=True), raw, atol=1e-15)
    assert 0 < raw.mean() < 1


def test_rebalancing_weighs_each_bin_equally_hand_built():
    # 9 pixels in the bin around (0, 0), all exact; 1 pixel in the bin around (50, 50), 100 off
    truth = np.array([[0.0, 0.0]] * 9 + [[50.0, 50.0]])
    pred = truth.copy()
    pred[-1] += [60.0, 80.0]  # distance 100: within the thresholds 100..150, 51 of 151
    raw = metrics.ab_error_curve(truth, pred)
    balanced = metrics.ab_error_curve(truth, pred, rebalance=True)
    # raw: 9/10 of the pixels below t = 100, all from there; rebalanced: each bin half
    np.testing.assert_allclose(raw, np.where(np.arange(151) >= 100, 1.0, 0.9))
    np.testing.assert_allclose(balanced, np.where(np.arange(151) >= 100, 1.0, 0.5))
    assert raw.mean() == pytest.approx((100 * 0.9 + 51) / 151)
    assert balanced.mean() == pytest.approx((100 * 0.5 + 51) / 151)


def test_color_measures_and_summary_rows():
    truth = colourful_batch()
    gray = color.rgb_to_gray(truth)
    pred = color.gray_baseline(gray)
    table = metrics.color_measures(truth, {"same": truth, "gray": pred})
    assert list(table.columns) == list(metrics.COLOR_MEASURES) and list(table.index) == ["same", "gray"]
    assert table.loc["same"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert table.loc["gray", "ab_auc"] == pytest.approx(metrics.ab_error_auc(truth, pred))
    assert table.loc["gray", "ab_auc_rebalanced"] == pytest.approx(metrics.ab_error_auc(truth, pred, rebalance=True))
    assert tuple(table.loc["gray", ["a_bias", "b_bias"]]) == pytest.approx(metrics.ab_bias(truth, pred))
    summary = metrics.color_summary(truth, truth, gray)
    assert list(summary.columns) == ["metric", "method", "mean", "std", "median", "n"]
    assert summary["metric"].tolist() == [m for m in metrics.COLOR_MEASURES for _ in range(2)]
    assert summary["method"].tolist() == ["model", "gray baseline"] * 4
    assert summary["std"].isna().all() and summary["median"].isna().all() and (summary["n"] == 2).all()


def test_ab_measures_refuse_bad_input():
    truth = colourful_batch()
    with pytest.raises(ValueError, match="batch"):
        metrics.ab_error_auc(truth[0], truth[0])
    with pytest.raises(ValueError, match="uint8"):
        metrics.ab_bias(truth.astype(np.float32), truth.astype(np.float32))
    with pytest.raises(ValueError, match="increasing"):
        metrics.ab_error_auc(truth, truth, thresholds=[3, 1])


def _lab_patch(angle_degrees: float, chroma: float, lightness: float = 60.0, size: int = 8) -> np.ndarray:
    """A uint8 sRGB patch of one L*a*b* colour at the given hue angle and chroma."""
    a = chroma * np.cos(np.radians(angle_degrees))
    b = chroma * np.sin(np.radians(angle_degrees))
    lab = np.broadcast_to(np.array([lightness, a, b]), (1, size, size, 3))
    return color.lab_to_rgb(lab)


def test_hue_classes_follow_the_angle_in_the_ab_plane_and_leave_out_neutral_pixels():
    ab = np.array([[40.0, 0.0], [20.0, 20.0], [0.0, 40.0], [-30.0, 20.0], [-10.0, -40.0], [3.0, 3.0]])
    # angles 0, 45, 90, 146 and 256 degrees; the last pair has a chroma of 4
    assert metrics.hue_class(ab).tolist() == [0, 1, 2, 3, 4, -1]


def test_hue_agreement_counts_the_right_class_per_class_of_the_originals():
    sky, grass = _lab_patch(250, 40), _lab_patch(140, 40)
    truth = np.concatenate([sky, grass])
    blue_grass = np.concatenate([sky, sky])  # the grass painted blue
    gray = np.repeat(color.rgb_to_gray(truth)[..., None], 3, axis=-1)
    table = metrics.hue_agreement(truth, {"perfect": truth, "blue grass": blue_grass, "gray": gray}).set_index("hue")
    assert table.loc["sky and water blue", "pixels"] == pytest.approx(0.5)
    assert table.loc["vegetation green", "pixels"] == pytest.approx(0.5)
    assert table.loc["sky and water blue", "perfect"] == 1.0 and table.loc["vegetation green", "perfect"] == 1.0
    assert table.loc["sky and water blue", "blue grass"] == 1.0 and table.loc["vegetation green", "blue grass"] == 0.0
    assert table.loc["any hue", "blue grass"] == pytest.approx(0.5) and table.loc["any hue", "gray"] == 0.0
    assert np.isnan(table.loc["yellow", "perfect"])  # no yellow pixel in the originals
