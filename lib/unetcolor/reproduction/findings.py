""""What this shows": each notebook's finding in a sentence or two, written from the tables it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import manifest, paths, profiles


def _tables(profile: str) -> Path:
    return paths.profile_paths(profile).tables


def _read(profile: str, name: str, **options) -> pd.DataFrame:
    return pd.read_csv(_tables(profile) / name, **options)


def _md(name: str) -> str:
    """name with the stars of L*a*b* escaped, not emphasis."""
    return name.replace("*", "\\*")


def _caveat(profile: str) -> str:
    """For the smoke profile, a sentence saying its numbers show only that the code runs."""
    if profile != "smoke":
        return ""
    settings = profiles.load(profile)
    size = settings.model.image_size
    return (f"*Smoke profile: {size}×{size} photos and {settings.main.epochs} epochs, so these numbers show that "
            "the code runs, not what the paper found.* ")


def data_preparation(profile: str) -> str:
    report, counts = _read(profile, "data_report.csv"), _read(profile, "split_counts.csv")
    source = json.loads((_tables(profile) / "data_source.json").read_text())
    status = report["status"].value_counts()
    black_and_white = int(report["reason"].fillna("").str.startswith("black-and-white").sum())
    kinds = {"download": "the paper's download", "folder": f"the folder `{source.get('folder', '')}`",
             "scikit-image samples": "crops of the photos bundled with scikit-image"}
    where = kinds.get(source["kind"], f"{source['kind']} photos")
    splits = "; ".join(f"{row.split.replace('_', '/')}: {row.train:,} training and {row.val:,} validation photos"
                       for row in counts.itertuples())
    return (f"Of {len(report):,} files from {where}, {status.get('kept', 0):,} were kept, "
            f"{black_and_white:,} left out as already black-and-white and {status.get('skipped', 0):,} skipped as "
            f"unreadable or duplicate. The seeded splits: {splits}.")


def model(profile: str) -> str:
    summary, layers = _read(profile, "model_summary.csv").iloc[0], _read(profile, "model_layers.csv")
    image = profiles.load(profile).model.image_size
    return (f"The U-Net has {int(summary['parameters']):,} parameters in {len(layers)} layers "
            f"({summary['weights MB (float32)']:.1f} MB in float32) and costs "
            f"{summary['forward GFLOP per image']:.3g} GFLOP per {image}×{image} image forward, about "
            f"{summary['training GFLOP per image (about 3x forward)']:.3g} GFLOP per image in training. Untrained, "
            "it outputs near mid-gray: shapes and value ranges line up end to end.")


def training(profile: str) -> str:
    run = _read(profile, "03_training_summary.csv").iloc[0]
    return (f"After {int(run['epochs'])} epochs (seed {profiles.load(profile).main.seed}), the training loss is "
            f"{run['final_loss']:.4f} and the validation loss {run['final_val_loss']:.4f} (best "
            f"{run['best_val_loss']:.4f} at epoch {int(run['best_epoch'])}). Keras \"accuracy\" reaches "
            f"{run['final_accuracy']:.3f} on the training photos and {run['final_val_accuracy']:.3f} on the validation "
            f"photos, a gap of {run['final_accuracy'] - run['final_val_accuracy']:.3f}; the validation PSNR ends at "
            f"{run['final_val_psnr']:.2f} dB.")


def hyperparameter_study(profile: str) -> str:
    claims, results = _read(profile, "04_paper_claims.csv"), _read(profile, "04_study_results.csv")
    verdicts = "; ".join(f"*{row.claim}*: {row.verdict.split(':')[0]} ({row.seeds} seed"
                         f"{'s' if row.seeds != 1 else ''})" for row in claims.itertuples())
    return (f"{results['run'].nunique()} finished runs judge the paper's Section 4 claims: {verdicts}. "
            "A verdict is confirmed or contradicted only where the seeds' ranges do not overlap.")


def psnr_evaluation(profile: str) -> str:
    summary = _read(profile, "05_psnr_summary.csv").set_index(["metric", "method"])["mean"]
    per_image = _read(profile, "05_psnr_per_image.csv")
    gain = summary["psnr", "model"] - summary["psnr", "gray baseline"]
    better = int((per_image["psnr_model"] > per_image["psnr_gray"]).sum())
    return (f"On {len(per_image):,} validation photos the U-Net's mean PSNR is {summary['psnr', 'model']:.2f} dB "
            f"against {summary['psnr', 'gray baseline']:.2f} dB for the gray input copied into three channels "
            f"({gain:+.2f} dB); it beats the gray copy on {better:,} of {len(per_image):,} photos. SSIM "
            f"{summary['ssim', 'model']:.3f} against {summary['ssim', 'gray baseline']:.3f}; colorfulness "
            f"{summary['colorfulness', 'model']:.1f} against {summary['colorfulness', 'ground truth']:.1f} in the "
            "originals. " + ("Its colours, where wrong, cost more than adding none." if gain < 0 else
                             "Its colours earn more where right than they cost where wrong."))


def pokhara_test_images(profile: str) -> str:
    summary = _read(profile, "06_pokhara_summary.csv", index_col=0)["mean"]
    photos = _read(profile, "06_pokhara_metrics.csv")
    return (f"On {len(photos)} photos from outside the training set, at their own resolution, the U-Net's mean "
            f"PSNR is {summary['psnr_model']:.2f} dB against {summary['psnr_gray']:.2f} dB for the gray copy "
            f"(better on {(photos['psnr_model'] > photos['psnr_gray']).sum()} of {len(photos)}), SSIM "
            f"{summary['ssim_model']:.3f} against {summary['ssim_gray']:.3f}, colorfulness "
            f"{summary['colorfulness_model']:.1f} against {summary['colorfulness_true']:.1f} in the originals.")


def beyond_the_paper(profile: str) -> str:
    tables = _tables(profile)
    models = pd.read_csv(tables / "07_variants.csv").set_index("variant").drop(
        index=["gray baseline", "ground truth"], errors="ignore")
    targets = pd.read_csv(tables / "07_targets.csv")
    quality, budget = (targets.loc[targets["kind"] == kind, "met"] for kind in ("quality", "budget"))
    best, colourful = models.loc[models["psnr"].idxmax()], models.loc[models["colorfulness_share"].idxmax()]
    return (f"Highest PSNR: {_md(best.name)}, {best['psnr']:.2f} dB ({best['psnr_gain_over_gray']:+.2f} dB over the "
            f"gray copy). Most colourful: {_md(colourful.name)}, {colourful['colorfulness_share']:.0%} of the "
            f"originals' colorfulness. The shipped models meet {int(quality.sum())} of {len(quality)} quality targets "
            f"and {int(budget.sum())} of {len(budget)} budgets (file size, training time)."
            + _hue_sentence(tables) + _levers_sentence(tables))


def _levers_sentence(tables: Path) -> str:
    """What the levers at colorizing time reached, and where the vivid model's targets stop."""
    if not (tables / "07_levers.csv").is_file():
        return ""
    sentences = []
    for model, rows in pd.read_csv(tables / "07_levers.csv").groupby("model", sort=False):
        rows = rows.set_index("variant")
        best, shipped = rows.loc[rows.drop(index="as shipped")["tuning_psnr_gain"].idxmax()], rows.loc["as shipped"]
        kept = rows.index[rows["chosen"]][0]
        sentences.append(
            f"For the {model} model, the lever with the best tuning PSNR is {best.name}: "
            f"{best['tuning_psnr_gain']:+.3f} dB over the gray copy at {best['tuning_colorfulness_share']:.0%} "
            f"colorfulness, against {shipped['tuning_psnr_gain']:+.3f} dB at "
            f"{shipped['tuning_colorfulness_share']:.0%} as shipped (held out: {best['validation_psnr_gain']:+.2f} dB "
            f"against {shipped['validation_psnr_gain']:+.2f} dB); the rule keeps "
            f"{'the file as shipped' if kept == 'as shipped' else kept}.")
    if (tables / "07_vivid_frontier.csv").is_file():
        frontier = pd.read_csv(tables / "07_vivid_frontier.csv")
        colourful = frontier[frontier["tuning_colorfulness_share"] >= 0.85]
        if not frontier["meets_both"].any() and len(colourful):
            top = colourful.loc[colourful["tuning_psnr_gain"].idxmax()]
            sentences.append(
                f"No vivid decoding tried ({len(frontier)}) is both at 85% colorfulness and at the gray copy's "
                f"PSNR: at 85% or more the best is {top['decoding']}, {top['tuning_psnr_gain']:+.2f} dB on the "
                "tuning subset.")
    return " " + " ".join(sentences)


