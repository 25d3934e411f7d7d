"""The smoke profile's sample photos: real, deterministic, colourful."""

import numpy as np
from PIL import Image

from unetcolor import color
from unetcolor.photos import data, samples


def _read(paths):
    return np.stack([np.asarray(Image.open(path)) for path in paths])


def test_bundled_photos_are_full_size_colour_files():
    paths = samples.sample_photo_paths()
    assert [path.name for path in paths] == list(samples.PHOTOS)
    for path in paths:
        with Image.open(path) as image:
            assert image.mode == "RGB" and min(image.size) >= 300


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    first = samples.write_sample_photos(tmp_path / "a", count=6, size=64, seed=3)
    second = samples.write_sample_photos(tmp_path / "b", count=6, size=64, seed=3)
    other = samples.write_sample_photos(tmp_path / "c", count=6, size=64, seed=4)
    assert [path.name for path in first] == [f"sample_{i:03d}.png" for i in range(6)]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second))
    assert not np.array_equal(_read(first), _read(other))
    assert sorted(path.name for path in (tmp_path / "a").iterdir()) == [path.name for path in first]


def test_crops_are_textured_colourful_and_the_right_size(tmp_path):
    crops = _read(samples.write_sample_photos(tmp_path, count=8, size=96, seed=0))
    assert crops.shape == (8, 96, 96, 3) and crops.dtype == np.uint8
    # Real photo content, not flat patches and not near-gray ones.
    assert crops.reshape(8, -1).std(axis=1).min() > samples.MIN_STD
    assert color.chroma(crops).min() > 2 * data.BW_CHROMA_THRESHOLD
    # Every crop is different (different windows of four photos).
    assert len({crop.tobytes() for crop in crops}) == 8
