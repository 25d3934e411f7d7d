"""Colorizing photos of any size: checked against Pillow's own YCbCr, the
input's luma, and the files' sizes, modes and alpha, with a tiny real U-Net."""

import os

import numpy as np
import pytest
from PIL import Image

from unetcolor import color
from unetcolor import shipped as shipped_models
from unetcolor.evaluation import predict
from unetcolor.photos import images
from unetcolor.unet.model import build_unet

import tiny

TINY = dict(image_size=64, filters=(8, 16, 16))
TINT = (0.25, -0.05, -0.25)  # final-layer bias: an orange cast, so outputs are truly coloured


def save_tiny_model(path, output="rgb", bias=TINT, zero_kernel=False):
    """A tiny untrained U-Net, saved as .keras; returns the path. Seeded, so its weights do
    not depend on which tests ran before (they draw from the same global generators)."""
    import keras

    keras.utils.set_random_seed(0)
    model = build_unet(tiny.model(**TINY, output=output))
    layer = model.get_layer("color")
    kernel, _ = layer.get_weights()
    channels = kernel.shape[-1]
    # a damped random kernel: colour varies with content, but the cast stays inside the gamut
    layer.set_weights([np.zeros_like(kernel) if zero_kernel else 0.25 * kernel,
                       np.asarray(bias[:channels], dtype=np.float32)])
    model.save(path)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return predict.load_model(save_tiny_model(tmp_path_factory.mktemp("model") / "m.keras"))


def smooth_photo(height, width, seed=0):
    """Photo-like content at any size: a real photo crop, bicubically resized."""
    from skimage import data

    crop = data.astronaut()[60 + seed * 20:188 + seed * 20, 140:268]
    return np.asarray(Image.fromarray(crop).resize((width, height), Image.Resampling.BICUBIC))


def assert_luma_kept(output_rgb, gray, tolerance=1):
    """The BT.601 luma of the output equals the input's gray wherever no channel was clipped."""
    unclipped = np.all((output_rgb > 0) & (output_rgb < 255), axis=-1)
    assert unclipped.mean() > 0.5, "too much clipping for a meaningful check"
    difference = color.rgb_to_gray(output_rgb).astype(int) - gray.astype(int)
    assert np.abs(difference[unclipped]).max() <= tolerance


# ------------------------------------------------------------- loading a model


def test_load_model_missing_and_invalid_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.keras.*make train"):
        predict.load_model(tmp_path / "nothere.keras")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="broken.keras"):
        predict.load_model(broken)


def test_load_model_safe_mode_refuses_code(tmp_path):
    import keras

    inputs = keras.Input((8, 8, 1))
    unsafe = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    unsafe.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="lambda.keras"):
        predict.load_model(tmp_path / "lambda.keras")


def test_default_model_path(monkeypatch, tmp_path):
    monkeypatch.setenv(predict.MODEL_ENV, str(tmp_path / "chosen.keras"))
    assert predict.default_model_path() == tmp_path / "chosen.keras"  # returned even if missing
    monkeypatch.delenv(predict.MODEL_ENV)
    shipped = predict.packaged_model_path("default")
    assert shipped.is_file(), (
        f"{shipped} is missing: the default model is part of the package "
        "(package-data weights/*.keras; `make default-model` rebuilds it)")
    found = predict.default_model_path()
    assert found == shipped and found.name == "default.keras" and found.is_file()
    # without a packaged model (and no $UNETCOLOR_MODEL) there is no default
    monkeypatch.setattr(shipped_models, "WEIGHTS_DIR", tmp_path)
    assert predict.default_model_path() is None


# ------------------------------------------------------------- the model's square


def test_predict_batch_rgb_model_maps_tanh_to_uint8(tmp_path):
    # zero kernel: every output is tanh(bias), a known colour
    bias = (0.0, 0.5, -1.0)
    model = predict.load_model(save_tiny_model(tmp_path / "m.keras", bias=bias, zero_kernel=True))
    gray = np.random.default_rng(0).integers(0, 256, (5, 64, 64), dtype=np.uint8)
    rgb = predict.predict_batch(model, gray, batch_size=2)
    assert rgb.shape == (5, 64, 64, 3) and rgb.dtype == np.uint8
    expected = np.rint((np.tanh(bias) + 1) * 127.5)  # [128, 186.6.., 30.4..] -> 128, 187, 30
    assert (rgb == expected).all()


