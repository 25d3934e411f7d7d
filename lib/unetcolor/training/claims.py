"""The paper's Section 4 claims judged from the study's run records: "confirmed" or "contradicted" only
where the seeds' ranges of the levels compared do not overlap, else which way the mean points."""

from __future__ import annotations

import pandas as pd

SPREAD_COLUMNS = ("best_val_loss", "final_val_loss", "final_val_accuracy", "final_accuracy", "best_val_psnr",
                  "common_val_loss", "common_val_accuracy", "common_psnr", "common_ssim", "common_gray_psnr")
# each split against 80/20: claim, split, column, lower is better, label, digits, column on the common photos
_SPLIT_CLAIMS = (
    ("70/30 split lowers the validation loss", "70_30", "best_val_loss", True, "best validation loss", 5, "val_loss"),
    ("70/30 split raises the validation accuracy", "70_30", "final_val_accuracy", False, "final validation accuracy",
     4, "val_accuracy"),
    ("90/10 split raises the training accuracy", "90_10", "final_accuracy", False, "final training accuracy", 4, ""),
    ("90/10 split lowers the validation accuracy", "90_10", "final_val_accuracy", True, "final validation accuracy",
     4, "val_accuracy"),
)


def summarize_seeds(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (factor, value): the seeds and, per metric, the mean and range over them
    (<metric>, <metric>_min, <metric>_max, <metric>_n); NaN where no run of the level recorded it."""
    levels = results.reindex(columns=[*results.columns, *(c for c in SPREAD_COLUMNS if c not in results)])
    grouped = levels.groupby(["factor", "value"], sort=False)
    # Series.mean of the recorded values, not groupby's own mean: the same last digit as one level on its own
    spread = grouped[list(SPREAD_COLUMNS)].agg([lambda values: values.dropna().mean(), "min", "max", "count"])
    spread.columns = [column + suffix for column in SPREAD_COLUMNS for suffix in ("", "_min", "_max", "_n")]
    return pd.concat([grouped.size().rename("seeds"), spread], axis=1).reset_index()


def _key(value):
    """A level's value compared by number where it is one (64 == 64.0), else by text ("80_20")."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _level(summary: pd.DataFrame, factor: str, value) -> pd.Series | None:
    rows = summary[(summary["factor"] == factor) & (summary["value"].map(_key) == _key(value))]
    return rows.iloc[0] if len(rows) else None


def _settled(a: pd.Series, b: pd.Series, column: str) -> bool:
    """Both levels have two or more seeds and their ranges do not overlap."""
    return min(a[f"{column}_n"], b[f"{column}_n"]) >= 2 and (
        a[f"{column}_max"] < b[f"{column}_min"] or b[f"{column}_max"] < a[f"{column}_min"])


def _verdict(holds: bool, settled: bool, seeds: int) -> str:
    if settled:
        return "confirmed" if holds else "contradicted"
    return (f"not settled: {'holds' if holds else 'does not hold'} on the mean, "
            + ("a level has one seed" if seeds < 2 else "within the seeds' spread"))


def _describe(level: pd.Series, column: str, digits: int) -> str:
    if level[f"{column}_n"] >= 2:
        return (f"{level[column]:.{digits}f} ({level[f'{column}_min']:.{digits}f}-{level[f'{column}_max']:.{digits}f}, "
                f"{int(level[f'{column}_n'])} seeds)")
    return f"{level[column]:.{digits}f}"


def _name(factor: str, value) -> str:
    if factor == "split":
        return str(value).replace("_", "/")
    return {"batch_size": "batch {:g}", "learning_rate": "learning rate {:g}"}[factor].format(float(value))


def _versus(summary: pd.DataFrame, factor: str, claimed, other, column: str, label: str, digits: int,
            absent: str = "") -> str:
    """"; <label> <claimed's column> vs <other's>", else absent where a level did not record it."""
    a, b = _level(summary, factor, claimed), _level(summary, factor, other)
    if a is None or b is None or not (a[f"{column}_n"] and b[f"{column}_n"]):
        return absent
    return f"; {label} {_describe(a, column, digits)} vs {_describe(b, column, digits)}"


def _pair_claim(claim: str, summary: pd.DataFrame, factor: str, claimed, other, column: str,
                lower_is_better: bool, label: str, digits: int = 5, extra: str = "") -> dict:
    """The claim "level `claimed` of factor beats level `other` on column"."""
    a, b = _level(summary, factor, claimed), _level(summary, factor, other)
    missing = [str(v) for v, level in ((claimed, a), (other, b)) if level is None or not level[f"{column}_n"]]
    if missing:
        return {"claim": claim, "verdict": "not measured", "seeds": 0,
                "finding": f"no finished run for {factor.replace('_', ' ')} {', '.join(missing)}"}
    difference, settled = a[column] - b[column], _settled(a, b, column)
    counts = sorted({int(a[f"{column}_n"]), int(b[f"{column}_n"])})
    note = ("ranges do not overlap" if settled else
            "one seed each" if counts == [1] else f"{'-'.join(map(str, counts))} seeds per level")
    finding = (f"{label} {_describe(a, column, digits)} at {_name(factor, claimed)} vs "
               f"{_describe(b, column, digits)} at {_name(factor, other)}: a difference of {difference:+.{digits}f} "
               f"({note})" + extra)
    holds = difference < 0 if lower_is_better else difference > 0
    return {"claim": claim, "verdict": _verdict(holds, settled, counts[0]), "seeds": counts[0], "finding": finding}


def _batch_claim(summary: pd.DataFrame) -> dict:
    claim, column = "batch size 64 works best (of 20-100)", "best_val_loss"
    levels, base = summary[summary["factor"] == "batch_size"], _level(summary, "batch_size", 64)
    if base is None or len(levels) < 2:
        return {"claim": claim, "verdict": "not measured", "seeds": 0,
                "finding": "batch 64 or every other batch size has no finished run"}
    best = levels.loc[levels[column].idxmin()]
    holds = _key(best["value"]) == 64
    settled = (all(_settled(base, level, column) for _, level in levels.iterrows() if _key(level["value"]) != 64)
               if holds else _settled(best, base, column))
    listing = "; ".join(f"{_name('batch_size', level['value'])}: {_describe(level, column, 5)}"
                        for _, level in levels.sort_values("value", key=lambda v: v.astype(float)).iterrows())
    finding = f"mean best validation loss {listing}; " + (
        "batch 64 lowest" if holds else
        f"lowest at {_name('batch_size', best['value'])}, {base[column] - best[column]:.5f} below batch 64")
    seeds = int(levels[f"{column}_n"].min())
    return {"claim": claim, "verdict": _verdict(holds, settled, seeds), "seeds": seeds, "finding": finding}


def check_paper_claims(results: pd.DataFrame) -> pd.DataFrame:
    """Each Section 4 claim judged from `results`: claim, verdict, seeds, finding."""
    summary = summarize_seeds(results)
    claims = [_batch_claim(summary),
              _pair_claim("learning rate 1e-4 is better than 1e-3", summary, "learning_rate", 1e-4, 1e-3,
                          "best_val_loss", True, "best validation loss",
                          extra=_versus(summary, "learning_rate", 1e-4, 1e-3, "final_val_loss",
                                        "final validation loss", 5))]
    for claim, split, column, lower_is_better, label, digits, common in _SPLIT_CLAIMS:
        unscored = (f"; on the photos no split trains on: not available ({_name('split', split)}'s model was not "
                    "kept, so it cannot be scored there)")
        extra = _versus(summary, "split", split, "80_20", f"common_{common}", "on the photos no split trains on:", 4,
                        unscored) if common else ""
        claims.append(_pair_claim(f"a {claim} (vs 80/20)", summary, "split", split, "80_20", column, lower_is_better,
                                  label, digits, extra))
    return pd.DataFrame(claims)
