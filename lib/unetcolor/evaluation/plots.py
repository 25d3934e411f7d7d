"""Figures drawn from artifacts (histories, tables, arrays); each function returns the Figure."""

from __future__ import annotations

import textwrap
from fnmatch import fnmatchcase
from itertools import product
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .. import paths
from ..files import write_atomic
from ..reproducibility import batch_mode

sns.set_theme(style="whitegrid", context="notebook")

METRIC_LABELS = {"loss": "MSE loss", "accuracy": 'Keras "accuracy"', "psnr": "PSNR (dB)"}


# Each figure's caption by file-name pattern, the first match winning: the paper's figure it stands for, what to read
CAPTIONS = (
    ("01_samples_photos", "The data (Section 3.3): colour photos and the gray images the model receives. The paper "
     "shows no counterpart among Figures 3-9."),
    ("02_untrained_output_photos", "A check before training (Section 3.1): the untrained U-Net outputs near mid-gray; "
     "not a figure of the paper."),
    ("03_accuracy_per_epoch", "Counterpart of the paper's Figures 4-7, accuracy per epoch. Keras' \"accuracy\" here is "
     "categorical accuracy over the three colour channels: it rewards the largest channel being right, not the "
     "colour."),
    ("03_loss_per_epoch", "Counterpart of the paper's Figures 4-7, MSE loss per epoch (training and validation)."),
    ("03_psnr_per_epoch", "Beyond the paper's figures: validation PSNR per epoch. Below the dashed line the U-Net "
     "scores worse than the gray input copied into three channels."),
    ("04_*_val_loss", "Counterpart of the paper's Figures 4-7 across the study's settings: validation loss per epoch, "
     "one colour per level; levels with no finished run or missing seeds are named."),
    ("04_*_val_accuracy", "Counterpart of the paper's Figures 4-7 across the study's settings: validation Keras "
     "\"accuracy\" per epoch; levels with no finished run or missing seeds are named."),
    ("04_*_accuracy", "Counterpart of the paper's Figures 4-7 across the study's settings: training Keras \"accuracy\" "
     "per epoch (the paper's 90/10 claim is about it); levels with no finished run or missing seeds are named."),
    ("04_study_overview", "Beyond the paper's figures: the study at a glance, each level's mean over seeds and their "
     "range. Where two ranges overlap, the seeds do not separate the levels."),
    ("05_psnr_per_photo", "Counterpart of the numbers under the paper's Figure 9: PSNR per validation photo, the U-Net "
     "against the gray copy (left; above the diagonal the U-Net is better), and the per-photo difference with its mean "
     "(right)."),
    ("05_figure3_license_clear", "Counterpart of the paper's Figures 3 and 9 on license-clear photos (scikit-image, "
     "cropped to the model's size): gray input, the U-Net's RGB output and the original, each with its PSNR."),
    ("05_ssim_distribution", "Beyond the paper's figures, beside Figure 9: SSIM per validation photo for the U-Net and "
     "for the gray copy."),
    ("05_figure9_photos", "Counterpart of the paper's Figure 9: gray input, colorization and ground truth, each with "
     "its PSNR."),
    ("05_best_worst_photos", "Beyond the paper's figures: the three best and three worst validation photos by PSNR."),
    ("06_figure8_photos", "Counterpart of the paper's Figure 8: photos from outside the training domain, colorized at "
     "native size."),
    ("06_figure8_license_clear", "Counterpart of the paper's Figure 8 on license-clear photos (scikit-image) from "
     "outside the training domain, colorized at native size, each with its PSNR."),
    ("07_examples", "Counterpart of the paper's Figures 3 and 8 on license-clear photos (scikit-image): every model "
     "beside the gray input and the original, with each output's PSNR."),
    ("07_variants_photos", "Counterpart of the paper's Figure 3 for every variant, on validation photos."),
    ("07_tuning_tradeoff", "Beyond the paper: on the tuning subset, the PSNR each decoding choice costs for the colour "
     "it buys; chosen values circled."),
    ("07_shipped_training", "Beyond the paper, in the style of Figures 4-7: how the shipped colorizers trained "
     "(training and tuning-subset loss, the kept epoch marked)."),
    ("08_hints", "Beyond the paper: PSNR on the validation photos against the number of colour hints per photo, each "
     "at a random pixel holding its true colour (Zhang et al. 2017's evaluation); the gray copy and the automatic "
     "default, which take no hints, as horizontal lines."),
)



def caption_for(name: str) -> str | None:
    """The caption of the figure file named name (a stem, e.g. "04_split_val_loss"), if any."""
    return next((text for pattern, text in CAPTIONS if fnmatchcase(name, pattern)), None)


