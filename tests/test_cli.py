"""The `colorize` command, in-process and as the installed console script."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unetcolor import color
from unetcolor.commands import cli
from unetcolor.evaluation import predict
from unetcolor.photos import images
from unetcolor.unet.model import build_unet

import tiny


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.keras"
    build_unet(tiny.model(image_size=64, filters=(8, 16, 16))).save(path)
    return path


@pytest.fixture
def photos(tmp_path):
    """Two good photos (one gray, one with alpha) and one broken file."""
    from skimage import data

    folder = tmp_path / "photos"
    folder.mkdir()
    photo = data.coffee()[::6, ::6]  # (67, 100, 3)
    Image.fromarray(color.rgb_to_gray(photo)).save(folder / "gray.jpg")
    Image.fromarray(np.dstack([photo, np.full(photo.shape[:2], 128, np.uint8)])).save(folder / "alpha.png")
    (folder / "broken.png").write_bytes(b"\x89PNG truncated")
    return folder


@pytest.fixture(autouse=True)
def no_default_model(monkeypatch):
    monkeypatch.delenv(predict.MODEL_ENV, raising=False)


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--model", "--vivid", "--gan", "--format", "--batch-size", "--overwrite", "--shard",
                   "--workers", "--quiet", "examples:", "colorize-log.jsonl"):
        assert option in text


def test_without_a_model_says_how_to_make_one(monkeypatch, photos, tmp_path, capsys):
    monkeypatch.setattr(predict, "default_model_path", lambda: None)
    assert cli.main([str(photos), "--out", str(tmp_path / "out")]) == 2
    message = capsys.readouterr().err
    assert "no trained model" in message and "make train" in message and "--model" in message
    assert not (tmp_path / "out").exists()


def test_missing_model_file_is_named(monkeypatch, photos, tmp_path, capsys):
    assert cli.main([str(photos), "--out", str(tmp_path / "out"), "--model", str(tmp_path / "gone.keras")]) == 2
    assert "gone.keras" in capsys.readouterr().err
    monkeypatch.setenv(predict.MODEL_ENV, str(tmp_path / "env.keras"))
    assert cli.main([str(photos), "--out", str(tmp_path / "out")]) == 2
    assert "env.keras" in (err := capsys.readouterr().err) and predict.MODEL_ENV in err


def test_vivid_and_gan_use_their_packaged_models(monkeypatch, model_path, photos, tmp_path, capsys):
    asked = []
    monkeypatch.setattr(predict, "packaged_model_path", lambda name: asked.append(name) or model_path)
    assert cli.main([str(photos / "gray.jpg"), "--out", str(tmp_path / "out"), "--vivid", "--quiet"]) == 0
    assert asked == ["vivid"] and (tmp_path / "out" / "gray.png").is_file()
    assert cli.main([str(photos / "gray.jpg"), "--out", str(tmp_path / "gan"), "--gan", "--quiet"]) == 0
    assert asked == ["vivid", "gan"] and (tmp_path / "gan" / "gray.png").is_file()
    with pytest.raises(SystemExit):  # the packaged models exclude each other
        cli.main([str(photos), "--out", str(tmp_path / "o3"), "--vivid", "--gan"])
    with pytest.raises(SystemExit):  # --vivid and --model exclude each other
        cli.main([str(photos), "--out", str(tmp_path / "o2"), "--vivid", "--model", str(model_path)])
    assert "not allowed with" in capsys.readouterr().err


def test_run_reports_failures_and_exit_code(model_path, photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main([str(photos), "--out", str(out), "--model", str(model_path), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{photos / 'broken.png'}: not an image")
    assert captured.out == ""  # --quiet: no summary
    assert sorted(p.name for p in out.iterdir()) == ["alpha.png", "colorize-log.jsonl", "gray.png"]
    logged = [json.loads(line) for line in (out / "colorize-log.jsonl").read_text().splitlines()]
    assert sorted((Path(entry["input"]).name, entry["status"]) for entry in logged) == [
        ("alpha.png", "done"), ("broken.png", "failed"), ("gray.jpg", "done")]
    written = images.read_photo(out / "alpha.png")
    assert written.rgb.shape == (67, 100, 3) and (written.alpha == 128).all()

    (photos / "broken.png").unlink()
    code = cli.main([str(photos), "--out", str(out), "--model", str(model_path), "--format", "jpg"])
    assert code == 0
    assert "colorized 2 of 2 photos" in capsys.readouterr().out  # the .png outputs are not the .jpg ones
    code = cli.main([str(photos), "--out", str(out), "--model", str(model_path), "--format", "jpg"])
    assert code == 0  # every photo already done is a success
    assert "colorized 0 of 2 photos" in capsys.readouterr().out
    assert Image.open(out / "gray.jpg").format == "JPEG"


def test_folder_takes_every_image_pillow_reads_and_lists_other_files_as_skipped(model_path, tmp_path, capsys):
    from skimage import data

    folder = tmp_path / "mixed"
    folder.mkdir()
    photo = data.coffee()[::6, ::6]  # (67, 100, 3)
    Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "anim.gif")
    Image.fromarray(photo).save(folder / "still.png")
    (folder / "notes.txt").write_text("not a photo")
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")  # hidden: ignored silently
    assert Image.open(folder / "anim.gif").format == "GIF"
    out = tmp_path / "out"
    code = cli.main([str(folder), "--out", str(out), "--model", str(model_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == ["anim.png", "colorize-log.jsonl", "still.png"]
    assert images.read_photo(out / "anim.png").rgb.shape == (67, 100, 3)
    reported = [line for line in captured.err.splitlines() if line.startswith(str(folder))]  # not the bar
    assert reported == [f"{folder / 'notes.txt'}: skipped, not an image (.txt)"]
    assert "colorized 2 of 2 photos" in captured.out and "1 other file skipped" in captured.out
    assert ".DS_Store" not in captured.err + captured.out

    # --quiet: nothing printed, still a success
    code = cli.main([str(folder), "--out", str(tmp_path / "quiet"), "--model", str(model_path), "--quiet"])
    assert code == 0 and capsys.readouterr() == ("", "")

    # a folder with no image at all is still an error, its other files still listed
    (folder / "anim.gif").unlink()
    (folder / "still.png").unlink()
    code = cli.main([str(folder), "--out", str(tmp_path / "none"), "--model", str(model_path)])
    err = capsys.readouterr().err
    assert code == 1 and f"{folder}: folder holds no images" in err and "notes.txt: skipped" in err


def test_installed_console_script(model_path, photos, tmp_path):
    script = Path(sys.executable).parent / "colorize"
    if not script.is_file():
        pytest.skip("the colorize console script is not installed (pip install -e .)")
    env = {**os.environ, "UNETCOLOR_MODEL": str(model_path)}
    completed = subprocess.run([str(script), str(photos / "gray.jpg"), "--out", str(tmp_path / "out")],
                               capture_output=True, text=True, env=env, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "colorized 1 of 1 photos" in completed.stdout
    assert Image.open(tmp_path / "out" / "gray.png").size == (100, 67)


def test_one_command_line_lists_every_command_and_each_names_a_module_with_main():
    """Both command lines at once, on Keras' JAX backend, which imports in half TensorFlow's time:
    listing the commands computes nothing."""
    import importlib

    from unetcolor import __main__ as commands

    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    listing, wrong = [subprocess.Popen([sys.executable, "-m", "unetcolor", *arguments], env=environment, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                      for arguments in ([], ["colourise"])]
    out, err = listing.communicate(timeout=300)
    assert listing.returncode == 0, err
    for name, (module, _) in commands.COMMANDS.items():
        assert f"  {name}" in out
        assert callable(importlib.import_module(module).main), module
    _, err = wrong.communicate(timeout=300)
    assert wrong.returncode == 2 and "unknown command 'colourise'" in err and "colorize" in err


def test_an_output_folder_that_cannot_be_made_is_named_without_a_traceback(model_path, photos, tmp_path, capsys):
    (tmp_path / "a_file").write_text("in the way")
    out = tmp_path / "a_file" / "out"
    assert cli.main([str(photos / "gray.jpg"), "--out", str(out), "--model", str(model_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"colorize: {out}: cannot write into the output folder") and "--out" in err


@pytest.fixture
def gray_photo(tmp_path):
    """A 200 x 150 gray photo of scikit-image's coffee, as a scanned print would come."""
    from skimage import data

    path = tmp_path / "scan.png"
    Image.fromarray(color.rgb_to_gray(np.asarray(Image.fromarray(data.coffee()).resize((200, 150))))).save(path)
    return path


