"""Notebook 06's package functions: which photos `photos_dir` names, and the
per-photo table, checked against the identity, the gray baseline and a direct
NumPy PSNR."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from unetcolor import color
from unetcolor.evaluation import metrics
from unetcolor.photos import images, samples


def write_photos(folder, shapes, seed=0):
    """Real photo content (crops of scikit-image's astronaut) as PNG files photo_0.png, ... of the given (H, W)."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    source = data.astronaut()
    rng = np.random.default_rng(seed)
    written = []
    for index, (height, width) in enumerate(shapes):
        top = int(rng.integers(0, source.shape[0] - height))
        left = int(rng.integers(0, source.shape[1] - width))
        crop = source[top:top + height, left:left + width].copy()
        path = folder / f"photo_{index}.png"
        Image.fromarray(crop).save(path)
        written.append((path, crop))
    return written


# ---------------------------------------------------------------- photo_files


def test_scikit_image_names_the_bundled_photos():
    assert samples.photo_files("scikit-image") == samples.sample_photo_paths()
    assert samples.photo_files("scikit-image", max_photos=2) == samples.sample_photo_paths()[:2]


def test_a_relative_folder_is_read_from_the_project_root_sorted_and_cut(tmp_path, monkeypatch):
    monkeypatch.setenv("UNETCOLOR_ROOT", str(tmp_path))
    write_photos(tmp_path / "photos" / "b", [(20, 30)])
    write_photos(tmp_path / "photos" / "a", [(20, 30), (24, 24)])
    (tmp_path / "photos" / "notes.txt").write_text("not a photo")
    expected = [tmp_path / "photos" / "a" / "photo_0.png", tmp_path / "photos" / "a" / "photo_1.png",
                tmp_path / "photos" / "b" / "photo_0.png"]
    assert samples.photo_files("photos") == expected
    assert samples.photo_files("photos", max_photos=2) == expected[:2]
    assert samples.photo_files(str(tmp_path / "photos"), max_photos=9) == expected


def test_a_missing_folder_names_the_parameter_the_path_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("UNETCOLOR_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError) as caught:
        samples.photo_files("no/such/folder")
    message = str(caught.value)
    assert "photos_dir='no/such/folder'" in message
    assert str(tmp_path / "no" / "such" / "folder") in message
    assert "does not exist" in message and 'photos_dir="scikit-image"' in message


def test_an_empty_folder_or_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no photos here")
    with pytest.raises(ValueError, match=r"photos_dir=.*empty.* holds no photos; point photos_dir at a folder"):
        samples.photo_files(tmp_path / "empty")
    [(path, _)] = write_photos(tmp_path / "one", [(16, 16)])
    with pytest.raises(NotADirectoryError, match=r"is a file, not a folder; .*scikit-image"):
        samples.photo_files(path)
    with pytest.raises(ValueError, match="max_photos"):
        samples.photo_files("scikit-image", max_photos=-1)


# ------------------------------------------------------------ evaluate_photos


def test_the_identity_scores_perfectly_and_keeps_the_first_triples(tmp_path):
    written = write_photos(tmp_path, [(40, 56), (48, 32), (32, 32)])
    table, kept = metrics.evaluate_photos(lambda rgb: rgb.copy(), [path for path, _ in written], n_keep=2)
    assert list(table.columns) == ["file", "height", "width", "psnr_model", "psnr_gray", "ssim_model",
                                   "ssim_gray", "colorfulness_model", "colorfulness_true"]
    assert table["file"].tolist() == ["photo_0.png", "photo_1.png", "photo_2.png"]
    assert table[["height", "width"]].values.tolist() == [[40, 56], [48, 32], [32, 32]]
    assert (table["psnr_model"] == np.inf).all()
    np.testing.assert_allclose(table["ssim_model"], 1.0)
    np.testing.assert_array_equal(table["colorfulness_model"], table["colorfulness_true"])
    assert np.isfinite(table["psnr_gray"]).all() and (table["ssim_gray"] < 1).all()
    assert len(kept) == 2
    for (gray, colorized, original), (_, crop) in zip(kept, written):
        np.testing.assert_array_equal(original, crop)
        np.testing.assert_array_equal(colorized, crop)
        assert gray.shape == crop.shape[:2] and gray.dtype == np.uint8


def test_the_gray_baseline_as_colorizer_scores_as_the_baseline(tmp_path):
    written = write_photos(tmp_path, [(40, 56), (36, 36)])
    gray_copy = lambda rgb: color.gray_baseline(color.rgb_to_gray(rgb))  # noqa: E731
    table, kept = metrics.evaluate_photos(gray_copy, [path for path, _ in written], n_keep=5)
    pd.testing.assert_series_equal(table["psnr_model"], table["psnr_gray"], check_names=False)
    pd.testing.assert_series_equal(table["ssim_model"], table["ssim_gray"], check_names=False)
    np.testing.assert_allclose(table["colorfulness_model"], 0.0)
    assert len(kept) == 2  # n_keep beyond the number of photos keeps them all


def test_psnr_gray_matches_a_direct_numpy_computation(tmp_path):
    [(path, crop)] = write_photos(tmp_path, [(30, 45)], seed=1)
    table, kept = metrics.evaluate_photos(lambda rgb: rgb, [path], n_keep=0)
    assert kept == []
    # BT.601 luma rounded to the nearest integer, copied into R, G and B
    gray = np.rint(crop.astype(np.float64) @ np.array([0.299, 0.587, 0.114]))
    mse = np.mean((crop.astype(np.float64) - gray[..., None]) ** 2)
    assert table.loc[0, "psnr_gray"] == pytest.approx(10 * np.log10(255.0**2 / mse), abs=1e-9)


def test_a_colorizer_that_changes_the_size_is_refused(tmp_path):
    [(path, _)] = write_photos(tmp_path, [(32, 40)])
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.evaluate_photos(lambda rgb: rgb[:16], [path])


def test_an_unreadable_photo_names_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(images.UnreadableImageError, match="broken.jpg"):
        metrics.evaluate_photos(lambda rgb: rgb, [bad])
