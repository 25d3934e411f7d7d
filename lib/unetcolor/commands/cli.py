"""The `colorize` command over predict.load_model and predict.colorize_paths. SIGINT and SIGTERM
stop it cleanly (no partial file), with one line and exit status 130 or 143."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

from .. import shipped
from ..colorizers import hints as colour_hints
from ..evaluation import predict
from ..photos import images

EXAMPLES = """\
examples:
  colorize old_photo.jpg --out colorized/
  colorize scans/ --out colorized/                  every image below scans/, subfolders kept
  colorize "album/*.png" --format keep --out out/   quote patterns so colorize expands them
  colorize photo.jpg --out out/ --vivid             a packaged model (--vivid bolder, --gan adversarial)
  colorize photo.jpg --out out/ --model models/paper/<run>   the paper's U-Net (models/paper/main.json: main run)
  colorize photo.jpg --hint 10,20=#3366cc --out out/   pixel x=10, y=20 (from the top-left) takes this a*, b*
  colorize photo.jpg --hints hints.json --out out/     [{"x": 10, "y": 20, "color": "#3366cc"}, ...]
  colorize scans/ --out colorized/ --overwrite      redo every photo (by default a rerun skips those done)
  colorize scans/ --out shared/out/ --shard 1/3     on machine 1 of 3; 2/3 and 3/3 elsewhere, same command

Each output is named after its input (<name>.png by default) and has its size; inputs are never overwritten.
Outputs appear only when whole, so a stop (Ctrl-C, SIGTERM) leaves finished photos, and a rerun removes a killed
run's .<name>.colorize-tmp-* files. Each run appends a line per input to DIR/colorize-log.jsonl (with --shard K/N:
colorize-log-shard-K-of-N.jsonl). Exit status: 0 if every photo was colorized or already done, 1 if any failed or
none was found, 2 for usage errors or a model that cannot be loaded, 130 after SIGINT, 143 after SIGTERM.
"""

NO_MODEL = """\
colorize: no trained model found. Pass one with --model PATH (a .keras file, or a training run folder such as
models/paper/<run>), or set UNETCOLOR_MODEL=PATH, or make one in the project checkout: `make train` trains the
paper's model (about 19 hours on a CPU, minutes on a GPU), `make smoke` a toy one in minutes (it barely colours).
"""

FORMATS = {"png": ".png", "jpg": ".jpg", "keep": None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorize", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Colorize black-and-white photos at their own size, by default with the shipped L*a*b* colorizer\n"
        "(weights/default.keras); --model models/paper/<run> uses the paper's U-Net (Acharya & Pokhrel).")
    add = parser.add_argument
    add("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or glob patterns")
    add("--out", "-o", type=Path, default=Path("colorized"), metavar="DIR", help="output folder (default: ./colorized)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model", "-m", type=Path, metavar="PATH", help="a .keras model, or a training run folder "
                       "such as models/paper/<run> (default: $UNETCOLOR_MODEL, else weights/default.keras)")
    for model in shipped.SHIPPED:
        if model.option:
            which.add_argument(model.option, action="store_const", dest="packaged", const=model.name,
                               help=f"use the packaged weights/{model.name}.keras: {model.summary}")
    add("--format", "-f", choices=list(FORMATS), default="png",
        help="output format: png (default; keeps transparency), jpg, or keep each input's own")
    add("--batch-size", "-b", type=int, default=8, metavar="N", help="photos per model call (default 8; more is faster "
        "on a GPU and uses more memory)")
    add("--overwrite", action="store_true", help="redo photos whose output is already there (default: skip them)")
    add("--shard", metavar="K/N", help="only part K of N of the inputs: N machines share one --out without overlap")
    add("--workers", "-j", type=int, metavar="N", help="threads decoding photos ahead of the model, and as many "
        f"encoding after it (default: one per core, at most 4; here {predict.default_workers()})")
    add("--hint", action="append", default=[], metavar="X,Y=#RRGGBB", help="pixel x, y of the photo has this colour's "
        "a*, b* (repeatable; one input photo only; by default the packaged hints colorizer)")
    add("--hints", type=Path, metavar="FILE.json", help='hints from a JSON list of {"x": ..., "y": ..., "color": ...}')
    add("--quiet", "-q", action="store_true", help="print only failures: no progress bar, summary or skipped files")
    return parser


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived (signum); raised in the main thread."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stopping_on_signals():
    """Inside, SIGINT and SIGTERM raise Interrupted in the main thread, once; outside it, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)  # a second signal is ignored while the first unwinds
        raise Interrupted(signum)

    previous = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler_before in previous.items():
            signal.signal(number, handler_before)


