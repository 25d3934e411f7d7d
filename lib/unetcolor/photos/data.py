"""Preparing photos into rgb.npy, gray.npy, index.csv, report.csv and manifest.json; seeded, nested
train/validation splits (splits/split_<train>_<val>.csv); the data fingerprint."""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm  # plain text bars: the same in terminals, notebooks and papermill logs

from .. import color, paths, profiles
from ..files import sha256_file, staged_folder, write_json, write_text
from ..reproducibility import batch_mode, usable_cores
from . import download, images, samples

# mean C*ab below which a photo counts as black-and-white: about one JND of neutral gray, plus JPEG noise
BW_CHROMA_THRESHOLD = 3.0
CHROMA_SIZE = 64  # chroma is measured on a box-downscaled copy, for speed
DEFAULT_SPLITS = ((70, 30), (80, 20), (90, 10))
MANIFEST_VERSION = 1
MISSING_HINT = "run `make data` (or notebook 01) first"
PREPARED_FILES = ("rgb.npy", "gray.npy", "index.csv", "report.csv", "manifest.json")


class SourceFile(NamedTuple):
    """A scanned file: its path and its POSIX name relative to the scanned folders' common root."""

    path: Path
    file: str

    @property
    def is_image_type(self) -> bool:
        return self.path.suffix.lower() in images.IMAGE_SUFFIXES


def scan_files(folders) -> list[SourceFile]:
    """Every regular, non-hidden file under `folders`, sorted by its name relative to their common root."""
    folders = [Path(folder) for folder in _as_list(folders)]
    if not folders:
        raise ValueError("no photo folders given")
    if missing := paths.missing(folders, folders=True):
        raise FileNotFoundError(f"{missing[0]}: photo folder not found; pass an existing folder (e.g. DATA_DIR=...)")
    resolved = [folder.resolve() for folder in folders]
    root = Path(os.path.commonpath(resolved))
    names = {path.relative_to(root).as_posix() for folder in resolved for path in images.below(folder)
             if path.is_file()}  # a set: nested folders list a file once
    return [SourceFile(root / name, name) for name in sorted(names)]


def scan_images(folders) -> list[Path]:
    """The files under `folders` with an image suffix, in scan_files' order."""
    return [source.path for source in scan_files(folders) if source.is_image_type]