def save(figure, path: Path) -> None:
    """Write figure to path as PNG, atomically, with its caption under it; returns nothing."""
    path = Path(path)
    if text := caption_for(path.stem):
        caption(figure, text)
    write_atomic(path, lambda temporary: figure.savefig(temporary, dpi=120, bbox_inches="tight"))


def save_photo_figure(figure, path: Path) -> None:
    """Save a figure of dataset photos; under papermill only to its (git-ignored) file, else also inline."""
    save(figure, path)
    if batch_mode():
        plt.close(figure)
        print(f"written to {paths.relative(path)}; not embedded here: a batch-executed notebook never embeds "
              "dataset photos (the stand-in and Pokhara photos carry no license); run the notebook to see it")


def training_curves(history: pd.DataFrame, metric: str, title: str = "", baseline: float | None = None):
    """Training and validation `metric` per epoch, with a dashed line at the gray copy's `baseline` where given."""
    long = (history[["epoch", metric, f"val_{metric}"]]
            .rename(columns={metric: "training", f"val_{metric}": "validation"})
            .melt(id_vars="epoch", var_name="subset", value_name=metric))
    figure, axis = plt.subplots(figsize=(6.4, 4))
    sns.lineplot(data=long, x="epoch", y=metric, hue="subset", palette=["tab:blue", "tab:orange"],
                 marker="o" if len(history) < 30 else None, ax=axis)
    if baseline is not None:
        axis.axhline(baseline, color="0.3", linestyle="--", label=f"gray copy (validation): {baseline:.2f}")
        axis.legend()
    axis.set(ylabel=METRIC_LABELS.get(metric, metric), xlabel="epoch", title=title)
    return figure


def caption(figure, text: str):
    """Write a caption under everything drawn on the figure (tick labels may reach below its bottom)."""
    box = figure.get_tightbbox(figure.canvas.get_renderer())
    bottom = min(0.0, box.y0 / figure.get_figheight()) - 0.02
    figure.text(0.0, bottom, "\n".join(textwrap.wrap(text, 110)), ha="left", va="top", fontsize=9, color="0.25",
                transform=figure.transFigure)
    return figure


def _coverage(plan: pd.DataFrame | None, finished: pd.DataFrame, factor: str) -> dict[str, tuple[int, int]]:
    """level -> (seeds finished, seeds planned) of one factor."""
    done = finished[finished["factor"] == factor].groupby(finished["value"].astype(str))["seed"].nunique()
    if plan is None:
        return {level: (int(count), int(count)) for level, count in done.items()}
    planned = plan[plan["factor"] == factor].groupby(plan["value"].astype(str), sort=False)["seed"].nunique()
    return {level: (int(done.get(level, 0)), int(count)) for level, count in planned.items()}


def _level_label(level: str, coverage: dict[str, tuple[int, int]]) -> str:
    done, planned = coverage.get(level, (1, 1))
    if done == 0:
        return f"{level}: no run"
    return level if done == planned else f"{level} ({done} of {planned} seeds)"


def study_curves(histories: pd.DataFrame, factor: str, metric: str = "val_loss", plan: pd.DataFrame | None = None):
    """One factor's curves, a colour per level (mean over seeds, range as a band), zoomed to epochs 10 onwards;
    with the plan, the legend marks levels with no run or missing seeds."""
    rows = histories[histories["factor"] == factor]
    coverage = _coverage(plan, rows, factor)
    unrun = [level for level, (done, _) in coverage.items() if not done]
    figure, axis = plt.subplots(figsize=(6.4, 4))
    sns.lineplot(data=rows.assign(value=rows["value"].astype(str)), x="epoch", y=metric, hue="value",
                 hue_order=[level for level in coverage if level not in unrun], palette="tab10",
                 errorbar=("pi", 100), ax=axis)
    late = rows.loc[rows["epoch"] >= 10, metric]
    if len(late):
        margin = 0.05 * (late.max() - late.min())
        axis.set_ylim(late.min() - margin, late.max() + margin)
    name = METRIC_LABELS.get(metric.removeprefix("val_"), metric)
    subset = "validation" if metric.startswith("val_") else "training"
    axis.set(ylabel=f"{name} on {subset} photos", xlabel="epoch",
             title=f"{subset.capitalize()} {name.split(' (')[0]} by {factor.replace('_', ' ')}{_seeds_drawn(rows)}")
    handles, labels = axis.get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="0.6", linestyle=":") for _ in unrun]  # in the legend, drawn empty
    axis.legend(handles, [_level_label(label, coverage) for label in labels + unrun], title=factor.replace("_", " "))
    return figure


def _seeds_drawn(rows: pd.DataFrame) -> str:
    """The seeds drawn, for a title: ' (one seed)', ' (mean of 3 seeds, band: their range)', ..."""
    per_level = rows.groupby("value")["seed"].nunique() if "seed" in rows and len(rows) else pd.Series([1])
    low, high = int(per_level.min()), int(per_level.max())
    if high == 1:
        return " (one seed)"
    if low == high:
        return f" (mean of {high} seeds, band: their range)"
    return f" ({low}-{high} seeds per level; band: their range)"


