"""License-clear photos bundled with scikit-image (astronaut, chelsea, coffee, rocket: public domain or
CC0), read from the installed package with no network, for the smoke profile and the tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from .. import color, paths
from . import images

SAMPLE_PHOTOS_DIR = "scikit-image"  # photo_files(SAMPLE_PHOTOS_DIR): the bundled photos instead of a folder's
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
# a crop is redrawn if it is nearly flat or nearly colourless (a patch of sky or smoke)
MIN_STD = 20.0
MIN_CHROMA = 8.0
MAX_DRAWS = 100
SCALE_RANGE = (0.3, 1.0)  # crop side as a fraction of the photo's shorter side: from a detail to the whole


def sample_photo_paths() -> list[Path]:
    """The bundled full-size colour photos (PHOTOS), e.g. to colorize at native size."""
    import skimage.data  # located, never called: its loaders may download
    photos = [Path(skimage.data.__file__).parent / name for name in PHOTOS]
    if missing := paths.missing(photos):
        raise FileNotFoundError(f"sample photos {missing} are missing from scikit-image's package; "
                                "reinstall it (`pip install --force-reinstall scikit-image`)")
    return photos


def photo_files(photos_dir: str | os.PathLike, max_photos: int = 0) -> list[Path]:
    """The first max_photos (0: all) photo files of SAMPLE_PHOTOS_DIR (the bundled ones) or of a folder
    (relative to the project root), in a fixed order. Each error names the fix."""
    if max_photos < 0:
        raise ValueError(f"max_photos must be >= 0 (0 takes all), got {max_photos}")
    if os.fspath(photos_dir) == SAMPLE_PHOTOS_DIR:
        files = sample_photo_paths()
    else:
        folder = paths.resolve(photos_dir)
        fix = (f"point photos_dir at a folder of photos ({', '.join(images.IMAGE_SUFFIXES)}), "
               f'or use photos_dir="{SAMPLE_PHOTOS_DIR}" for the photos bundled with scikit-image')
        where = f"photos_dir={os.fspath(photos_dir)!r} ({folder})"
        if not folder.exists():
            raise FileNotFoundError(f"{where} does not exist; {fix}")
        if not folder.is_dir():
            raise NotADirectoryError(f"{where} is a file, not a folder; {fix}")
        files = [path for path in images.expand_inputs([folder]) if path.is_file()]
        if not files:
            raise ValueError(f"{where} holds no photos; {fix}")
    return files[:max_photos] if max_photos else files


def write_sample_photos(out_dir: str | os.PathLike, count: int = 36, size: int = 256, seed: int = 0) -> list[Path]:
    """Write `count` random square crops (some mirrored) of the sample photos as `size`-pixel PNGs;
    the same seed gives the same files. Returns the paths in order."""
    if count < 1 or size < 1:
        raise ValueError(f"count ({count}) and size ({size}) must be >= 1")
    photos = [images.read_photo(path).rgb for path in sample_photo_paths()]
    rng = np.random.default_rng(seed)
    written = [Path(out_dir) / f"sample_{i:03d}.png" for i in range(count)]
    for i, path in enumerate(written):
        images.write_image_atomic(_draw_crop(photos[i % len(photos)], size, rng), path)
    return written


def _draw_crop(photo: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random textured, colourful square crop of photo (H, W, 3) resized to (size, size, 3)."""
    height, width = photo.shape[:2]
    for _ in range(MAX_DRAWS):
        side = int(rng.uniform(*SCALE_RANGE) * min(height, width))
        top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        image = Image.fromarray(photo).resize((size, size), Image.Resampling.LANCZOS,
                                              box=(left, top, left + side, top + side))
        crop = np.asarray(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.integers(0, 2) else image)
        if crop.std() >= MIN_STD and color.chroma(crop) >= MIN_CHROMA:
            return crop
    raise ValueError(f"no crop of a {width}x{height} sample photo passed the texture and colour checks "
                     f"in {MAX_DRAWS} draws; lower MIN_STD or MIN_CHROMA")