def _hue_sentence(tables: Path) -> str:
    """Each model's share of coloured pixels that land in their original's broad hue class."""
    if not (tables / "07_hue.csv").is_file():
        return ""
    pooled = pd.read_csv(tables / "07_hue.csv").set_index("hue").loc["any hue"]
    shares = pooled.drop(["pixels", "gray baseline"], errors="ignore")
    return " Coloured pixels given their original's broad hue: " + ", ".join(
        f"{_md(name)} {share:.0%}" for name, share in shares.items()) + "."


# the hint curve's goal (over the gray copy, dB): a person's few clicks should buy what no automatic colorizer reaches
HINT_GOALS = {10: 3.0, 50: 5.0}


def hints(profile: str) -> str:
    """The hints colorizer's PSNR with 0, 10 and 50 hints against the default and the gray copy (notebook 08)."""
    at = _read(profile, "08_hints.csv").set_index(["method", "hints"])
    gray, automatic = at.loc[("gray copy", 0), "psnr"], at.loc[("automatic", 0), "psnr"]
    hinted = at.loc["hints"]
    most = int(hinted.index.max())
    gains = {count: hinted.loc[count, "psnr"] - gray for count in HINT_GOALS if count in hinted.index}
    goals = "; ".join(f"+{goal:g} dB at {count} {'met' if gains[count] >= goal else 'not met'}"
                      for count, goal in HINT_GOALS.items() if count in gains)
    share = hinted["colorfulness_share"]
    return (f"On {int(hinted['photos'].iloc[0])} validation photos, with no hint the hints colorizer scores "
            f"{hinted.loc[0, 'psnr']:.2f} dB ({hinted.loc[0, 'psnr'] - automatic:+.2f} dB against the automatic "
            f"default's {automatic:.2f} dB; the gray copy {gray:.2f} dB). Given hints at random pixels holding their "
            f"true colour it reaches {hinted.loc[10, 'psnr']:.2f} dB with 10 per photo ({gains[10]:+.2f} dB over "
            f"the gray copy) and {hinted.loc[most, 'psnr']:.2f} dB with {most} ({hinted.loc[most, 'psnr'] - gray:+.2f} "
            f"dB); the goals over the gray copy: {goals}. Its colorfulness goes from {share[0]:.0%} of the originals' "
            f"to {share[most]:.0%}, the a\\*, b\\* AuC from {hinted.loc[0, 'ab_auc']:.3f} to "
            f"{hinted.loc[most, 'ab_auc']:.3f}.")