def test_a_hint_moves_the_colours_near_it_towards_its_colour(gray_photo, tmp_path, capsys):
    """`colorize photo --hint 10,20=#3366cc` with the packaged hints colorizer, against the same
    photo colorized without hints (the packaged default): near (10, 20) the a*, b* move towards
    the hint's, and the photo keeps its lightness."""
    assert cli.main([str(gray_photo), "--hint", "10,20=#3366cc", "--out", str(tmp_path / "hinted"), "-q"]) == 0
    assert cli.main([str(gray_photo), "--out", str(tmp_path / "plain"), "-q"]) == 0
    hinted, plain = (np.asarray(Image.open(tmp_path / name / "scan.png").convert("RGB"))
                     for name in ("hinted", "plain"))
    blue = color.rgb_to_lab(np.array([[[0x33, 0x66, 0xcc]]], dtype=np.uint8))[0, 0, 1:]

    def distance(rgb):  # mean a*, b* distance to the hint's colour around the click
        return np.linalg.norm(color.rgb_to_lab(rgb[15:26, 5:16])[..., 1:] - blue, axis=-1).mean()

    assert distance(hinted) < distance(plain)
    gray = np.asarray(Image.open(gray_photo))
    unclipped = ((hinted > 0) & (hinted < 255)).all(axis=-1)
    assert np.abs(color.rgb_to_gray(hinted).astype(int) - gray)[unclipped].max() <= 1
    # the same hint from a file gives the same photo
    (tmp_path / "hints.json").write_text(json.dumps([{"x": 10, "y": 20, "color": "#3366cc"}]))
    assert cli.main([str(gray_photo), "--hints", str(tmp_path / "hints.json"), "--out", str(tmp_path / "file"),
                     "-q"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "file" / "scan.png").convert("RGB")), hinted)