def test_predict_batch_lab_model_joins_lightness_of_the_gray(tmp_path):
    # zero a*, b*: the result must be the gray itself, via L*a*b* -> sRGB
    model = predict.load_model(save_tiny_model(tmp_path / "ab.keras", output="ab", bias=(0, 0), zero_kernel=True))
    gray = np.arange(256, dtype=np.uint8).reshape(4, 64)[None].repeat(16, axis=1).reshape(1, 64, 64)
    rgb = predict.predict_batch(model, gray)
    assert np.abs(rgb.astype(int) - color.gray_baseline(gray).astype(int)).max() <= 1


def test_predict_batch_rejects_wrong_size(model):
    with pytest.raises(ValueError, match="colorize_photo"):
        predict.predict_batch(model, np.zeros((1, 32, 32), np.uint8))


# ------------------------------------------------------- photos of any size


def test_transfer_chroma_keeps_luma_and_takes_colour_from_pillow_ycbcr():
    rng = np.random.default_rng(2)
    gray = rng.integers(80, 151, (90, 130), dtype=np.uint8)  # a range where nothing clips
    small = np.zeros((16, 16, 3), np.uint8)
    small[...] = (200, 60, 30)
    out = predict.transfer_chroma(gray, small)
    assert out.shape == (90, 130, 3)
    assert_luma_kept(out, gray)
    # Pillow's full-range JPEG YCbCr of the output: Cb, Cr of the small image's colour
    _, cb, cr = (np.asarray(plane, dtype=int) for plane in Image.fromarray(out).convert("YCbCr").split())
    _, cb_expected, cr_expected = Image.fromarray(small).convert("YCbCr").getpixel((0, 0))
    assert np.abs(cb - cb_expected).max() <= 2 and np.abs(cr - cr_expected).max() <= 2


def test_transfer_chroma_of_a_smooth_photo_rebuilds_it():
    """A photo whose colours are already smooth, colorized with its own small
    version, comes back nearly unchanged (resizing and chroma commute)."""
    small = smooth_photo(24, 32)
    planes = [Image.fromarray(small[..., c].astype(np.float32), mode="F") for c in range(3)]
    big = np.stack([np.asarray(plane.resize((320, 240), Image.Resampling.BICUBIC)) for plane in planes], axis=-1)
    big = np.clip(np.rint(big), 0, 255).astype(np.uint8)
    out = predict.transfer_chroma(color.rgb_to_gray(big), small)
    interior = (slice(8, -8), slice(8, -8))  # edges: bicubic overshoot is clipped differently
    assert np.abs(out[interior].astype(int) - big[interior].astype(int)).max() <= 3


