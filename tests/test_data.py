"""Scanning, cleaning, preparing and splitting a folder seeded with odd files.

Photo content is real (crops of scikit-image's license-clear sample photos),
so the black-and-white check is tested on photos, not on noise.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from unetcolor import color
from unetcolor.photos import data, samples

SIZE = 64  # prepared size in these tests: small keeps them fast


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    """Eight real-photo crops, uint8 (8, 128, 128, 3)."""
    folder = tmp_path_factory.mktemp("crops")
    paths = samples.write_sample_photos(folder, count=8, size=128, seed=1)
    return np.stack([np.asarray(Image.open(path)) for path in paths])


def _jpeg(array, path, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, quality=95, **options)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, crops):
    """A folder with every kind of file data preparation must survive.
    Returns (folder, expected {file: (status, reason prefix)}, reference images)."""
    folder = tmp_path_factory.mktemp("source") / "photos"
    folder.mkdir()
    expected = {}
    reference = {}

    def add(name, status, reason=""):
        expected[name] = (status, reason)

    _jpeg(crops[0], folder / "photo a.jpg")
    add("photo a.jpg", "kept")
    shutil.copyfile(folder / "photo a.jpg", folder / "z duplicate.jpg")
    add("z duplicate.jpg", "excluded", "duplicate of photo a.jpg")
    _jpeg(crops[1], folder / "2013-11-10 19:30:53.jpg")
    add("2013-11-10 19:30:53.jpg", "kept")
    (folder / "nested" / "deeper").mkdir(parents=True)
    Image.fromarray(crops[2]).save(folder / "nested" / "deeper" / "photo.png")
    add("nested/deeper/photo.png", "kept")
    Image.fromarray(crops[3]).save(folder / "photo.webp", quality=95)
    add("photo.webp", "kept")
    Image.fromarray(crops[4]).save(folder / "photo.bmp")
    add("photo.bmp", "kept")
    Image.fromarray(crops[5]).save(folder / "photo.tiff")
    add("photo.tiff", "kept")
    _jpeg(crops[6], folder / "UPPER CASE.JPG")
    add("UPPER CASE.JPG", "kept")

    # Non-square: the prepared image is the central square (PNG, so exactly).
    wide = np.concatenate([crops[7], crops[6][:, :64]], axis=1)  # (128, 192, 3)
    Image.fromarray(wide).save(folder / "wide.png")
    add("wide.png", "kept")
    reference["wide.png"] = wide[:, 32:160]

    # Transparency is flattened on white: left half fully transparent.
    rgba = np.dstack([crops[1], np.full((128, 128), 255, np.uint8)])
    rgba[:, :64, 3] = 0
    Image.fromarray(rgba, "RGBA").save(folder / "transparent.png")
    add("transparent.png", "kept")

    palette = Image.fromarray(crops[2]).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    palette.save(folder / "palette.png")
    add("palette.png", "kept")
    reference["palette.png"] = np.asarray(palette.convert("RGB"))

    Image.fromarray(crops[3]).convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    add("cmyk.jpg", "kept")
    reference["cmyk.jpg"] = crops[3]

    # EXIF orientation 6: stored turned a quarter left, displayed turned back right.
    shown = crops[4]
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = Image.fromarray(shown).transpose(Image.Transpose.ROTATE_90)
    stored.save(folder / "rotated.jpg", quality=95, exif=exif)
    add("rotated.jpg", "kept")
    reference["rotated.jpg"] = shown

    # Already black-and-white photos, in three encodings.
    gray = color.rgb_to_gray(crops[5])
    _jpeg(np.repeat(gray[..., None], 3, axis=2), folder / "bw as rgb.jpg")
    add("bw as rgb.jpg", "excluded", "black-and-white photo (mean chroma 0.")
    Image.fromarray(gray, "L").save(folder / "gray L.png")
    add("gray L.png", "excluded", "black-and-white photo (mean chroma 0.0)")
    Image.fromarray(gray.astype(np.uint16) * 257).save(folder / "gray 16 bit.png")  # mode I;16
    add("gray 16 bit.png", "excluded", "black-and-white photo (mean chroma 0.0)")
    reference["gray"] = gray

    Image.fromarray(crops[6][:30, :40]).save(folder / "tiny.png")
    add("tiny.png", "excluded", "too small to crop (40x30 px")

    whole = (folder / "photo a.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    add("truncated.jpg", "skipped", "cannot decode")
    (folder / "empty.jpg").write_bytes(b"")
    add("empty.jpg", "skipped", "empty file")
    (folder / "notes.jpg").write_text("these are notes, not a photo\n")
    add("notes.jpg", "skipped", "not an image Pillow can identify")
    (folder / "readme.txt").write_text("about these photos\n")
    add("readme.txt", "skipped", "not an image file type")
    (folder / "no_suffix").write_bytes(whole)
    add("no_suffix", "skipped", "not an image file type")

    # Hidden files and folders are not part of the data at all.
    (folder / ".DS_Store").write_bytes(b"\0\1")
    (folder / ".cache").mkdir()
    _jpeg(crops[7], folder / ".cache" / "thumb.jpg")
    return folder, expected, reference


def _tree(root):
    """{relative path: (size, mtime_ns)} of every file under root."""
    return {
        path.relative_to(root).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_scan_is_sorted_recursive_and_skips_hidden(photo_folder):
    folder, expected, _ = photo_folder
    files = [source.file for source in data.scan_files(folder)]
    assert files == sorted(expected)
    images = data.scan_images([folder])
    assert [path.relative_to(folder).as_posix() for path in images] == sorted(
        name for name in expected if name not in ("readme.txt", "no_suffix")
    )


def test_scan_names_files_relative_to_the_common_root(tmp_path, crops):
    for name in ("trainA", "testA"):
        _jpeg(crops[0], tmp_path / "set" / name / "x.jpg")
    folders = [tmp_path / "set" / "trainA", tmp_path / "set" / "testA"]
    files = [source.file for source in data.scan_files(folders)]
    assert files == ["testA/x.jpg", "trainA/x.jpg"]


def test_every_file_gets_the_right_status(tmp_path, photo_folder):
    folder, expected, _ = photo_folder
    report = data.prepare_dataset(folder, tmp_path / "out", image_size=SIZE, progress=False, workers=2)
    assert list(report.columns) == ["file", "status", "reason"]
    assert report["file"].tolist() == sorted(expected)
    for row in report.itertuples():
        status, reason = expected[row.file]
        assert (row.status, row.reason[: len(reason)]) == (status, reason), row.file


def test_prepared_arrays_index_and_conversions(tmp_path, photo_folder):
    folder, expected, reference = photo_folder
    out = tmp_path / "out"
    data.prepare_dataset(folder, out, image_size=SIZE, progress=False, workers=1)
    rgb, gray = data.load_arrays(out)
    index = pd.read_csv(out / "index.csv", keep_default_na=False)
    kept = sorted(name for name, (status, _) in expected.items() if status == "kept")
    assert index["file"].tolist() == kept and index["id"].tolist() == list(range(len(kept)))
    assert list(index.columns) == ["id", "file", "sha256", "width", "height", "mode", "chroma"]
    assert rgb.shape == (len(kept), SIZE, SIZE, 3) and rgb.dtype == np.uint8
    assert gray.shape == (len(kept), SIZE, SIZE) and gray.dtype == np.uint8
    np.testing.assert_array_equal(gray, color.rgb_to_gray(np.asarray(rgb)))  # the one definition of gray

    row = index.set_index("file")
    assert row.loc["wide.png", ["width", "height"]].tolist() == [192, 128]
    assert row.loc["cmyk.jpg", "mode"] == "CMYK" and row.loc["palette.png", "mode"] == "P"
    assert row.loc["rotated.jpg", ["width", "height"]].tolist() == [128, 128]

    def prepared(name):
        return rgb[row.loc[name, "id"]].astype(float)

    def shrunk(array):  # an independent downscale: 2x2 box average, 128 -> 64
        return array.reshape(SIZE, 2, SIZE, 2, -1).astype(float).mean(axis=(1, 3))

    def difference(a, b):
        return np.abs(a - b).mean()

    # LANCZOS and a box average agree closely on photos; a wrong crop or
    # orientation or colour conversion would be off by tens of levels.
    assert difference(prepared("wide.png"), shrunk(reference["wide.png"])) < 3
    assert difference(prepared("palette.png"), shrunk(reference["palette.png"])) < 3
    assert difference(prepared("cmyk.jpg"), shrunk(reference["cmyk.jpg"])) < 5
    shown, stored = shrunk(reference["rotated.jpg"]), np.rot90(shrunk(reference["rotated.jpg"]))
    assert difference(prepared("rotated.jpg"), shown) < 4
    assert difference(prepared("rotated.jpg"), stored) > 4 * difference(prepared("rotated.jpg"), shown)
    transparent = prepared("transparent.png")
    assert transparent[:, : SIZE // 2 - 3].min() == 255  # away from the LANCZOS edge
    assert transparent[:, SIZE // 2 + 3 :].mean() < 230
    assert (row["chroma"] >= data.BW_CHROMA_THRESHOLD).all()


def test_gray_modes_decode_to_equal_gray_channels(tmp_path, photo_folder):
    folder, _, reference = photo_folder
    out = tmp_path / "out"
    data.prepare_dataset(folder, out, image_size=128, bw_chroma_threshold=-1.0, progress=False, workers=1)
    rgb, _ = data.load_arrays(out, mmap=False)
    row = pd.read_csv(out / "index.csv").set_index("file")
    for name in ("gray L.png", "gray 16 bit.png"):
        image = rgb[row.loc[name, "id"]]
        np.testing.assert_array_equal(image, np.repeat(reference["gray"][..., None], 3, axis=2))
    assert row.loc["gray 16 bit.png", "mode"] == "I;16"


def test_writes_only_out_dir_and_reruns_are_skipped(tmp_path, photo_folder):
    folder, _, _ = photo_folder
    source_before = _tree(folder)
    work = tmp_path / "work"
    work.mkdir()
    out = work / "processed"
    first = data.prepare_dataset(folder, out, image_size=SIZE, progress=False, workers=1)
    assert sorted(path.name for path in work.iterdir()) == ["processed"]  # no temporary sibling left
    assert sorted(path.name for path in out.iterdir()) == sorted(data.PREPARED_FILES)
    assert _tree(folder) == source_before
    written = _tree(out)

    again = data.prepare_dataset(folder, out, image_size=SIZE, progress=False, workers=2)
    pd.testing.assert_frame_equal(again, first)
    assert _tree(out) == written  # nothing rewritten

    other = data.prepare_dataset(folder, out, image_size=96, progress=False, workers=1)
    assert data.load_arrays(out)[0].shape[1:] == (96, 96, 3)  # new parameters: redone in place
    assert json.loads((out / "manifest.json").read_text())["parameters"]["image_size"] == 96
    assert other["status"].tolist() == first["status"].tolist()
    assert sorted(path.name for path in work.iterdir()) == ["processed"]


def test_a_changed_input_is_prepared_again(tmp_path):
    photos = tmp_path / "photos"
    samples.write_sample_photos(photos, count=3, size=SIZE, seed=5)
    out = tmp_path / "out"
    data.prepare_dataset(photos, out, image_size=SIZE, progress=False, workers=1)
    samples.write_sample_photos(tmp_path / "more", count=4, size=SIZE, seed=6)
    shutil.copyfile(tmp_path / "more" / "sample_003.png", photos / "sample_003.png")
    report = data.prepare_dataset(photos, out, image_size=SIZE, progress=False, workers=1)
    assert (report["status"] == "kept").sum() == 4
    assert data.load_arrays(out)[0].shape[0] == 4


def test_max_images_keeps_the_first_in_sorted_order_for_any_worker_count(tmp_path, photo_folder):
    folder, _, _ = photo_folder
    reports = [
        data.prepare_dataset(folder, tmp_path / f"out{n}", image_size=SIZE, max_images=3, progress=False, workers=n)
        for n in (1, 3)
    ]
    pd.testing.assert_frame_equal(reports[0], reports[1])
    report = reports[0]
    assert report.loc[report["status"] == "kept", "file"].tolist() == [
        "2013-11-10 19:30:53.jpg", "UPPER CASE.JPG", "cmyk.jpg"
    ]
    after = report[report["file"] > "cmyk.jpg"]
    image_types = ~after["file"].isin(["no_suffix", "readme.txt"])
    assert (after.loc[image_types, "reason"] == "not examined (max_images=3 reached)").all()
    assert data.load_arrays(tmp_path / "out1")[0].shape[0] == 3


def test_splits_are_seeded_nested_and_sized(tmp_path):
    photos = tmp_path / "photos"
    samples.write_sample_photos(photos, count=10, size=SIZE, seed=2)
    out = tmp_path / "out"
    data.prepare_dataset(photos, out, image_size=SIZE, progress=False, workers=1)
    first = data.make_splits(out)
    contents = {path.name: path.read_bytes() for path in (out / "splits").iterdir()}
    assert sorted(contents) == ["split_70_30.csv", "split_80_20.csv", "split_90_10.csv"]
    data.make_splits(out)
    assert {path.name: path.read_bytes() for path in (out / "splits").iterdir()} == contents

    counts = data.split_counts(out)
    assert counts.to_dict("records") == [
        {"split": "70_30", "train": 7, "val": 3},
        {"split": "80_20", "train": 8, "val": 2},
        {"split": "90_10", "train": 9, "val": 1},
    ]
    train, val = data.load_split(out, "80_20")
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(10))
    assert set(data.load_split(out, "90_10")[1]) <= set(val) <= set(data.load_split(out, "70_30")[1])
    # The documented recipe, computed independently.
    expected_val = np.sort(np.random.default_rng(42).permutation(np.arange(10))[:2])
    np.testing.assert_array_equal(val, expected_val)
    assert list(first["80_20"].columns) == ["id", "file", "subset"]

    other_seed = data.make_splits(out, seed=7)
    assert not other_seed["70_30"]["subset"].equals(first["70_30"]["subset"])


def test_split_sizes_round_half_up(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    index = pd.DataFrame({"id": range(15), "file": [f"{i}.jpg" for i in range(15)]})
    index.to_csv(out / "index.csv", index=False)
    split = data.make_splits(out, splits=((70, 30),))["70_30"]
    assert (split["subset"] == "val").sum() == 5  # 15 * 0.3 = 4.5 -> 5
    with pytest.raises(ValueError, match="add up to 100"):
        data.make_splits(out, splits=((70, 20),))


def test_missing_data_errors_say_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="make data"):
        data.load_arrays(tmp_path)
    with pytest.raises(FileNotFoundError, match="make data"):
        data.load_split(tmp_path, "80_20")
    with pytest.raises(FileNotFoundError, match="make data"):
        data.split_counts(tmp_path)
    with pytest.raises(FileNotFoundError, match="DATA_DIR"):
        data.scan_files(tmp_path / "nowhere")


def test_command_line_uses_the_profiles_data_settings(tmp_path, monkeypatch, capsys):
    """`python -m unetcolor data --profile P` prepares what notebook 01 would under P (its `data`
    section); a DATA_DIR given wins over the profile's sample crops."""
    project = Path(__file__).resolve().parents[1]
    shutil.copytree(project / "notebooks", tmp_path / "notebooks")
    shutil.copytree(project / "profiles", tmp_path / "profiles")
    (tmp_path / "profiles" / "clitest.yaml").write_text(
        "extends: paper\ndata:\n  sample_photos: 10\n  image_size: 64\n")
    monkeypatch.setenv("UNETCOLOR_ROOT", str(tmp_path))
    assert data.main(["--profile", "clitest", "--workers", "1"]) == 0
    processed = tmp_path / "data" / "processed" / "clitest"
    assert data.load_arrays(processed)[0].shape == (10, 64, 64, 3)
    report = pd.read_csv(tmp_path / "reports" / "clitest" / "tables" / "data_report.csv")
    assert (report["status"] == "kept").sum() == 10
    assert data.split_counts(processed)["val"].tolist() == [3, 2, 1]
    assert "kept 10" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["data", "models", "notebooks", "profiles", "reports"]


