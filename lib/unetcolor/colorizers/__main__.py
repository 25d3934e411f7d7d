"""python -m unetcolor colorizers: train a recipe, or choose (and ship) among candidates.

    python -m unetcolor colorizers train --recipe accurate128 --data-dir ../shared/data/landscapes256
    python -m unetcolor colorizers choose            # the rule's winners, from the records
    python -m unetcolor colorizers choose --ship --overwrite   # copy them into lib/unetcolor/weights
    python -m unetcolor colorizers levers --data-dir ../shared/data/landscapes256   # variants at colorizing time
    python -m unetcolor colorizers hints --data-dir ../shared/data/landscapes256    # the hints colorizer

Training writes into models/default-model/ unless --out-dir says otherwise; a file there is
replaced only with --overwrite, and the shipped folder is written only from a clean checkout
(the provenance must name the commit that holds the code that trained it). Training checkpoints
into <out-dir>/<recipe>.run/: the same command after an interrupt or a kill resumes there."""

from __future__ import annotations

import argparse
import dataclasses
import sys

from .. import paths, shipped
from ..training.train import add_checkpoint_arguments
from ..unet import precision as precisions
from . import PROFILE, SHIPPED_DIR, build, compare, hints, levers, registry


def _train(args) -> int:
    config = registry.recipe(args.recipe)
    config = config if args.epochs is None else dataclasses.replace(config, epochs=args.epochs)
    config = config if args.precision is None else dataclasses.replace(config, precision=args.precision)
    out_dir = paths.resolve(args.out_dir) if args.out_dir else paths.profile_paths(PROFILE).models
    if out_dir.resolve() == SHIPPED_DIR.resolve() and args.recipe not in shipped.NAMES:
        raise SystemExit(f"{paths.relative(SHIPPED_DIR)} holds the shipped colorizers only ({', '.join(shipped.NAMES)}); "
                         f"{args.recipe!r} is a candidate: train it into models/{PROFILE}/ (the default --out-dir)")
    if out_dir.resolve() == SHIPPED_DIR.resolve():
        commit = build.git_commit(paths.project_root())
        if commit is None or commit.endswith("+dirty"):
            raise SystemExit(f"{paths.relative(SHIPPED_DIR)} takes models trained from a clean checkout only "
                             f"(this one is {commit or 'not a git checkout'}): commit or stash your changes first, "
                             "so that the provenance names the code that trained the file")
    processed = paths.resolve(args.processed_dir) if args.processed_dir else paths.profile_paths(PROFILE).processed
    build.prepare(args.data_dir, processed, seed=config.seed)
    try:
        provenance = build.train_colorizer(processed, out_dir, config, overwrite=args.overwrite,
                                           data_source=str(paths.resolve(args.data_dir)) if args.data_dir else None,
                                           checkpoint_every=args.checkpoint_every,
                                           checkpoint_seconds=60 * args.checkpoint_minutes)
    except KeyboardInterrupt as stop:
        print(f"unetcolor colorizers train: interrupted{': ' + str(stop) if str(stop) else ''}", file=sys.stderr)
        return 130
    print(f"wrote {paths.relative(out_dir / config.name)}.keras ({provenance['model_bytes'] / 1e6:.1f} MB) "
          f"and {config.name}.json; kept epoch {provenance['training']['best_epoch']}, "
          f"{provenance['training']['seconds_total'] / 60:.1f} min of training")
    return 0


def _choose(args) -> int:
    candidates_dir = paths.profile_paths(PROFILE).models
    pool = compare.candidate_pool(compare.records_in(SHIPPED_DIR), compare.records_in(candidates_dir))
    table = compare.candidates_table(pool)
    print(table.round(3).to_string(index=False))
    rules = {"accurate": registry.choose_accurate, "vivid": registry.choose_vivid}
    winners = {shipped.by_role(role).name: (rule(table), rule.__name__) for role, rule in rules.items()}
    for shipped_as, (winner, rule) in winners.items():
        print(f"{shipped_as}: {winner} (registry.{rule})")
        if winner == f"{shipped_as} (shipped)":
            print("  the shipped file stays")
        elif args.ship:
            row = table.set_index("candidate").loc[winner]
            reason = (f"registry's rule for the {shipped_as} model on the tuning subset: tuning PSNR gain "
                      f"{row.tuning_psnr_gain:+.3f} dB, colorfulness {row.tuning_colorfulness_share:.1%} of the truth, "
                      f"{row.train_minutes:.1f} min of training, {row.model_MB:.1f} MB")
            source = (SHIPPED_DIR / winner.removesuffix(" (shipped)") if winner.endswith(" (shipped)")
                      else candidates_dir / winner)
            build.ship(source, shipped_as, SHIPPED_DIR, reason, overwrite=args.overwrite, retire_to=candidates_dir)
            print(f"  shipped as {paths.relative(SHIPPED_DIR / shipped_as)}.keras")
    return 0