def test_colorize_photo_native_size_large_and_gray_inputs(model):
    photo = smooth_photo(2000, 3000)
    out = predict.colorize_photo(model, photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert_luma_kept(out, color.rgb_to_gray(photo))
    gray = color.rgb_to_gray(photo[:333, :77])
    np.testing.assert_array_equal(predict.colorize_photo(model, gray), predict.colorize_photo(model, photo[:333, :77]))
    with pytest.raises(ValueError, match="read_photo"):
        predict.colorize_photo(model, np.zeros((10, 10, 4), np.uint8))


# -------------------------------------------------------------------- files


def write_mixed_folder(folder):
    """Every kind of input colorize must handle; returns {name: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = smooth_photo(90, 120)
    files = {}

    def add(name, image, **options):
        files[name] = folder / name
        files[name].parent.mkdir(parents=True, exist_ok=True)
        image.save(files[name], **options)

    add("gray.jpg", Image.fromarray(color.rgb_to_gray(photo)))
    add("colour.jpg", Image.fromarray(photo))
    rgba = np.dstack([photo, np.linspace(0, 255, 120, dtype=np.uint8)[None].repeat(90, 0)])
    add("rgba.png", Image.fromarray(rgba, mode="RGBA"))
    add("deep.png", Image.fromarray(color.rgb_to_gray(photo).astype(np.uint16) * 257))  # 16-bit gray
    add("cmyk.jpg", Image.fromarray(photo).convert("CMYK"))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    add("rotated.jpg", Image.fromarray(photo), exif=exif)
    add("large.jpg", Image.fromarray(smooth_photo(2000, 3000, seed=1)), quality=90)
    add("sub/colour.jpg", Image.fromarray(photo[::-1]))
    files["broken.jpg"] = folder / "broken.jpg"
    files["broken.jpg"].write_bytes(b"this is not a JPEG")
    files["notes.txt"] = folder / "notes.txt"
    files["notes.txt"].write_text("not a photo")
    return files


@pytest.fixture(scope="module")
def mixed_run(model, tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    files = write_mixed_folder(root / "photos")
    out = root / "out"
    out.mkdir()
    # an input already inside the output folder, with the name an output would get
    inside = out / "colour.png"
    Image.fromarray(smooth_photo(40, 50)).save(inside)
    files["inside"] = inside
    before = inside.read_bytes()
    results = predict.colorize_paths(model, [root / "photos", inside], out, progress=False, batch_size=3).results
    return files, out, results, before


def test_colorize_paths_reports_the_broken_file_and_does_the_rest(mixed_run):
    files, out, results, _ = mixed_run
    by_input = {result.path: result for result in results}
    # 9 photos in the folder + notes.txt (listed as skipped, not read) + the photo inside out/
    assert len(results) == 11
    broken = by_input[files["broken.jpg"]]
    assert not broken.ok and "broken.jpg" not in broken.error and broken.error and not broken.skipped
    notes = by_input[files["notes.txt"]]
    assert notes.skipped and not notes.ok and notes.output is None and notes.error == "not an image (.txt)"
    assert all(result.ok and not result.skipped for result in results if result not in (broken, notes))


def test_colorize_paths_names_outputs_and_never_overwrites_an_input(mixed_run):
    files, out, results, before = mixed_run
    output = {result.path: result.output for result in results}
    assert output[files["gray.jpg"]] == out / "gray.png"
    assert output[files["sub/colour.jpg"]] == out / "sub" / "colour.png"  # a folder's subfolders are kept
    # out/colour.png is an input: neither output may take its name
    assert output[files["colour.jpg"]] == out / "colour-2.png"
    assert output[files["inside"]] == out / "colour-3.png"
    assert files["inside"].read_bytes() == before


def test_colorize_paths_outputs_keep_size_luma_and_alpha(mixed_run):
    files, out, results, _ = mixed_run
    for result in results:
        if not result.ok:
            continue
        source = images.read_photo(result.path)
        written = images.read_photo(result.output)
        assert written.rgb.shape == source.rgb.shape, result.path
        assert_luma_kept(written.rgb, color.rgb_to_gray(source.rgb))
        assert color.chroma(written.rgb[::8, ::8]) > 5, "the tiny model's orange cast should show"
    rotated = images.read_photo(out / "rotated.png")
    assert rotated.rgb.shape == (120, 90, 3)  # stored 120 wide, 90 high; displayed turned
    rgba = images.read_photo(out / "rgba.png")
    np.testing.assert_array_equal(rgba.alpha, images.read_photo(files["rgba.png"]).alpha)
    assert images.read_photo(out / "large.png").rgb.shape == (2000, 3000, 3)


def test_colorize_paths_again_finds_every_output_complete_by_its_headers(model, mixed_run):
    """A second run redoes nothing: each output is a whole image of its input's displayed size,
    the EXIF-turned photo's included (its output is 90 wide, the stored input 120)."""
    files, out, results, _ = mixed_run
    before = {result.output: result.output.stat().st_mtime_ns for result in results if result.ok}
    again = predict.colorize_paths(model, [files["gray.jpg"].parent, files["inside"]], out, progress=False).results
    statuses = {result.path: result.status for result in again}
    assert statuses.pop(files["broken.jpg"]) == predict.FAILED
    assert statuses.pop(files["notes.txt"]) == predict.NOT_AN_IMAGE
    assert set(statuses.values()) == {predict.EXISTING} and len(statuses) == len(before)
    assert {output: output.stat().st_mtime_ns for output in before} == before
    assert images.displayed_size(files["rotated.jpg"]) == (90, 120) == images.whole_image_size(out / "rotated.png")
    assert Image.open(files["rotated.jpg"]).size == (120, 90)


def test_whole_image_size_tells_a_truncated_file(tmp_path):
    for suffix in (".png", ".jpg"):
        path = tmp_path / f"p{suffix}"
        Image.fromarray(smooth_photo(30, 40)).save(path)
        assert images.whole_image_size(path) == (40, 30)
        path.write_bytes(path.read_bytes()[:-10])
        assert images.whole_image_size(path) is None  # the header still opens
        assert Image.open(path).size == (40, 30)
    (tmp_path / "empty.png").write_bytes(b"")
    assert (images.whole_image_size(tmp_path / "empty.png") is None
            and images.displayed_size(tmp_path / "empty.png") is None)


def test_colorize_paths_keeps_jpeg_suffix_and_disambiguates_same_stems(model, tmp_path):
    photo = Image.fromarray(smooth_photo(40, 60))
    for name in ("a/x.jpg", "b/x.jpg", "y.PNG"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        photo.save(tmp_path / name)
    inputs = [tmp_path / "a/x.jpg", tmp_path / "b/x.jpg", str(tmp_path / "*.PNG"), tmp_path / "missing.jpg"]
    results = predict.colorize_paths(model, inputs, tmp_path / "out", suffix=None, progress=False).results
    assert [r.output.name if r.output else None for r in results] == ["x.jpg", "x-2.jpg", "y.PNG", None]
    assert [r.ok for r in results] == [True, True, True, False]
    assert results[-1].error == "no such file or folder"
    assert Image.open(results[0].output).format == "JPEG"


def test_colorize_file_refuses_to_write_over_its_input(model, tmp_path):
    source = tmp_path / "p.png"
    Image.fromarray(smooth_photo(30, 30)).save(source)
    with pytest.raises(ValueError, match="p.png"):
        predict.colorize_file(model, source, tmp_path / "." / "p.png")
    os.link(source, tmp_path / "link.png")
    with pytest.raises(ValueError, match="link.png"):
        predict.colorize_file(model, source, tmp_path / "link.png")
    out = predict.colorize_file(model, source, tmp_path / "out" / "p.jpg")
    assert Image.open(out).size == (30, 30)


def test_expand_inputs_folders_patterns_and_missing(tmp_path):
    for name in ("top.JPG", "deep/er/a.png", "deep/b.webp", "deep/c.gif", ".hidden.png", "readme.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = images.expand_inputs([tmp_path, str(tmp_path / "*.JPG"), tmp_path / "nope.png"])
    relative = [str(p.relative_to(tmp_path)) for p in found]
    # sorted within the folder, any suffix Pillow reads, the pattern's match not repeated, the missing
    # one returned as given; readme.txt is not an image and .hidden.png is hidden
    assert relative == ["deep/b.webp", "deep/c.gif", "deep/er/a.png", "top.JPG", "nope.png"]


def test_readable_suffixes_are_what_pillow_opens():
    suffixes = images.readable_suffixes()
    assert set(images.IMAGE_SUFFIXES) | {".gif", ".ico", ".tga"} <= suffixes
    assert not {".txt", ".pdf", ".h5", ".mpg"} & suffixes  # not images, save-only, a stub, identify-only
    for suffix in suffixes:
        assert Image.registered_extensions()[suffix] in Image.OPEN


def test_output_folder_given_as_input_is_reported_not_read(model, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    Image.fromarray(smooth_photo(20, 20)).save(out / "old.png")
    (result,) = predict.colorize_paths(model, [out], out, progress=False).results
    assert not result.ok and "output folder" in result.error
    assert sorted(p.name for p in out.iterdir()) == ["colorize-log.jsonl", "old.png"]


def test_the_last_short_batch_runs_eagerly_and_the_compiled_step_sees_one_batch_shape():
    """5 photos in batches of 4: the compiled predict step sees only batches of 4 (one trace), the
    fifth photo runs eagerly, and every photo's output is what the model gives it alone."""
    model = build_unet(tiny.model())
    gray = np.random.default_rng(3).integers(0, 256, (5, 32, 32), dtype=np.uint8)
    shapes = []
    original = model.predict_on_batch
    model.predict_on_batch = lambda x: (shapes.append(np.shape(x)), original(x))[1]
    together = predict.predict_batch(model, gray, batch_size=4)
    assert {shape[0] for shape in shapes} == {4}
    alone = np.concatenate([color.output_to_rgb(original(color.gray_to_input(gray[i:i + 1]))) for i in range(5)])
    assert np.abs(together.astype(int) - alone.astype(int)).max() <= 1  # float order may move one 8-bit step