def prepare_dataset(folders, out_dir: str | os.PathLike, image_size: int = 256, max_images: int | None = None,
                    min_size: int | None = None, bw_chroma_threshold: float = BW_CHROMA_THRESHOLD,
                    progress: bool | None = None, workers: int | None = None) -> pd.DataFrame:
    """Prepare the photos under `folders` into `out_dir`, swapped in whole, and return the report (file, status:
    skipped, excluded or kept, reason); a rerun with the same inputs and parameters returns the stored report."""
    out_dir = Path(out_dir)
    min_size = image_size // 2 if min_size is None else int(min_size)
    if image_size < 1 or (max_images is not None and max_images < 1):
        raise ValueError(f"image_size ({image_size}) and max_images ({max_images}) must be >= 1")
    sources = scan_files(folders)
    parameters = {"image_size": image_size, "max_images": max_images, "min_size": min_size,
                  "bw_chroma_threshold": bw_chroma_threshold, "chroma_size": CHROMA_SIZE, "resize_filter": "LANCZOS"}
    # every scanned file's relative path and content (file times play no part)
    inputs = hashlib.sha256("".join(f"{source.file}\0{sha256_file(source.path)}\n" for source in sources).encode())
    manifest = {"version": MANIFEST_VERSION, "inputs": inputs.hexdigest(), "parameters": parameters}
    try:
        stored = json.loads((out_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        stored = {}
    if all(stored.get(key) == value for key, value in manifest.items()) and not paths.missing(
            out_dir / name for name in PREPARED_FILES):
        return pd.read_csv(out_dir / "report.csv", keep_default_na=False)
    rows, kept = _examine_all(sources, image_size, min_size, bw_chroma_threshold, max_images,
                              not batch_mode() if progress is None else progress, workers)
    report = pd.DataFrame(rows, columns=["file", "status", "reason"])
    if not kept:
        raise ValueError(f"no usable photos under {[str(f) for f in _as_list(folders)]}; the report:\n{report}")
    index = pd.DataFrame(kept, columns=["file", "sha256", "width", "height", "mode", "chroma"])
    index.insert(0, "id", np.arange(len(index), dtype=int))
    manifest["counts"] = {status: int(n) for status, n in report["status"].value_counts().items()}
    _write_prepared(out_dir, [row["rgb"] for row in kept], index, report, manifest, image_size)
    return report


def make_splits(out_dir: str | os.PathLike, splits=DEFAULT_SPLITS, seed: int = 42) -> dict[str, pd.DataFrame]:
    """Write seeded train/validation manifests `out_dir/splits/split_<train>_<val>.csv`; {"80_20": frame, ...}.
    Each split's validation ids start one seeded permutation, so the smaller sets lie inside the larger ones."""
    out_dir = Path(out_dir)
    index = pd.read_csv(_prepared(out_dir, "index.csv"), keep_default_na=False)
    frame = index[["id", "file"]].sort_values("id").reset_index(drop=True)
    permutation = np.random.default_rng(seed).permutation(frame["id"].to_numpy())
    count = len(permutation)
    result = {}
    for train_share, val_share in splits:
        if train_share <= 0 or val_share <= 0 or train_share + val_share != 100:
            raise ValueError(f"split {train_share}/{val_share}: shares must be positive and add up to 100")
        val_count = math.floor(count * val_share / 100 + 0.5)
        if val_count < 1 or val_count >= count:
            raise ValueError(f"{out_dir}: {count} photos are too few for a {train_share}/{val_share} split "
                             "(both subsets need at least one photo); prepare more photos")
        name = f"{train_share}_{val_share}"
        result[name] = frame.assign(subset=np.where(frame["id"].isin(permutation[:val_count]), "val", "train"))
        write_text(out_dir / "splits" / f"split_{name}.csv", result[name].to_csv(index=False))
    return result


def load_arrays(out_dir: str | os.PathLike, mmap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The prepared (rgb, gray) uint8 arrays, memory-mapped read-only where `mmap`."""
    mode = "r" if mmap else None
    return tuple(np.load(_prepared(Path(out_dir), name), mmap_mode=mode) for name in ("rgb.npy", "gray.npy"))


def load_split(out_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(train_ids, val_ids): sorted int arrays indexing load_arrays' first axis."""
    frame = pd.read_csv(_prepared(Path(out_dir), f"splits/split_{split}.csv", f"has no split {split!r}"))
    return tuple(np.sort(frame.loc[frame["subset"] == s, "id"].to_numpy(dtype=np.int64)) for s in ("train", "val"))


def fingerprint(out_dir: str | os.PathLike) -> str:
    """The prepared data's identity (12 hex digits): the kept photos' content hashes in id order, the
    preparation parameters and every split's assignment (not where the photos came from)."""
    out_dir = Path(out_dir)
    index = pd.read_csv(_prepared(out_dir, "index.csv"), keep_default_na=False)
    manifest = json.loads(_prepared(out_dir, "manifest.json").read_text())
    digest = hashlib.sha256()
    digest.update("\n".join(f"{i} {sha}" for i, sha in zip(index["id"], index["sha256"])).encode())
    digest.update(json.dumps(manifest["parameters"], sort_keys=True).encode())
    for path in sorted((out_dir / "splits").glob("split_*.csv")):
        frame = pd.read_csv(path)
        digest.update(f"{path.name}:{''.join('v' if s == 'val' else 't' for s in frame['subset'])}".encode())
    return digest.hexdigest()[:12]


def common_validation_ids(out_dir: str | os.PathLike) -> np.ndarray:
    """Sorted ids that are validation photos in every split manifest of out_dir."""
    return functools.reduce(np.intersect1d, (load_split(out_dir, split)[1] for split in _splits(out_dir)))


def split_counts(out_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per split manifest: split ("70_30"), train, val (photo counts)."""
    rows = [(split, *map(len, load_split(out_dir, split))) for split in _splits(out_dir)]
    return pd.DataFrame(rows, columns=["split", "train", "val"])


def _examine(path: Path, image_size: int, min_size: int) -> dict:
    """Decode and prepare one file (nothing that depends on other files), in a worker thread."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return {"status": "skipped", "reason": f"cannot read ({error})"}
    result = {"sha256": hashlib.sha256(data).hexdigest(), "rgb": None, "chroma": None, "reason": ""}
    try:
        photo = images.read_photo(path)
    except images.UnreadableImageError as error:
        return {**result, "status": "skipped", "reason": error.reason}
    height, width = photo.rgb.shape[:2]
    result.update(width=width, height=height, mode=photo.mode, status="ok")
    if min(width, height) < min_size:
        reason = f"too small to crop ({width}x{height} px; shorter side under {min_size} px)"
        return {**result, "status": "excluded", "reason": reason}
    rgb = photo.rgb
    if photo.alpha is not None and photo.alpha.min() < 255:  # composite over white, as a viewer shows it
        weight = photo.alpha[..., None].astype(np.float32) / 255.0
        rgb = np.rint(rgb * weight + 255.0 * (1.0 - weight)).astype(np.uint8)
    square = crop_and_resize(rgb, image_size)
    small = np.asarray(Image.fromarray(square).resize((CHROMA_SIZE, CHROMA_SIZE), Image.Resampling.BOX))
    return {**result, "rgb": square, "chroma": round(float(color.chroma(small)), 3)}


def crop_and_resize(rgb: np.ndarray, image_size: int) -> np.ndarray:
    """Center square crop, then LANCZOS resize: uint8 (H, W, 3) -> uint8 (S, S, 3)."""
    height, width = rgb.shape[:2]
    side = min(height, width)
    left, top = (width - side) // 2, (height - side) // 2
    box = (left, top, left + side, top + side)
    return np.asarray(Image.fromarray(rgb).resize((image_size, image_size), Image.Resampling.LANCZOS, box=box))


def _examine_all(sources, image_size, min_size, bw_threshold, max_images, progress, workers):
    """Examine the image files in batches and decide each one's status: (report rows, kept rows). Precedence:
    unreadable, duplicate, too small, black-and-white; past max_images nothing is decoded."""
    unexamined = f"not examined (max_images={max_images} reached)"
    decided = {source.file: {"file": source.file, "status": "skipped",  # replaced for each file examined
                             "reason": unexamined if source.is_image_type else "not an image file type"}
               for source in sources}
    kept, first_with_sha = [], {}  # kept rows; sha256 -> the first file with that content
    candidates = [source for source in sources if source.is_image_type]
    examine = functools.partial(_examine, image_size=image_size, min_size=min_size)
    workers = max(1, int(workers)) if workers is not None else min(usable_cores() or 1, 8)
    step = 16 * workers  # a batch is submitted once the one before is used up: none decoded past max_images
    # threads: Pillow decodes without the GIL, and threads are safe inside Jupyter kernels
    with concurrent.futures.ThreadPoolExecutor(workers) as pool, tqdm(  # in batch runs a few log lines, not hundreds
            total=len(candidates), desc="preparing photos", unit="photo", disable=not progress,
            mininterval=15 if batch_mode() else 0.1) as bar:
        results = (result for start in range(0, len(candidates), step)
                   for result in pool.map(examine, [source.path for source in candidates[start : start + step]]))
        for source, result in zip(candidates, results):
            bar.update(1)
            row = decided[source.file] = {"file": source.file, **result}
            if row["status"] == "skipped":
                continue
            original = first_with_sha.setdefault(row["sha256"], row["file"])
            if original != row["file"]:
                row.update(status="excluded", reason=f"duplicate of {original}")
            elif row["status"] == "ok" and row["chroma"] < bw_threshold:  # not "ok": too small, set by _examine
                row.update(status="excluded", reason=f"black-and-white photo (mean chroma {row['chroma']:.1f})")
            elif row["status"] == "ok":
                row.update(status="kept", reason="")
                kept.append(row)
                if len(kept) == max_images:
                    break
    return list(decided.values()), kept


def _write_prepared(out_dir: Path, rgbs, index, report, manifest, image_size) -> None:
    """Fill a hidden sibling of out_dir and swap it in whole; the arrays are written photo by photo into memory
    maps, so a large folder never needs a second copy of itself in memory."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with staged_folder(out_dir, "writing") as staging:
        shape = (len(rgbs), image_size, image_size)
        rgb_file = np.lib.format.open_memmap(staging / "rgb.npy", "w+", np.uint8, shape + (3,))
        gray_file = np.lib.format.open_memmap(staging / "gray.npy", "w+", np.uint8, shape)
        for i, rgb in enumerate(rgbs):
            rgb_file[i] = rgb
            gray_file[i] = color.rgb_to_gray(rgb)
        for array in (rgb_file, gray_file):
            array.flush()
        del rgb_file, gray_file, array  # close the memory maps before renaming
        index.to_csv(staging / "index.csv", index=False)
        report.to_csv(staging / "report.csv", index=False)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _splits(out_dir: str | os.PathLike) -> list[str]:
    """The names ("70_30", ...) of out_dir's split manifests, sorted; FileNotFoundError if none."""
    found = sorted((Path(out_dir) / "splits").glob("split_*.csv"))
    if not found:
        raise FileNotFoundError(f"no split manifests in {Path(out_dir) / 'splits'}; {MISSING_HINT}")
    return [path.stem.removeprefix("split_") for path in found]


def _prepared(out_dir: Path, name: str, lack: str = "holds no prepared data") -> Path:
    """out_dir/name, or FileNotFoundError saying how to prepare it."""
    path = out_dir / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {out_dir} {lack}; {MISSING_HINT}")
    return path


def _as_list(folders) -> list:
    return [folders] if isinstance(folders, (str, os.PathLike)) else list(folders)


def photo_source(raw_dir: Path, data_dir: str, sample_photos: int, image_size: int, seed: int,
                 season: str = "summer") -> list[Path]:
    """The folders to prepare photos from: data_dir if given; else `sample_photos` crops of
    scikit-image's photos, written once; else the paper's dataset, downloaded, its `season` folders."""
    if data_dir:
        folder = paths.resolve(data_dir)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: DATA_DIR is not a folder; point it at a folder of photos")
        return [folder]
    if sample_photos:
        folder = Path(raw_dir) / f"skimage_samples_{sample_photos}_{image_size}_{seed}"
        if len(list(folder.glob("*.png"))) != sample_photos:
            samples.write_sample_photos(folder, count=sample_photos, size=image_size, seed=seed)
        return [folder]
    return download.photo_folders(download.fetch_dataset(raw_dir), season)


def describe_source(folders: list[Path], data_dir: str = "", sample_photos: int = 0) -> dict:
    """Where photo_source's folders came from, for the record (no absolute paths)."""
    if data_dir:
        return {"kind": "folder", "folder": paths.relative(folders[0])}
    if sample_photos:
        return {"kind": "scikit-image samples", "count": int(sample_photos)}
    marker = json.loads((Path(folders[0]).parent / download.MARKER).read_text())
    season = download.season_of(folders)
    return {"kind": "download", **{key: marker[key] for key in ("url", "archive", "sha256")},
            **({"season": season} if season else {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor data", description=__doc__)
    parser.add_argument("--profile", required=True, help="profile whose data settings to use (profiles/<name>.yaml)")
    parser.add_argument("--data-dir", default="", help="a folder of photos, instead of downloading the paper's dataset")
    parser.add_argument("--workers", type=int, help="decoding threads (default: CPU count, at most 8)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = profiles.load(args.profile)
    values, where = settings.data, paths.profile_paths(args.profile).make()
    folders = photo_source(where.raw, args.data_dir, values["sample_photos"], values["image_size"],
                           values["split_seed"], values["season"])
    report = prepare_dataset(folders, where.processed, image_size=values["image_size"],
                             max_images=values["max_images"] or None, workers=args.workers)
    write_text(where.tables / "data_report.csv", report.to_csv(index=False))
    write_json(where.tables / "data_source.json", describe_source(folders, args.data_dir, values["sample_photos"]))
    make_splits(where.processed, splits=settings.split_pairs, seed=values["split_seed"])
    counts = report["status"].value_counts()
    bw = int(report["reason"].fillna("").str.startswith("black-and-white").sum())
    print(f"{paths.relative(where.processed)}: kept {counts.get('kept', 0)}, excluded "
          f"{counts.get('excluded', 0)} ({bw} black-and-white), skipped {counts.get('skipped', 0)} "
          f"in {time.perf_counter() - started:.1f} s; report in {paths.relative(where.tables / 'data_report.csv')}")
    print(split_counts(where.processed).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
