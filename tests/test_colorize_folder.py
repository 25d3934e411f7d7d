"""`colorize` on a big folder, with real processes, signals and files: resuming after a stop,
no temporary file left behind, stale temporary files of a `kill -9` removed (and nothing else),
--overwrite, --shard, the log, and the threaded pipeline giving the sequential path's pixels.
The runs stopped by a signal are processes of their own; the same call made again after a stop runs
in this process (cli.main, what the console script calls)."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unetcolor.commands import cli
from unetcolor.evaluation import predict
from unetcolor.photos import images
from unetcolor.unet.model import build_unet

import tiny

PHOTOS = 48  # enough that a stop lands mid-way with one photo at a time
SHAPE = (360, 480)  # (height, width): a PNG write takes a noticeable moment


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    build_unet(tiny.model(image_size=32, filters=(4, 8, 8))).save(path)
    return path


def write_photos(folder: Path, count: int, shape=SHAPE) -> list[Path]:
    """count photo-like PNGs (smooth gradients and noise), half of them in a subfolder."""
    rng = np.random.default_rng(1)
    height, width = shape
    rows, columns = np.mgrid[0:height, 0:width]
    paths = []
    for i in range(count):
        base = np.stack([128 + 90 * np.sin(columns / width * (2 + c) + rows / height * (1 + i % 4) + c)
                         for c in range(3)], axis=-1)
        photo = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
        path = folder / ("sub" if i % 2 else "") / f"scan_{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo).save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory) -> tuple[Path, list[Path]]:
    """(folder, its photos): PHOTOS photos of SHAPE, only ever read, so the module's tests share them."""
    folder = tmp_path_factory.mktemp("big") / "photos"
    return folder, write_photos(folder, PHOTOS)


def colorize_command(model_path, *arguments) -> list[str]:
    return [sys.executable, "-m", "unetcolor", "colorize", *map(str, arguments), "--model", str(model_path)]


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def temporaries(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if ".colorize-tmp-" in path.name]


