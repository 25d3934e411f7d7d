"""The paper's Section 4 claims judged from the study's run records: "confirmed" or "contradicted" only
where the seeds' ranges of the levels compared do not overlap, else which way the mean points."""

from __future__ import annotations

import pandas as pd

SPREAD_COLUMNS = ("best_val_loss", "final_val_loss", "final_val_accuracy", "final_accuracy", "best_val_psnr",
                  "common_val_loss", "common_val_accuracy", "common_psnr", "common_ssim", "common_gray_psnr")


def summarize_seeds(results: pd.DataFrame) -> pd.DataFrame:
    """One row per (factor, value): the seeds and, per metric, the mean and range over them
    (<metric>, <metric>_min, <metric>_max, <metric>_n); NaN where no run of the level recorded it."""
    rows = []
    for (factor, value), group in results.groupby(["factor", "value"], sort=False):
        row = {"factor": factor, "value": value, "seeds": len(group)}
        for column in SPREAD_COLUMNS:
            values = group[column].dropna() if column in group else pd.Series(dtype=float)
            row.update({column: values.mean(), f"{column}_min": values.min(), f"{column}_max": values.max(),
                        f"{column}_n": len(values)})
        rows.append(row)
    return pd.DataFrame(rows)


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
    if min(a[f"{column}_n"], b[f"{column}_n"]) < 2:
        return False
    return a[f"{column}_max"] < b[f"{column}_min"] or b[f"{column}_max"] < a[f"{column}_min"]


def _verdict(holds: bool, settled: bool, seeds: int) -> str:
    if settled:
        return "confirmed" if holds else "contradicted"
    lean = "holds" if holds else "does not hold"
    return f"not settled: {lean} on the mean, " + ("a level has one seed" if seeds < 2 else "within the seeds' spread")


def _describe(level: pd.Series, column: str, digits: int) -> str:
    if level[f"{column}_n"] >= 2:
        return (f"{level[column]:.{digits}f} ({level[f'{column}_min']:.{digits}f}-{level[f'{column}_max']:.{digits}f}, "
                f"{int(level[f'{column}_n'])} seeds)")
    return f"{level[column]:.{digits}f}"


def _name(factor: str, value) -> str:
    if factor == "split":
        return str(value).replace("_", "/")
    return {"batch_size": "batch {:g}", "learning_rate": "learning rate {:g}"}[factor].format(float(value))


def _pair_claim(claim: str, summary: pd.DataFrame, factor: str, claimed, other, column: str,
                lower_is_better: bool, label: str, digits: int = 5, extra: str = "") -> dict:
    """The claim "level `claimed` of factor beats level `other` on column"."""
    a, b = _level(summary, factor, claimed), _level(summary, factor, other)
    if a is None or b is None or not (a[f"{column}_n"] and b[f"{column}_n"]):
        missing = [str(v) for v, level in ((claimed, a), (other, b)) if level is None or not level[f"{column}_n"]]
        return {"claim": claim, "verdict": "not measured", "seeds": 0,
                "finding": f"no finished run for {factor.replace('_', ' ')} {', '.join(missing)}"}
    difference = a[column] - b[column]
    seeds = int(min(a[f"{column}_n"], b[f"{column}_n"]))
    settled = _settled(a, b, column)
    counts = sorted({int(a[f"{column}_n"]), int(b[f"{column}_n"])})
    note = ("ranges do not overlap" if settled else
            "one seed each" if counts == [1] else f"{'-'.join(map(str, counts))} seeds per level")
    finding = (f"{label} {_describe(a, column, digits)} at {_name(factor, claimed)} vs "
               f"{_describe(b, column, digits)} at {_name(factor, other)}: a difference of {difference:+.{digits}f} "
               f"({note})" + extra)
    holds = difference < 0 if lower_is_better else difference > 0
    return {"claim": claim, "verdict": _verdict(holds, settled, seeds), "seeds": seeds, "finding": finding}


def _batch_claim(summary: pd.DataFrame) -> dict:
    claim, column = "batch size 64 works best (of 20-100)", "best_val_loss"
    levels, base = summary[summary["factor"] == "batch_size"], _level(summary, "batch_size", 64)
    if base is None or len(levels) < 2:
        return {"claim": claim, "verdict": "not measured", "seeds": 0,
                "finding": "batch 64 or every other batch size has no finished run"}
    best = levels.loc[levels[column].idxmin()]
    holds = _key(best["value"]) == 64
    others = [level for _, level in levels.iterrows() if _key(level["value"]) != 64]
    settled = all(_settled(base, level, column) for level in others) if holds else _settled(best, base, column)
    listing = "; ".join(f"{_name('batch_size', level['value'])}: {_describe(level, column, 5)}"
                        for _, level in levels.sort_values("value", key=lambda v: v.astype(float)).iterrows())
    finding = f"mean best validation loss {listing}; " + (
        "batch 64 lowest" if holds else
        f"lowest at {_name('batch_size', best['value'])}, {base[column] - best[column]:.5f} below batch 64")
    seeds = int(levels[f"{column}_n"].min())
    return {"claim": claim, "verdict": _verdict(holds, settled, seeds), "seeds": seeds, "finding": finding}


def _split_claims(summary: pd.DataFrame) -> list[dict]:
    """70/30 and 90/10 against 80/20, with the common photos' comparison where scored."""
    def common(claimed, column):
        a, b = _level(summary, "split", claimed), _level(summary, "split", "80_20")
        if a is None or b is None or not (a[f"common_{column}_n"] and b[f"common_{column}_n"]):
            return (f"; on the photos no split trains on: not available ({_name('split', claimed)}'s model "
                    "was not kept, so it cannot be scored there)")
        return (f"; on the photos no split trains on: {_describe(a, f'common_{column}', 4)} vs "
                f"{_describe(b, f'common_{column}', 4)}")

    def claim(text, claimed, column, lower_is_better, label, digits=4, extra=""):
        return _pair_claim(f"a {text} (vs 80/20)", summary, "split", claimed, "80_20", column, lower_is_better,
                           label, digits, extra)

    return [
        claim("70/30 split lowers the validation loss", "70_30", "best_val_loss", True, "best validation loss", 5,
              common("70_30", "val_loss")),
        claim("70/30 split raises the validation accuracy", "70_30", "final_val_accuracy", False,
              "final validation accuracy", extra=common("70_30", "val_accuracy")),
        claim("90/10 split raises the training accuracy", "90_10", "final_accuracy", False, "final training accuracy"),
        claim("90/10 split lowers the validation accuracy", "90_10", "final_val_accuracy", True,
              "final validation accuracy", extra=common("90_10", "val_accuracy")),
    ]


def check_paper_claims(results: pd.DataFrame) -> pd.DataFrame:
    """Each Section 4 claim judged from `results` (batch size and learning rate by the best validation
    loss, splits by the quantity each names): claim, verdict, seeds, finding."""
    summary = summarize_seeds(results)
    low, high = _level(summary, "learning_rate", 1e-4), _level(summary, "learning_rate", 1e-3)
    rate_extra = "" if low is None or high is None else (
        f"; final validation loss {_describe(low, 'final_val_loss', 5)} vs {_describe(high, 'final_val_loss', 5)}")
    claims = [_batch_claim(summary),
              _pair_claim("learning rate 1e-4 is better than 1e-3", summary, "learning_rate", 1e-4, 1e-3,
                          "best_val_loss", True, "best validation loss", extra=rate_extra)]
    return pd.DataFrame(claims + _split_claims(summary))