def study_bars(results: pd.DataFrame, metrics=("best_val_loss", "best_val_psnr", "final_val_accuracy"),
               plan: pd.DataFrame | None = None):
    """A panel per metric and factor: each level's mean (dot) and range over seeds (bar); with the plan,
    levels with no run or missing seeds are marked."""
    figure, axes = plt.subplots(len(metrics), 3, figsize=(12, 3.2 * len(metrics)), squeeze=False)
    for axis, (metric, factor) in zip(axes.flat, product(metrics, ("batch_size", "learning_rate", "split"))):
        subset = results[results["factor"] == factor].assign(value=lambda d: d["value"].astype(str))
        coverage = _coverage(plan, results, factor)
        axis.set_xlabel(factor.replace("_", " "))
        if subset.empty:
            axis.text(0.5, 0.5, "no run", ha="center", va="center", transform=axis.transAxes)
            continue
        order = list(coverage) if plan is not None else None
        sns.pointplot(data=subset, x="value", y=metric, order=order, errorbar=("pi", 100), linestyle="none",
                      capsize=0.2, color="tab:blue", ax=axis)
        for index, (done, planned) in enumerate(coverage[level] for level in order or []):
            if done < planned:  # x in data (category index), y in axis fractions
                axis.text(index, 0.04, "no run" if done == 0 else f"{done} of {planned} seeds", ha="center",
                          va="bottom", fontsize=8, color="tab:red", transform=axis.get_xaxis_transform())
        axis.set_ylabel(METRIC_LABELS.get(metric.removeprefix("best_val_").removeprefix("final_val_"),
                                          metric.replace("_", " ")) + f" ({metric.split('_')[0]}, validation)")
    figure.suptitle("Study results per level: mean over seeds (dot) and range over seeds (bar)")
    figure.tight_layout()
    return figure


def image_grid(rows: list[list[np.ndarray]], column_titles: list[str], cell_titles=None, size: float = 2.4):
    """A grid of uint8 images: rows x columns; gray (H, W) images drawn in gray."""
    figure, axes = plt.subplots(len(rows), len(rows[0]), figsize=(size * len(rows[0]), size * len(rows)),
                                squeeze=False)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            axis = axes[r, c]
            axis.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
            axis.set(xticks=[], yticks=[])
            if r == 0:  # wrapped, so long variant names do not run into each other
                axis.set_title("\n".join(textwrap.wrap(column_titles[c], 24)), fontsize=10)
            if cell_titles is not None and cell_titles[r][c]:
                axis.set_xlabel(cell_titles[r][c], fontsize=9)
    figure.tight_layout()
    return figure


def scored_rows(gray, colorized, truth, per_image: pd.DataFrame, indices) -> tuple[list, list]:
    """(rows, cell titles) for ``image_grid``: gray, colorization with its PSNR, truth with the gray copy's."""
    model, copy = per_image["psnr_model"], per_image["psnr_gray"]
    return ([[gray[i], colorized[i], truth[i]] for i in indices],
            [["", f"PSNR {model.iloc[i]:.2f} dB", f"gray copy: {copy.iloc[i]:.2f} dB"] for i in indices])


def psnr_per_photo(per_image: pd.DataFrame):
    """The U-Net's PSNR against the gray copy's per photo (left) and the histogram of their difference."""
    gray, model = per_image["psnr_gray"], per_image["psnr_model"]
    difference = model - gray
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.scatter(gray, model, s=10, alpha=0.6, color="tab:blue")
    low, high = min(gray.min(), model.min()), max(gray.max(), model.max())
    left.plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1)
    left.set(xlabel=f"gray copy PSNR (dB), mean {gray.mean():.2f}", ylabel=f"U-Net PSNR (dB), mean {model.mean():.2f}",
             title=f"{(difference > 0).sum()} of {len(difference)} photos above the diagonal")
    sns.histplot(difference, bins=30, color="tab:blue", ax=right)
    right.axvline(0, color="0.4", linestyle="--", linewidth=1)
    right.axvline(difference.mean(), color="tab:red", linewidth=1.5)
    right.set(xlabel="PSNR of the U-Net minus the gray copy's (dB)",
              title=f"mean difference {difference.mean():+.2f} dB (red)")
    figure.tight_layout()
    return figure


def metric_distribution(per_image: pd.DataFrame, metric: str = "psnr"):
    """Per-image histogram of `metric` for the model and the gray baseline."""
    long = per_image.melt(value_vars=[f"{metric}_model", f"{metric}_gray"], var_name="method", value_name=metric)
    long["method"] = long["method"].map({f"{metric}_model": "U-Net", f"{metric}_gray": "gray baseline"})
    figure, axis = plt.subplots(figsize=(6, 4))
    sns.histplot(data=long, x=metric, hue="method", element="step", stat="count", common_bins=True, ax=axis)
    axis.set_xlabel({"psnr": "PSNR (dB)", "ssim": "SSIM"}.get(metric, metric))
    return figure