def outputs(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*.png"))


def stop_mid_way(model_path, photos: Path, out: Path, signum: int) -> subprocess.CompletedProcess:
    """Start colorize on the folder in a real process, one photo at a time, and send it signum
    once the log holds a few finished photos."""
    process = subprocess.Popen(colorize_command(model_path, photos, "--out", out, "-b", "1", "-j", "1", "-q"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while len(log_lines(out / predict.LOG_NAME)) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "colorize finished before it could be stopped: give it more photos"
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_a_stopped_folder_resumes_where_it_stopped(model_path, big_folder, tmp_path, capsys):
    photos, inputs = big_folder
    out = tmp_path / "out"
    stopped = stop_mid_way(model_path, photos, out, signal.SIGINT)
    assert stopped.returncode == 130, stopped.stderr
    message = stopped.stderr.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("colorize: stopped by SIGINT"), stopped.stderr
    assert temporaries(out) == []
    first = log_lines(out / predict.LOG_NAME)
    done_first = {entry["output"] for entry in first if entry["status"] == "done"}
    assert 3 <= len(done_first) < PHOTOS and len(done_first) == len(first)
    # every output there is whole and is the photo's size; nothing else was written
    assert {str(out / name) for name in outputs(out)} == done_first
    for name in done_first:
        assert images.read_photo(name).rgb.shape == (*SHAPE, 3)

    assert cli.main([str(photos), "--out", str(out), "--model", str(model_path)]) == 0  # the same call, here
    again = capsys.readouterr().out
    rest = PHOTOS - len(done_first)
    assert f"colorized {rest} of {PHOTOS} photos" in again
    assert f"{len(done_first)} already done, skipped" in again
    second = log_lines(out / predict.LOG_NAME)[len(first):]
    assert len(second) == PHOTOS and len({entry["run"] for entry in second}) == 1
    by_status = {status: {entry["output"] for entry in second if entry["status"] == status}
                 for status in ("done", "skipped-existing")}
    assert by_status["skipped-existing"] == done_first  # only the rest was done
    assert len(by_status["done"]) == rest and not by_status["done"] & done_first
    assert {entry["input"] for entry in second} == {str(path) for path in inputs}
    assert all(entry["error"] is None and entry["seconds"] >= 0 for entry in second)
    assert len(outputs(out)) == PHOTOS and temporaries(out) == []


def test_sigterm_stops_cleanly_with_143(model_path, big_folder, tmp_path):
    out = tmp_path / "out"
    stopped = stop_mid_way(model_path, big_folder[0], out, signal.SIGTERM)
    assert stopped.returncode == 143, stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1].startswith("colorize: stopped by SIGTERM")
    assert len(stopped.stderr.strip().splitlines()) == 1
    assert temporaries(out) == []
    done = [entry for entry in log_lines(out / predict.LOG_NAME) if entry["status"] == "done"]
    assert sorted(str(out / name) for name in outputs(out)) == sorted(entry["output"] for entry in done)


def test_stale_temporaries_of_a_killed_run_are_removed_and_nothing_else(model_path, tmp_path, capsys):
    photos = tmp_path / "photos"
    write_photos(photos, 2, shape=(60, 80))
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    stale = [out / ".scan_000.png.colorize-tmp-k2x_9q0a.png", out / "sub" / ".scan_001.png.colorize-tmp-00000000.png"]
    look_alikes = [
        out / ".scan_000.png.k2x_9q0a.png",  # files.write_atomic's own temporaries: another writer's
        out / ".scan_000.png.colorize-tmp-short.png",  # not 8 random characters
        out / ".scan_000.png.colorize-tmp-k2x_9q0a.jpg",  # suffix is not the name's
        out / "scan_000.png.colorize-tmp-k2x_9q0a.png",  # not hidden
        out / ".notes.txt.colorize-tmp-k2x_9q0a.txt.bak",
        out / "holiday.png",
    ]
    busy = out / ".scan_002.png.colorize-tmp-busy0000.png"  # a live writer holds it: another run's
    long_ago = time.time() - 3600
    for path in [*stale, *look_alikes, busy]:
        path.write_bytes(b"half a PNG")
        os.utime(path, (long_ago, long_ago))
    # as files.write_atomic holds its temporary file; flock locks belong to an open file, so colorize,
    # opening the file again, finds this lock held even in this process
    with open(busy, "rb+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        status = cli.main([str(photos), "--out", str(out), "--model", str(model_path)])
    assert status == 0, capsys.readouterr().err
    assert "removed 2 stale temporary files of a killed run" in capsys.readouterr().out
    assert not any(path.exists() for path in stale)
    assert all(path.read_bytes() == b"half a PNG" for path in [*look_alikes, busy])
    assert predict.is_temporary(busy.name) and not any(predict.is_temporary(path.name) for path in look_alikes)


def test_a_run_killed_with_sigkill_leaves_nothing_that_a_rerun_does_not_clean(model_path, big_folder, tmp_path,
                                                                                 capsys):
    photos = big_folder[0]
    out = tmp_path / "out"
    killed = stop_mid_way(model_path, photos, out, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    left = temporaries(out)  # a temporary file if the kill landed in a write, else none
    long_ago = time.time() - 3600
    for path in left:  # as old as a rerun minutes later would find it
        os.utime(path, (long_ago, long_ago))
    assert cli.main([str(photos), "--out", str(out), "--model", str(model_path)]) == 0  # the rerun, here
    again = capsys.readouterr().out
    assert temporaries(out) == []
    if left:
        assert f"removed {len(left)} stale temporary file" in again
    assert len(outputs(out)) == PHOTOS
    for name in outputs(out):  # every output whole: Pillow decodes it to the last row
        assert images.read_photo(out / name).rgb.shape == (*SHAPE, 3)


def test_shards_together_are_all_the_inputs_and_never_overlap(model_path, tmp_path):
    inputs = write_photos(tmp_path / "photos", 12, shape=(40, 50))
    out = tmp_path / "out"
    count = 3
    processes = [subprocess.Popen(colorize_command(model_path, tmp_path / "photos", "--out", out,
                                                   "--shard", f"{k}/{count}"),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for k in range(1, count + 1)]  # at the same time, into one folder
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "of 12 photos in all" in stdout
    done = []
    for k in range(1, count + 1):
        entries = log_lines(out / f"colorize-log-shard-{k}-of-{count}.jsonl")
        assert all(entry["status"] == "done" for entry in entries)
        done.append({entry["input"] for entry in entries})
    assert set().union(*done) == {str(path) for path in inputs}
    assert sum(map(len, done)) == len(inputs)  # no input in two shards
    assert len(outputs(out)) == len(inputs)
    # each shard is what predict.Shard assigns, decided by the path below the folder alone
    for k, mine in enumerate(done, start=1):
        shard = predict.Shard(k, count)
        assert mine == {str(path) for path in inputs if shard.takes(path.relative_to(tmp_path / "photos"))}


@pytest.mark.parametrize("text", ["0/2", "3/2", "x", "1/0", "1/2/3", "-1/2", ""])
def test_bad_shards_are_usage_errors(text, model_path, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main([str(tmp_path), "--out", str(tmp_path / "out"), "--model", str(model_path), "--shard", text])
    assert stop.value.code == 2
    assert "--shard" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_overwrite_redoes_what_is_there_and_a_foreign_file_is_left_alone(model_path, tmp_path, capsys):
    write_photos(tmp_path / "photos", 4, shape=(40, 50))
    out = tmp_path / "out"
    arguments = [str(tmp_path / "photos"), "--out", str(out), "--model", str(model_path)]
    assert cli.main(arguments) == 0
    written = {name: (out / name).stat().st_mtime_ns for name in outputs(out)}
    capsys.readouterr()

    assert cli.main(arguments) == 0
    assert "colorized 0 of 4 photos" in capsys.readouterr().out
    assert {name: (out / name).stat().st_mtime_ns for name in outputs(out)} == written

    # a truncated file under an output's name is not complete: redone; an image of another size is
    # some other photo's: left alone, and a failure that names --overwrite
    truncated, foreign = out / "scan_000.png", out / "sub" / "scan_001.png"
    truncated.write_bytes(truncated.read_bytes()[:-20])
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(foreign)
    assert cli.main(arguments) == 1
    captured = capsys.readouterr()
    assert "colorized 1 of 4 photos" in captured.out and "2 already done" in captured.out
    assert f"{foreign} exists and is a 10x10 image" in captured.err and "--overwrite" in captured.err
    assert Image.open(foreign).size == (10, 10) and Image.open(truncated).size == (50, 40)

    assert cli.main([*arguments, "--overwrite"]) == 0
    assert "colorized 4 of 4 photos" in capsys.readouterr().out
    assert Image.open(foreign).size == (50, 40)
    last_run = log_lines(out / predict.LOG_NAME)[-4:]
    assert [entry["status"] for entry in last_run] == ["done"] * 4


def test_the_pipeline_gives_the_sequential_paths_pixels(model_path, tmp_path):
    """Threads reading ahead and writing behind change nothing: each output equals
    colorize_photos on the same photos in the same batches, read and run one after another."""
    paths = write_photos(tmp_path / "photos", 7, shape=(90, 130))
    model = predict.load_model(model_path)
    run = predict.colorize_paths(model, [tmp_path / "photos"], tmp_path / "out", progress=False,
                                 batch_size=3, workers=3)
    assert [result.status for result in run.results] == ["done"] * 7
    by_input = {result.path: result.output for result in run.results}
    order = sorted(paths)  # a folder is read in sorted order: the batches are these, three at a time
    photos = [images.read_photo(path).rgb for path in order]
    expected = list(predict.colorize_photos(model, photos, batch_size=3))
    for path, reference in zip(order, expected):
        np.testing.assert_array_equal(images.read_photo(by_input[path]).rgb, reference)
    assert 0 < run.model_seconds < run.wall_seconds


def test_the_bench_times_folders_of_photos_through_the_pipeline(model_path):
    """bench's colorize folders: every photo done each repeat, photos/s = photos / wall seconds,
    the model's share of the wall time a fraction; the photos are what gradient_photos makes."""
    from unetcolor.commands import bench

    model = predict.load_model(model_path)
    result = bench.bench_colorize_folders(model, folders={"small": ((30, 40), 3), "large": ((60, 90), 2)},
                                          repeats=2, batch_size=2, workers=2)
    assert (result["batch_size"], result["workers"], result["repeats"]) == (2, 2, 2)
    for name, count, shape in (("small", 3, [30, 40]), ("large", 2, [60, 90])):
        figure = result[name]
        assert figure["photos"] == count and figure["photo_shape"] == shape
        assert figure["rates"] == [count / wall for wall in figure["wall_seconds"]]
        assert figure["photos_per_s"] == float(np.median(figure["rates"]))
        assert all(0 < share < 1 for share in figure["model_shares"])


def test_gradient_photos_are_jpegs_of_the_shape_asked(tmp_path):
    from unetcolor.commands import bench

    paths = bench.gradient_photos(tmp_path, 2, (30, 40))
    for path in paths:
        photo = images.read_photo(path).rgb
        assert Image.open(path).format == "JPEG" and photo.shape == (30, 40, 3)
        assert photo.std() > 20  # a gradient across the photo, not a flat field
    assert not np.array_equal(images.read_photo(paths[0]).rgb, images.read_photo(paths[1]).rgb)


def test_a_temporary_file_is_removed_only_once_its_writer_is_gone(tmp_path):
    """files.write_atomic holds its temporary file locked while writing: remove_abandoned keeps
    it then, even when old; keeps an unlocked file changed in the last seconds; removes an old,
    unlocked one."""
    from unetcolor import files

    seen = []

    def write(temporary):
        temporary.write_bytes(b"half")
        os.utime(temporary, (0, 0))
        seen.append((temporary.name, files.remove_abandoned(temporary), temporary.exists()))

    files.write_atomic(tmp_path / "photo.png", write, marker=predict.TEMPORARY_MARKER)
    ((name, removed, exists),) = seen
    assert predict.is_temporary(name) and not removed and exists
    assert (tmp_path / "photo.png").read_bytes() == b"half" and not (tmp_path / name).exists()
    fresh, old = tmp_path / ".a.png.colorize-tmp-12345678.png", tmp_path / ".b.png.colorize-tmp-12345678.png"
    fresh.write_bytes(b"x")
    old.write_bytes(b"x")
    os.utime(old, (0, 0))
    assert not files.remove_abandoned(fresh) and fresh.exists()
    assert files.remove_abandoned(old) and not old.exists()