# the writers a manifest entry's `finding` may name
WRITERS = {writer.__name__: writer for writer in (data_preparation, model, training, hyperparameter_study,
                                                   psnr_evaluation, pokhara_test_images, beyond_the_paper, hints)}
# the setup (photos, model) and the shipped hints colorizer are the same at any training length: no smoke caveat
WITHOUT_CAVEAT = {"data_preparation", "model", "hints"}


def what_this_shows(notebook: str, profile: str) -> str:
    """The finding of `notebook` as Markdown, as its manifest entry says: a writer, or {table, text} with each
    {column[:spec]} of text filled from the table's first row."""
    finding = manifest.notebook(notebook).finding
    if not isinstance(finding, dict):
        if finding not in WRITERS:
            raise ValueError(f"{manifest.path()}: {notebook}'s finding {finding!r} is neither a writer of "
                             f"unetcolor.reproduction.findings ({', '.join(WRITERS)}) nor {{table, text}}")
        caveat = "" if finding in WITHOUT_CAVEAT else _caveat(profile)
        return "**What this shows.** " + caveat + WRITERS[finding](profile)
    table = _tables(profile) / finding["table"]
    # records keep each column's own type: a count stays an integer beside a float column
    row = json.loads(table.read_text()) if table.suffix == ".json" else pd.read_csv(table).head(1).to_dict("records")[0]
    try:
        return "**What this shows.** " + _caveat(profile) + finding["text"].format(**row)
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(f"{manifest.path()}: the finding of {finding['table']} names what its first row "
                         f"does not hold ({error}); its columns are {sorted(row)}") from None


def show(notebook: str, profile: str) -> None:
    """Display what_this_shows in a notebook (plain text elsewhere)."""
    from IPython.display import Markdown, display  # only notebooks call this

    display(Markdown(what_this_shows(notebook, profile)))