def _epoch_lines(axis, rows: pd.DataFrame, lines: dict[str, str], title: str, ylabel: str):
    """One line per column of rows (column -> label) against the epoch; returns axis."""
    for column, label in lines.items():
        axis.plot(rows["epoch"], rows[column], marker=".", label=label)
    axis.set_title(title, fontsize=10)
    axis.set(xlabel="epoch", ylabel=ylabel)
    return axis


def recipe_curves(histories: dict[str, pd.DataFrame]):
    """A panel per (model, training stage): training and tuning-subset loss per epoch, the kept epoch marked;
    an adversarial stage gets another of the discriminator's and generator's losses."""
    panels = [(name, stage, rows) for name, history in histories.items()
              for stage, rows in history.groupby("stage", sort=False)]
    count = len(panels) + sum(stage == "adversarial" for _, stage, _ in panels)
    figure, axes = plt.subplots(1, count, figsize=(4.2 * count, 3.6), squeeze=False)
    axes = iter(axes[0])
    for name, stage, rows in panels:
        adversarial = stage == "adversarial"
        axis = _epoch_lines(next(axes), rows, {"loss": "training", "val_loss": "tuning subset"},
                            f"{name}: {stage.replace('_', ' ')}", "a*, b* MSE" if adversarial else "loss")
        # the epoch the recipe kept: the lowest tuning loss, or the last for the adversarial stage
        best = rows.iloc[-1] if adversarial else rows.loc[rows["val_loss"].idxmin()]
        axis.scatter([best["epoch"]], [best["val_loss"]], s=90, facecolors="none", edgecolors="black",
                     label=f"kept (epoch {int(best['epoch'])})")
        axis.legend(fontsize=8)
        if adversarial:
            axis = _epoch_lines(next(axes), rows, {"discriminator": "discriminator (real vs fake)",
                                                   "adversarial": "generator (fooling it)"},
                                f"{name}: the adversarial game", "binary cross-entropy")
            axis.axhline(np.log(2), color="gray", linestyle=":", label="ln 2: a coin toss")
            axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def tradeoff_curves(choices: pd.DataFrame):
    """PSNR gain over gray against colorfulness share, a line per model through its knob's values, chosen circled."""
    figure, axis = plt.subplots(figsize=(6.4, 4.4))
    for model, rows in choices.groupby("model", sort=False):
        gain = rows["psnr"] - rows["psnr_gray"]
        share = rows["colorfulness"] / rows["colorfulness_true"]
        line, = axis.plot(share, gain, marker=".", label=f"{model} ({rows['knob'].iloc[0].replace('_', ' ')})")
        chosen = rows["chosen"].to_numpy(bool)
        axis.scatter(share[chosen], gain[chosen], s=110, facecolors="none", edgecolors=line.get_color())
    axis.axhline(0, color="gray", linestyle=":", label="gray baseline")
    axis.set(xlabel="colorfulness, share of the originals'", ylabel="PSNR gain over the gray baseline (dB)")
    axis.set_title("Tuning subset: colour bought with PSNR (chosen values circled)", fontsize=10)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def hint_curve(curve: pd.DataFrame):
    """PSNR against hints per photo, with the gray copy and the automatic colorizer as horizontal lines."""
    hinted = curve[curve["method"] == "hints"].sort_values("hints")
    reference = curve[curve["hints"] == 0].set_index("method")["psnr"]
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    axis.plot(hinted["hints"], hinted["psnr"], marker="o", color="tab:blue", label="hints colorizer")
    for method, label, color, style in (("automatic", "automatic default", "tab:orange", "--"),
                                        ("gray copy", "gray copy", "0.4", ":")):
        axis.axhline(reference[method], color=color, linestyle=style, label=f"{label}: {reference[method]:.2f} dB")
    axis.set_xscale("symlog", linthresh=1)  # 0, 1, 2, 5, ... 50 hints spread evenly, 0 included
    axis.set_xticks(hinted["hints"].tolist(), [str(count) for count in hinted["hints"]])
    axis.set_xlim(-0.2, hinted["hints"].max() * 1.15)
    axis.set(xlabel="hints per photo (random pixels, true colour)", ylabel="PSNR (dB)")
    gain = hinted.set_index("hints")["psnr"] - reference["gray copy"]
    most = int(hinted["hints"].max())
    axis.set_title(f"With hints: {gain.get(10, float('nan')):+.2f} dB over the gray copy at 10 per photo, "
                   f"{gain[most]:+.2f} dB at {most}", fontsize=10)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure
