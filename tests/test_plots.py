"""Figures mark what is missing: a planned study level without a finished run, or with some
of its seeds missing, is named on the figure; captions are drawn under the figure."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402

from unetcolor.evaluation import plots


def _plan():
    levels = [("split", "70_30"), ("split", "80_20"), ("split", "90_10")]
    return pd.DataFrame([{"factor": f, "value": v, "seed": s, "run": f"{v}-{s}"} for f, v in levels for s in (42, 43)])


def _results():
    # 80_20 has both seeds, 70_30 one of two, 90_10 none
    rows = [("80_20", 42, 0.040), ("80_20", 43, 0.041), ("70_30", 42, 0.043)]
    return pd.DataFrame([{"factor": "split", "value": v, "seed": s, "best_val_loss": loss, "best_val_psnr": 20.0,
                          "final_val_accuracy": 0.5} for v, s, loss in rows])


def _texts(figure):
    return [text.get_text() for axis in figure.axes for text in axis.texts]


def test_overview_marks_a_level_with_no_run_and_one_with_missing_seeds():
    figure = plots.study_bars(_results(), plan=_plan())
    split_panels = [axis for axis in figure.axes if axis.get_xlabel() == "split"]
    for axis in split_panels:
        assert [tick.get_text() for tick in axis.get_xticklabels()] == ["70_30", "80_20", "90_10"]
        assert sorted(text.get_text() for text in axis.texts) == ["1 of 2 seeds", "no run"]


def test_curves_legend_names_every_planned_level():
    histories = pd.DataFrame([{"factor": "split", "value": v, "seed": s, "epoch": e, "val_loss": 0.1 / e}
                              for v, s in (("80_20", 42), ("80_20", 43), ("70_30", 42)) for e in range(1, 13)])
    figure = plots.study_curves(histories, "split", plan=_plan())
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels == ["70_30 (1 of 2 seeds)", "80_20", "90_10: no run"]


def test_without_a_plan_only_factors_with_no_run_at_all_are_marked():
    figure = plots.study_bars(_results())
    for axis in figure.axes:
        assert [text.get_text() for text in axis.texts] == ([] if axis.get_xlabel() == "split" else ["no run"])


def test_caption_is_drawn_under_the_figure():
    figure = plots.study_bars(_results())
    plots.caption(figure, "Counterpart of the paper's Figure 9.")
    assert "Counterpart of the paper's Figure 9." in [text.get_text() for text in figure.texts]


def test_every_figure_the_notebooks_save_has_a_caption_that_places_it_against_the_paper():
    import json
    import re

    from unetcolor import paths

    names = set()
    for notebook in sorted((paths.project_root() / "notebooks").glob("*.ipynb")):
        source = "".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"])
        names |= set(re.findall(r'figures / f?"([^"]+)\.png"', source))
    # the two names built in a loop, with the values their loops take
    assert {"03_{metric}_per_epoch", "04_{factor}_{metric}"} <= names
    names -= {"03_{metric}_per_epoch", "04_{factor}_{metric}"}
    names |= {f"03_{metric}_per_epoch" for metric in ("accuracy", "loss", "psnr")}
    names |= {f"04_{factor}_{metric}" for factor in ("batch_size", "learning_rate", "split")
              for metric in ("val_loss", "val_accuracy")}
    for name in sorted(names):
        text = plots.caption_for(name)
        assert text and ("paper" in text or "Section" in text), f"{name}.png has no caption in plots.CAPTIONS"


def test_curve_titles_count_the_seeds_actually_drawn():
    """A level with one seed beside one with two: the title says 1-2 seeds per level, not 2."""
    histories = pd.DataFrame([{"factor": "split", "value": v, "seed": s, "epoch": e, "accuracy": 0.5, "val_loss": 0.1}
                              for v, s in (("80_20", 42), ("80_20", 43), ("70_30", 42)) for e in range(1, 4)])
    title = plots.study_curves(histories, "split", "accuracy").axes[0].get_title()
    assert title == 'Training Keras "accuracy" by split (1-2 seeds per level; band: their range)'
    both = histories[histories["value"] == "80_20"]
    assert plots.study_curves(both, "split", "val_loss").axes[0].get_title().endswith(
        "(mean of 2 seeds, band: their range)")
    one = histories[histories["seed"] == 42]
    assert plots.study_curves(one, "split", "val_loss").axes[0].get_title().endswith("(one seed)")


def test_psnr_per_photo_counts_the_photos_above_the_gray_copy_and_marks_the_mean_difference():
    per_image = pd.DataFrame({"psnr_model": [20.0, 22.0, 18.0, 25.0], "psnr_gray": [21.0, 21.0, 19.0, 24.0]})
    figure = plots.psnr_per_photo(per_image)
    left, right = figure.axes
    assert left.get_title() == "2 of 4 photos above the diagonal"
    assert right.get_title() == "mean difference +0.00 dB (red)"
    assert "mean 21.25" in left.get_xlabel() and "mean 21.25" in left.get_ylabel()


def test_save_returns_nothing_so_a_cell_shows_no_path(tmp_path):
    figure = plots.study_bars(_results())
    assert plots.save(figure, tmp_path / "x.png") is None and (tmp_path / "x.png").is_file()

