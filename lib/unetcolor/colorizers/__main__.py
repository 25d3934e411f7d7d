"""python -m unetcolor colorizers: train a recipe, train the missing candidates in parallel, or choose
(and ship) among candidates.

A recipe is one of the --profile's, trained on its prepared data into models/<profile>/colorizers/
(a file there is replaced only with --overwrite; the shipped folder is written only from a clean
checkout). Training checkpoints into <out-dir>/<recipe>.run/, where the same command resumes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

from .. import paths, profiles, shipped
from ..reproducibility import log
from ..training import study
from ..training.train import add_checkpoint_arguments
from ..unet import precision as precisions
from . import SHIPPED_DIR, build, compare, levers, registry


def _processed(args, profile: profiles.Profile):
    """--processed-dir, else the profile's prepared data, prepared from --data-dir when given."""
    processed = paths.resolve(args.processed_dir) if args.processed_dir else paths.profile_paths(profile.name).processed
    return build.prepare(args.data_dir, processed, profile)


def _train(args) -> int:
    profile = profiles.load(args.profile)
    recipes = registry.recipes(args.profile)
    if args.recipe not in recipes:
        raise SystemExit(f"profile {args.profile!r} has no recipe {args.recipe!r}; its recipes: {', '.join(recipes)}")
    overrides = {"epochs": args.epochs, "precision": args.precision}
    config = dataclasses.replace(recipes[args.recipe], **{k: v for k, v in overrides.items() if v is not None})
    candidates_dir = paths.profile_paths(profile.name).colorizers
    out_dir = paths.resolve(args.out_dir) if args.out_dir else candidates_dir
    if out_dir.resolve() == SHIPPED_DIR.resolve():
        if args.recipe not in shipped.NAMES:
            raise SystemExit(f"{paths.relative(SHIPPED_DIR)} holds the shipped colorizers only "
                             f"({', '.join(shipped.NAMES)}); {args.recipe!r} is a candidate: train it into "
                             f"{paths.relative(candidates_dir)}/ (the default --out-dir)")
        commit = build.git_commit(paths.project_root())
        if commit is None or commit.endswith("+dirty"):
            raise SystemExit(f"{paths.relative(SHIPPED_DIR)} takes models trained from a clean checkout only "
                             f"(this one is {commit or 'not a git checkout'}): commit or stash your changes first, "
                             "so that the provenance names the code that trained the file")
    processed = _processed(args, profile)
    try:
        provenance = build.train_colorizer(processed, out_dir, config, overwrite=args.overwrite,
                                           data_source=str(paths.resolve(args.data_dir)) if args.data_dir else None,
                                           checkpoint_every=args.checkpoint_every,
                                           checkpoint_seconds=60 * args.checkpoint_minutes)
    except KeyboardInterrupt as stop:
        print(f"unetcolor colorizers train: interrupted{': ' + str(stop) if str(stop) else ''}", file=sys.stderr)
        return 130
    log(f"wrote {paths.relative(out_dir / config.name)}.keras ({provenance['model_bytes'] / 1e6:.1f} MB) "
          f"and {config.name}.json; kept epoch {provenance['training']['best_epoch']}, "
          f"{provenance['training']['seconds_total'] / 60:.1f} min of training")
    return 0


def _training_options(args) -> list[str]:
    """The options of `train` that a launched candidate run is given, as this call got them."""
    options = ["--checkpoint-minutes", str(args.checkpoint_minutes)]
    options += ["--checkpoint-every", str(args.checkpoint_every)] if args.checkpoint_every else []
    return options + [item for key in ("epochs", "precision") if getattr(args, key) is not None
                      for item in (f"--{key}", str(getattr(args, key)))]


def _candidates(args) -> int:
    """Each candidate without a record in models/<profile>/colorizers/ (with --only, each named one without its
    model there) trained in a process of its own by the one launcher of parallel runs, --jobs at once."""
    profile = profiles.load(args.profile)
    candidates = registry.candidates(args.profile)
    unknown = sorted(set(args.only or ()) - set(candidates))
    if unknown:
        raise SystemExit(f"profile {args.profile!r} has no candidate {', '.join(map(repr, unknown))}; "
                         f"its candidates: {', '.join(candidates)}")
    out_dir = paths.profile_paths(profile.name).colorizers
    todo = []
    for name in args.only or candidates:
        record = out_dir / f"{name}.json"
        # a record without its model was trained before (records are committed, models are not): named, it retrains
        if record.is_file() and (not args.only or record.with_suffix(".keras").is_file()):
            print(f"[candidates] {name}: finished ({paths.relative(record)}), skipped", flush=True)
        else:
            todo.append(name)
    if not todo:
        return 0
    processed = _processed(args, profile)  # prepared once, before any run starts
    jobs = []
    for name in todo:
        config = candidates[name]
        command = [sys.executable, "-m", "unetcolor", "colorizers", "train", "--profile", args.profile,
                   "--recipe", name, "--processed-dir", str(processed), *_training_options(args)]
        # the programs XLA compiles: the network, the batch size and the precision
        signature = json.dumps({"head": config.head, "model": dataclasses.asdict(config.model),
                                "batch_size": config.batch_size, "precision": args.precision or config.precision},
                               sort_keys=True)
        jobs.append(study.Job(name, command, build.run_folder(out_dir, config) / registry.HEADS[config.head].stage,
                              signature))
    started = time.monotonic()

    def ended(job, status):
        print(f"[candidates] {job.name}: {'failed' if status else 'finished'} "
              f"{(time.monotonic() - started) / 60:.1f} min after the first started", flush=True)

    try:
        failed = study.launch(jobs, args.jobs, on_start=lambda job: print(f"[candidates] {job.name}: training",
                                                                           flush=True), on_end=ended)
    except KeyboardInterrupt as stop:
        print(f"[candidates] interrupted; unfinished: {stop} (the same command resumes them)", file=sys.stderr)
        return 130
    if failed:
        print(f"[candidates] failed: {', '.join(job.name for job in failed)}; their logs are above, and the same "
              "command resumes them", file=sys.stderr)
        return 1
    return 0