def test_bad_hints_are_refused_by_name_and_nothing_is_written(gray_photo, model_path, tmp_path, capsys):
    (tmp_path / "broken.json").write_text("[{")
    (tmp_path / "wrong.json").write_text('[{"x": 1, "y": 2}]')
    cases = {
        ("--hint", "200,20=#3366cc"): "hint 200,20=#3366cc lies outside",
        ("--hint", "10,20=#33669"): "hint 10,20=#33669: the colour must be #RRGGBB",
        ("--hint", "10;20=#3366cc"): "expected X,Y=#RRGGBB",
        ("--hints", str(tmp_path / "broken.json")): "broken.json: not JSON",
        ("--hints", str(tmp_path / "wrong.json")): "wrong.json: hint 1 is",
        ("--hints", str(tmp_path / "missing.json")): "missing.json: no such hints file",
        ("--hint", "1,1=#3366cc", "--", str(gray_photo)): "hints are given for one photo",
        ("--hint", "1,1=#3366cc", "--", str(gray_photo.parent)): "hints are given for one photo",
        ("--hint", "1,1=#3366cc", "--model", str(model_path)): "cannot take colour hints",
        ("--hint", "1,1=#3366cc", "--vivid"): "cannot take colour hints",
    }
    for arguments, message in cases.items():
        out = tmp_path / "out"
        options, _, more = " ".join(arguments).partition(" -- ")
        assert cli.main(["--out", str(out), *options.split(), str(gray_photo), *more.split()]) == 2, arguments
        assert message in capsys.readouterr().err, arguments
        assert not out.exists(), arguments