def test_the_source_record_names_no_absolute_path(tmp_path):
    from unetcolor import paths
    from unetcolor.photos import download

    folder = paths.project_root() / "data" / "raw"
    record = data.describe_source([folder], "data/raw")
    assert record == {"kind": "folder", "folder": "data/raw"}
    assert data.describe_source([tmp_path], "", sample_photos=36) == {"kind": "scikit-image samples", "count": 36}
    extracted = tmp_path / "summer2winter_yosemite"
    (extracted / "trainA").mkdir(parents=True)
    (extracted / download.MARKER).write_text(json.dumps({"url": "file:///x.zip", "archive": "x.zip", "sha256": "00"}))
    assert data.describe_source([extracted / "trainA"], "")["url"] == "file:///x.zip"


def test_the_data_fingerprint_follows_photos_parameters_and_splits(tiny_processed, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_processed, copy)
    assert data.fingerprint(copy) == data.fingerprint(tiny_processed)  # content, not place
    data.make_splits(copy, splits=((80, 20), (70, 30)), seed=2)
    assert data.fingerprint(copy) != data.fingerprint(tiny_processed)


def test_a_recorded_path_is_relative_and_keeps_a_linked_folders_name(tmp_path):
    from unetcolor import paths

    (tmp_path / "real").mkdir()
    (tmp_path / "project").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    assert paths.relative(tmp_path / "project" / ".." / "linked", tmp_path / "project") == "../linked"
    assert paths.relative(paths.project_root() / "data" / "raw") == "data/raw"