def _levers(args) -> int:
    processed = paths.resolve(args.processed_dir) if args.processed_dir else paths.profile_paths(PROFILE).processed
    build.prepare(args.data_dir, processed)
    out_dir = paths.profile_paths(PROFILE).models / "levers"
    for path in levers.record_levers(processed, out_dir, SHIPPED_DIR).values():
        print(f"wrote {paths.relative(path)}")
    return 0


def _hints(args) -> int:
    out_dir = paths.resolve(args.out_dir) if args.out_dir else SHIPPED_DIR
    target = out_dir / f"{shipped.HINTS.name}.keras"
    if target.exists() and not args.overwrite:
        raise SystemExit(f"{paths.relative(target)} exists; pass --overwrite to replace it")
    commit = build.git_commit(paths.project_root())
    if out_dir.resolve() == SHIPPED_DIR.resolve() and (commit is None or commit.endswith("+dirty")):
        raise SystemExit(f"{paths.relative(SHIPPED_DIR)} takes models made from a clean checkout only "
                         f"(this one is {commit or 'not a git checkout'}): commit or stash your changes first")
    processed = paths.resolve(args.processed_dir) if args.processed_dir else paths.profile_paths(PROFILE).processed
    build.prepare(args.data_dir, processed)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = hints.make_colorizer(SHIPPED_DIR / f"{shipped.DEFAULT.name}.keras", processed, out_dir, git_commit=commit)
    print(f"wrote {paths.relative(target)}: spread {record['spread']} chosen on the tuning subset")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor colorizers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train, select and evaluate one recipe")
    train.add_argument("--recipe", choices=[*registry.RECIPES, *registry.CANDIDATES], default="default",
                       help="default: the accurate model colorize uses; vivid: its rebalanced, bolder sibling; "
                       "gan: the regression U-Net trained against a patch discriminator; or a candidate")
    train.add_argument("--data-dir", help="a folder of photos to prepare (cached) into --processed-dir")
    train.add_argument("--processed-dir", help=f"prepared data (default: data/processed/{PROFILE}/)")
    train.add_argument("--out-dir", help=f"where <recipe>.keras/.json go (default: models/{PROFILE}/; "
                       f"the shipped files are {paths.relative(SHIPPED_DIR)}/)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing <recipe>.keras in --out-dir")
    train.add_argument("--epochs", type=int, help="override the recipe's epochs (e.g. a quick trial)")
    train.add_argument("--precision", choices=precisions.SETTINGS,
                       help="training precision (default: the recipe's, \"auto\": bfloat16 on a GPU, and on a CPU "
                       "with bfloat16 instructions where a probe finds it faster; else float32)")
    add_checkpoint_arguments(train)
    choose = commands.add_parser("choose", help=f"apply the registry's rule to the records in models/{PROFILE}/")
    choose.add_argument("--ship", action="store_true", help="copy the winners into the shipped folder")
    choose.add_argument("--overwrite", action="store_true", help="replace the shipped files")
    lever = commands.add_parser("levers", help="score variants of the shipped models that need no training "
                                "(flips, averages, confidence temperature) and apply the registry's rule")
    lever.add_argument("--data-dir", help="the folder of photos the shipped models were trained on")
    lever.add_argument("--processed-dir", help=f"prepared data (default: data/processed/{PROFILE}/)")
    hinted = commands.add_parser("hints", help="the hints colorizer from the shipped default: hint inputs added, "
                                 "the spread chosen on the default's tuning subset, measured at 0-50 hints")
    hinted.add_argument("--data-dir", help="the folder of photos the shipped default was trained on")
    hinted.add_argument("--processed-dir", help=f"prepared data (default: data/processed/{PROFILE}/)")
    hinted.add_argument("--out-dir", help=f"where hints.keras/.json go (default: {paths.relative(SHIPPED_DIR)}/)")
    hinted.add_argument("--overwrite", action="store_true", help="replace an existing hints.keras")
    args = parser.parse_args(argv)
    return {"train": _train, "choose": _choose, "levers": _levers, "hints": _hints}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