def summary(run: predict.Run, out: Path, shard: predict.Shard | None) -> str:
    """The one-line summary of a run."""
    photos = sum(not result.skipped for result in run.results)
    existing, failed, other = (run.count(status) for status in (predict.EXISTING, predict.FAILED, predict.NOT_AN_IMAGE))
    stale = len(run.stale_removed)
    parts = [f"colorized {run.count(predict.DONE)} of {photos} photos into {out}",
             shard is not None and f"shard {shard} of {run.photos_found} photos in all",
             existing and f"{existing} already done, skipped (--overwrite redoes them)",
             failed and f"{failed} failed",
             other and f"{other} other {'file' if other == 1 else 'files'} skipped",
             stale and f"removed {stale} stale temporary {'file' if stale == 1 else 'files'} of a killed run"]
    return "; ".join(part for part in parts if part)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for option, value in (("--batch-size", args.batch_size), ("--workers", args.workers)):
        if value is not None and value < 1:
            parser.error(f"{option} must be at least 1, got {value}")
    try:
        shard = predict.Shard.parse(args.shard) if args.shard is not None else None
    except ValueError as error:
        parser.error(str(error))
    if args.hint or args.hints is not None:
        return _colorize_with_hints(args, shard)
    try:
        with stopping_on_signals():
            return _colorize(args, shard)
    except Interrupted as stop:
        print(f"colorize: stopped by {stop}; the finished photos are kept and no partial file is left "
              f"(log: {args.out / predict.log_name(shard)}); run the same command again to do the rest",
              file=sys.stderr)
        return 128 + stop.signum


def _colorize_with_hints(args: argparse.Namespace, shard: predict.Shard | None) -> int:
    """One photo with colour hints into args.out, every hint checked (a bad one exits 2 naming it) before writing."""
    try:
        given = [colour_hints.parse(text) for text in args.hint]
        given += colour_hints.read(args.hints) if args.hints is not None else []
        if shard is not None:
            raise ValueError("--shard splits many photos; hints are for one photo")
        if len(args.inputs) != 1 or not Path(args.inputs[0]).is_file():
            raise ValueError(f"hints are given for one photo, but the inputs are {' '.join(args.inputs)!r}: "
                             "name one image file")
        source = Path(args.inputs[0])
        photo = images.read_photo(source)  # as shown (EXIF orientation applied); UnreadableImageError is a ValueError
        colour_hints.check_inside(given, photo.rgb.shape[1], photo.rgb.shape[0], where=str(source))
        target = args.out / source.with_suffix(FORMATS[args.format] or source.suffix).name
        predict._refuse_the_input(source, target)
        if target.exists() and not args.overwrite:
            raise ValueError(f"{target} exists; pass --overwrite to replace it")
        path = args.model or predict.packaged_model_path(args.packaged or shipped.HINTS.name)
        model = predict.load_model(path)
        if not colour_hints.takes_hints(model):
            raise ValueError(f"{path}: this model cannot take colour hints (its input is {model.input_shape}, "
                             f"gray only); drop {'--model' if args.model else '--' + str(args.packaged)} to use "
                             f"the packaged {shipped.HINTS.name} colorizer, or drop the hints")
        spread = colour_hints.recorded_spread(path)
        if (args.packaged or args.model) and not spread:
            print(f"colorize: {Path(path).with_suffix('.json')} records no spread; using the defaults of "
                  "colorizers.hints.spread", file=sys.stderr)
    except (ValueError, FileNotFoundError) as error:
        print(f"colorize: {error}", file=sys.stderr)
        return 2
    colorized = colour_hints.colorize(model, photo.rgb, given, **spread)
    args.out.mkdir(parents=True, exist_ok=True)
    with stopping_on_signals():
        predict._write(colorized, photo.alpha, target, source)
    if not args.quiet:
        print(f"colorized {source} with {len(given)} {'hint' if len(given) == 1 else 'hints'} into {target}")
    return 0


def _colorize(args: argparse.Namespace, shard: predict.Shard | None) -> int:
    model_path = (predict.packaged_model_path(args.packaged) if args.packaged
                  else args.model or predict.default_model_path())
    if model_path is None:
        print(NO_MODEL, end="", file=sys.stderr)
        return 2
    try:
        model = predict.load_model(model_path)
    except (FileNotFoundError, ValueError) as error:
        where = f" (from ${predict.MODEL_ENV})" if args.model is None and os.environ.get(predict.MODEL_ENV) else ""
        print(f"colorize: {error}{where}", file=sys.stderr)
        return 2
    try:
        run = predict.colorize_paths(model, args.inputs, args.out, suffix=FORMATS[args.format],
                                     progress=not args.quiet, batch_size=args.batch_size,
                                     overwrite=args.overwrite, shard=shard, workers=args.workers)
    except OSError as error:  # the output folder cannot be made or written
        print(f"colorize: {error}", file=sys.stderr)
        return 1
    for result in run.results:
        if result.status == predict.FAILED:
            print(f"{result.path}: {result.error}", file=sys.stderr)
    if not args.quiet:
        for result in run.results:
            if result.skipped:
                print(f"{result.path}: skipped, {result.error}", file=sys.stderr)
        print(summary(run, args.out, shard))
    return 1 if run.count(predict.FAILED) or not run.photos_found else 0


if __name__ == "__main__":
    raise SystemExit(main())
