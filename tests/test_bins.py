"""The a*, b* bins head: bins, soft targets and rebalancing against hand-worked values,
the Keras loss against a numpy reference, and the saved decoded model against a direct
annealed-mean computation."""

import numpy as np
import pytest

from unetcolor.colorizers import bins as ab_bins

import tiny

SMALL = tiny.model(image_size=16, filters=(4, 8), normalization="batch", output="ab")


def test_bin_centers_are_the_occupied_grid_cells():
    ab = np.array([[1.0, 2.0], [4.9, -4.9], [12.0, 31.0], [-26.0, 0.0], [0.0, 0.0]])
    centers = ab_bins.bin_centers(ab, grid=10)
    # cells round(ab/10): (0,0) x3, (1,3), (-3,0); sorted by (a, b)
    np.testing.assert_array_equal(centers, [[-30, 0], [0, 0], [10, 30]])
    np.testing.assert_array_equal(ab_bins.bin_centers(ab, grid=10, min_count=2), [[0, 0]])
    with pytest.raises(ValueError, match="no a\\*, b\\* bin"):
        ab_bins.bin_centers(ab, grid=10, min_count=9)


def test_soft_targets_are_a_normalised_gaussian_of_the_distance():
    centers = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 20.0]])
    target = ab_bins.soft_targets(np.array([[5.0, 0.0]]), centers, sigma=5.0)[0]
    # distances^2: 25, 25, 425 -> exp(-0.5), exp(-0.5), exp(-8.5)
    expected = np.exp([-0.5, -0.5, -8.5])
    np.testing.assert_allclose(target, expected / expected.sum())


def test_rebalancing_weights_invert_the_mixed_frequency():
    centers = np.array([[0.0, 0.0], [100.0, 0.0]])  # far apart: soft targets are one-hot
    ab = np.array([[0.0, 0.0]] * 3 + [[100.0, 0.0]])  # frequencies 3/4, 1/4
    weights = ab_bins.rebalancing_weights(ab, centers, sigma=5.0, rebalance=0.5)
    raw = 1 / (0.5 * np.array([0.75, 0.25]) + 0.5 / 2)
    np.testing.assert_allclose(weights, raw / (np.array([0.75, 0.25]) @ raw), rtol=1e-6)
    assert np.array([0.75, 0.25]) @ weights == pytest.approx(1.0)
    # rebalance=1: uniform prior, so weights are 1/(Q * p) normalised -> the rare bin weighs 3x
    uniform = ab_bins.rebalancing_weights(ab, centers, sigma=5.0, rebalance=1.0)
    np.testing.assert_allclose(uniform, [1.0, 1.0], rtol=1e-6)
    none = ab_bins.rebalancing_weights(ab, centers, sigma=5.0, rebalance=0.0)
    np.testing.assert_allclose(none[1] / none[0], 3.0, rtol=1e-6)
    with pytest.raises(ValueError, match="rebalance"):
        ab_bins.rebalancing_weights(ab, centers, sigma=5.0, rebalance=1.5)


def test_soft_bin_loss_matches_a_numpy_reference():
    rng = np.random.default_rng(0)
    centers = ab_bins.bin_centers(rng.uniform(-60, 60, (500, 2)), grid=10)
    weights = rng.uniform(0.5, 2.0, len(centers)).astype(np.float32)
    y_true = rng.uniform(-0.4, 0.4, (2, 3, 3, 2)).astype(np.float32)
    logits = rng.normal(size=(2, 3, 3, len(centers))).astype(np.float32)
    loss = float(ab_bins.SoftBinLoss(centers, weights, sigma=5.0)(y_true, logits))
    target = ab_bins.soft_targets(y_true * 128, centers, 5.0)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = np.mean((target * weights).sum(-1) * -(target * log_p).sum(-1))
    assert loss == pytest.approx(expected, rel=1e-4)


def test_decoded_model_is_the_annealed_mean_and_loads_in_safe_mode(tmp_path):
    from unetcolor.evaluation import predict

    centers = np.array([[-40.0, 10.0], [0.0, 0.0], [30.0, 50.0]], np.float32)
    trained = ab_bins.logits_model(SMALL, len(centers))
    gray = np.random.default_rng(1).uniform(0, 1, (2, 16, 16, 1)).astype(np.float32)
    logits = trained.predict(gray, verbose=0)
    for temperature in (0.38, 1.0):
        decoded = ab_bins.decoded_model(trained, SMALL, centers, temperature)
        path = tmp_path / f"t{temperature}.keras"
        decoded.save(path)
        again = predict.load_model(path)  # safe mode
        p = np.exp(logits / temperature)
        p /= p.sum(-1, keepdims=True)
        np.testing.assert_allclose(again.predict(gray, verbose=0), p @ centers / 128, atol=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        ab_bins.decoded_model(trained, SMALL, centers, 0.0)
