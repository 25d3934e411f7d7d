"""The `colorize` command: a thin layer over predict.load_model and predict.colorize_paths.

    colorize photo.png --out colorized/                              the shipped "accurate" colorizer
    colorize photo.png --out colorized/ --model models/paper/<run>   the paper's U-Net (a run folder)

By default the photos are coloured by the packaged weights/default.keras (an
L*a*b* U-Net, the most accurate of the shipped models; --vivid and --gan pick
the other two). The paper's U-Net (Acharya & Pokhrel) is a training run
folder, models/paper/<run> (models/paper/main.json names the main run); on a
fresh clone it is rebuilt from the folder's config.json and its committed
float16 weights (see predict.load_model).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..evaluation import predict
from .. import shipped

EXAMPLES = """\
examples:
  colorize old_photo.jpg --out colorized/
  colorize scans/ --out colorized/                  every image below scans/, subfolders kept
  colorize "album/*.png" --format keep --out out/   quote patterns so colorize expands them
  colorize photo.jpg --out out/ --vivid                the bolder packaged model
  colorize photo.jpg --out out/ --gan                  the adversarially trained packaged model
  colorize photo.jpg --out out/ --model models/paper/<run>   the paper's U-Net (a training run folder;
                                                             models/paper/main.json names the main run)

Each output is named after its input (<name>.png by default) and has the
input's size: the model colours a shrunk copy and the colours are laid over
the full-resolution original luminance. Inputs are never overwritten.
A folder is searched for every image format Pillow reads; other files in it
are listed as skipped (not an image) and left alone.
Exit status: 0 if every photo was colorized (skipped files do not count),
1 if any failed or none was found, 2 for usage errors or a model that
cannot be loaded.
"""

NO_MODEL = """\
colorize: no trained model found.
  Pass one with --model PATH (a .keras file, or a training run folder such as
  models/paper/<run>, the paper's U-Net), or set UNETCOLOR_MODEL=PATH, or make one
  in the project checkout:
    make train       trains the paper's model (about 19 hours on a CPU, minutes on a GPU)
    make smoke       trains a toy model in minutes (models/smoke/...; it barely colours)
"""

FORMATS = {"png": ".png", "jpg": ".jpg", "keep": None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorize",
        description="Colorize black-and-white photos at each photo's own size, by default with the\n"
        "shipped L*a*b* colorizer (weights/default.keras, the most accurate);\n"
        "--model models/paper/<run> uses the paper's U-Net (Acharya & Pokhrel).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image files, folders (searched recursively) or glob patterns")
    parser.add_argument("--out", "-o", type=Path, default=Path("colorized"), metavar="DIR",
                        help="folder for the colorized photos, created if missing (default: ./colorized; "
                        "an input is never overwritten)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--model", "-m", type=Path, metavar="PATH",
                       help="a .keras model, or a training run folder such as models/paper/<run> "
                       "(the paper's U-Net: its model.keras, else its committed float16 weights) "
                       "(default: $UNETCOLOR_MODEL, else the packaged L*a*b* weights/default.keras, "
                       "the most accurate)")
    for model in shipped.SHIPPED:
        if model.option:
            which.add_argument(model.option, action="store_const", dest="packaged", const=model.name,
                               help=f"use the packaged weights/{model.name}.keras: {model.summary}")
    parser.add_argument("--format", "-f", choices=list(FORMATS), default="png",
                        help="output format: png (default; keeps transparency), jpg, "
                        "or keep each input's own")
    parser.add_argument("--batch-size", "-b", type=int, default=8, metavar="N",
                        help="photos run through the model together (default 8; "
                        "more is faster on a GPU and uses more memory)")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bar, no summary and no list of skipped files; "
                        "failures are still printed")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1, got {args.batch_size}")

    packaged = args.packaged
    model_path = predict.packaged_model_path(packaged) if packaged else args.model or predict.default_model_path()
    if model_path is None:
        print(NO_MODEL, end="", file=sys.stderr)
        return 2
    try:
        model = predict.load_model(model_path)
    except (FileNotFoundError, ValueError) as error:
        where = f" (from ${predict.MODEL_ENV})" if args.model is None and os.environ.get(predict.MODEL_ENV) else ""
        print(f"colorize: {error}{where}", file=sys.stderr)
        return 2

    results = predict.colorize_paths(model, args.inputs, args.out, suffix=FORMATS[args.format],
                                     progress=not args.quiet, batch_size=args.batch_size)
    skipped = [result for result in results if result.skipped]
    photos = [result for result in results if not result.skipped]
    failed = [result for result in photos if not result.ok]
    for result in failed:
        print(f"{result.path}: {result.error}", file=sys.stderr)
    if not args.quiet:
        for result in skipped:
            print(f"{result.path}: skipped, {result.error}", file=sys.stderr)
        print(f"colorized {len(photos) - len(failed)} of {len(photos)} photos into {args.out}"
              + (f"; {len(failed)} failed" if failed else "")
              + (f"; {len(skipped)} other {'file' if len(skipped) == 1 else 'files'} skipped" if skipped else ""))
    return 1 if failed or not photos else 0


if __name__ == "__main__":
    raise SystemExit(main())