def _choose(args) -> int:
    candidates_dir = paths.profile_paths(profiles.load(args.profile).name).colorizers
    table = compare.rule_table(compare.records_in(SHIPPED_DIR), compare.records_in(candidates_dir))
    print(table.round(3).to_string(index=False))
    rules = (("accurate", registry.choose_accurate), ("vivid", registry.choose_vivid))
    winners = [(shipped.by_role(role).name, rule(table), rule.__name__) for role, rule in rules]
    for shipped_as, winner, rule in winners:
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
            build.ship(source, shipped_as, SHIPPED_DIR, reason, args.profile, overwrite=args.overwrite,
                       retire_to=candidates_dir)
            print(f"  shipped as {paths.relative(SHIPPED_DIR / shipped_as)}.keras")
    return 0


def _levers(args) -> int:
    profile = profiles.load(args.profile)
    out_dir = paths.profile_paths(profile.name).colorizers / "levers"
    for path in levers.record_levers(_processed(args, profile), out_dir, SHIPPED_DIR).values():
        print(f"wrote {paths.relative(path)}")
    return 0


def _add_profile(parser: argparse.ArgumentParser, data_help: str | None = None) -> None:
    parser.add_argument("--profile", default="paper", choices=profiles.known(),
                        help="the profile whose recipes, prepared data and records folder are used (default: paper)")
    if data_help:
        parser.add_argument("--data-dir", help=data_help)
        parser.add_argument("--processed-dir", help="prepared data (default: data/processed/<profile>/)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor colorizers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train, select and evaluate one recipe")
    _add_profile(train, "a folder of photos to prepare (cached) into --processed-dir")
    train.add_argument("--recipe", default="default",
                       help="default: the accurate model colorize uses; vivid: its rebalanced, bolder sibling; gan: "
                       "the regression U-Net trained against a patch discriminator; hints: the default taking colour "
                       f"hints; or a candidate (the paper profile's: {', '.join(registry.recipes())})")
    train.add_argument("--out-dir", help="where <recipe>.keras/.json go (default: models/<profile>/colorizers/; "
                       f"the shipped files are {paths.relative(SHIPPED_DIR)}/)")
    train.add_argument("--overwrite", action="store_true", help="replace an existing <recipe>.keras in --out-dir")
    train.add_argument("--epochs", type=int, help="override the recipe's epochs (e.g. a quick trial)")
    train.add_argument("--precision", choices=precisions.SETTINGS,
                       help="training precision (default: the recipe's, \"auto\": bfloat16 on a GPU, and on a CPU "
                       "with bfloat16 instructions where a probe finds it faster; else float32)")
    add_checkpoint_arguments(train)
    several = commands.add_parser("candidates", help="train each candidate that has no record in "
                                  "models/<profile>/colorizers/ yet, each in its own process, --jobs at once")
    _add_profile(several, "a folder of photos to prepare (cached) into --processed-dir")
    several.add_argument("--only", nargs="+", metavar="NAME",
                         help="these candidates, retrained where only their record is there (default: every "
                         "candidate without a record)")
    several.add_argument("--jobs", type=int, default=1, help="runs trained at once (default: 1)")
    several.add_argument("--epochs", type=int, help="override every recipe's epochs (e.g. a quick trial)")
    several.add_argument("--precision", choices=precisions.SETTINGS, help="override every recipe's precision")
    add_checkpoint_arguments(several)
    choose = commands.add_parser("choose", help="apply the registry's rule to the records in "
                                 "models/<profile>/colorizers/")
    _add_profile(choose)
    choose.add_argument("--ship", action="store_true", help="copy the winners into the shipped folder")
    choose.add_argument("--overwrite", action="store_true", help="replace the shipped files")
    lever = commands.add_parser("levers", help="score variants of the shipped models that need no training "
                                "(flips, averages, confidence temperature) and apply the registry's rule")
    _add_profile(lever, "the folder of photos the shipped models were trained on")
    args = parser.parse_args(argv)
    try:
        registry.recipes(args.profile)  # a broken profile is a message naming its file, not a traceback
    except ValueError as error:
        parser.error(str(error))
    try:
        return {"train": _train, "candidates": _candidates, "choose": _choose, "levers": _levers}[args.command](args)
    except (FileNotFoundError, FileExistsError) as error:  # no photos or prepared data; a file not to be replaced
        raise SystemExit(f"python -m unetcolor colorizers {args.command}: {error}") from None


if __name__ == "__main__":
    sys.exit(main())
