"""The tables notebook 07 shows, from the colorizers' provenance records and its own scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import shipped
from ..evaluation import metrics
from . import registry

SHIPPED_NAMES = {model.role: model.title for model in shipped.AUTOMATIC}  # role -> its row in notebook 07's tables


def records_in(folder: Path) -> dict[str, dict]:
    """name -> provenance record of every <name>.json in folder (none if it does not exist)."""
    return {file.stem: json.loads(file.read_text()) for file in sorted(Path(folder).glob("*.json"))}


def records_profile(records: dict[str, dict]) -> str:
    """The one profile the shipped models' records name (``profile``), whose folder holds their candidates."""
    named = {record.get("profile") for record in records.values()}
    if len(named) != 1 or None in named:
        raise ValueError(f"the shipped records must all name one profile (their \"profile\" field); they name "
                         f"{sorted(map(str, named))}: `python -m unetcolor colorizers choose --ship` writes it")
    return named.pop()


def rule_table(shipped_records: dict[str, dict], candidates: dict[str, dict]) -> pd.DataFrame:
    """The candidates_table the registry's rule chooses from: the shipped models that colour on their own
    ("<name> (shipped)"; not the hints colorizer) and the candidates, a shipped candidate counted once."""
    automatic = {name: record for name, record in shipped_records.items() if name in shipped.AUTOMATIC_NAMES}
    copied = {record.get("trained_as") for record in automatic.values()}
    pool = {**{f"{name} (shipped)": record for name, record in automatic.items()},
            **{name: record for name, record in candidates.items() if name not in copied}}
    return candidates_table(pool, shipped={f"{name} (shipped)" for name in automatic})


def choices_of(record: dict) -> tuple[str, pd.DataFrame]:
    """(knob, the record's tuning-subset table of knob values, with columns "value" and "chosen");
    older records name the chroma gain's column "gain"."""
    knob = "temperature" if "temperature" in record else "chroma_gain"
    table = pd.DataFrame(record[f"{knob}_choices"]).rename(columns={knob: "value", "gain": "value"})
    return knob, table.assign(chosen=np.isclose(table["value"], record[knob]))


def costs_table(provenance: dict[str, dict], files: dict, models: dict, names: dict[str, str],
                extra: dict[str, dict] | None = None) -> pd.DataFrame:
    """Per variant (names[key]) of each shipped model (provenance, files and models keyed alike): model_MB,
    parameters, train_minutes and trained_on; then the extra rows (variant -> values)."""
    rows = {names[key]: {"model_MB": Path(files[key]).stat().st_size / 1e6, "parameters": models[key].count_params(),
                         "train_minutes": record["training"]["seconds_total"] / 60,
                         "trained_on": trained_on(record.get("environment", {}))}
            for key, record in provenance.items()}
    return pd.DataFrame.from_dict({**(extra or {}), **rows}, orient="index")


def trained_on(environment: dict) -> str:
    """'cpu, 2 cores' or the accelerator ('gpu: NVIDIA H100 80GB HBM3'), from an environment record."""
    device = environment.get("device", "not recorded")
    return f"cpu, {environment['cpu_count']} cores" if device == "cpu" and "cpu_count" in environment else device


def choices_table(records: dict[str, dict]) -> pd.DataFrame:
    """Every record's tuning-subset choices, one row per (model, knob value)."""
    tables = {name: choices_of(record) for name, record in records.items()}
    columns = ["model", "knob", "value", "psnr", "psnr_gray", "colorfulness", "colorfulness_true", "chosen"]
    return pd.concat([table.assign(model=name, knob=knob) for name, (knob, table) in tables.items()],
                     ignore_index=True)[columns]


def candidates_table(records: dict[str, dict], shipped: set[str] = frozenset()) -> pd.DataFrame:
    """One row per run (name -> record): what it changed, its cost, and its tuning-subset numbers at
    the knob value it chose, the only ones the registry's rule may use (no held-out numbers)."""
    rows = []
    for name, record in records.items():
        config = record["config"]
        knob, choices = choices_of(record)
        chosen = choices[choices["chosen"]].iloc[0]
        rows.append({
            "candidate": name, "shipped": name in shipped, "head": config.get("head", "regression"),
            "rebalance": config.get("rebalance") if config.get("head") == "bins" else None,
            "chroma_size": config["model"]["image_size"], "epochs": config["epochs"],
            "finetune_epochs": config["finetune_epochs"], "bias_correction": config.get("bias_correction", False),
            "knob": knob, "chosen": record[knob], "tuning_psnr_gain": chosen["psnr"] - chosen["psnr_gray"],
            "tuning_colorfulness_share": chosen["colorfulness"] / chosen["colorfulness_true"],
            "train_minutes": record["training"]["seconds_total"] / 60,
            "minutes_to_best_epoch": record["training"]["seconds_to_best_epoch"] / 60,
            "model_MB": record["model_bytes"] / 1e6,
            "precision": record.get("environment", {}).get("precision", "float32"),
        })
    return pd.DataFrame(rows)


def variants_table(scores: dict[str, pd.DataFrame], ab_measures: pd.DataFrame) -> pd.DataFrame:
    """One row per colorizer (name -> metrics.evaluate_images of its outputs), then the gray baseline and
    the ground truth: mean PSNR, SSIM, colorfulness, gain over gray, colorfulness share, and ab_measures."""
    first = next(iter(scores.values()))
    gray_psnr, true_colorfulness = first["psnr_gray"].mean(), first["colorfulness_true"].mean()
    rows = [(name, s["psnr_model"].mean(), s["ssim_model"].mean(), s["colorfulness_model"].mean())
            for name, s in scores.items()]
    rows += [("gray baseline", gray_psnr, first["ssim_gray"].mean(), 0.0),
             ("ground truth", np.inf, 1.0, true_colorfulness)]
    table = pd.DataFrame(rows, columns=["variant", "psnr", "ssim", "colorfulness"])
    table = table.assign(psnr_gain_over_gray=table["psnr"] - gray_psnr,
                         colorfulness_share=table["colorfulness"] / true_colorfulness).join(ab_measures, on="variant")
    table.loc[table["variant"] == "ground truth", list(metrics.COLOR_MEASURES)] = [1.0, 1.0, 0.0, 0.0]
    return table


def recorded_vs_rescored(provenance: dict[str, dict], variants: pd.DataFrame, names: dict[str, str],
                         manifest: dict, split: str, validation: int) -> pd.DataFrame:
    """Each shipped model's recorded held-out numbers against those re-scored (variants' rows names[model]);
    same_photos: photos prepared alike (counts and parameters: the inputs hash covers file times), same split."""
    table = variants.set_index("variant")
    rows = []
    for name, record in provenance.items():
        same = (all(record["data"]["manifest"][key] == manifest[key] for key in ("counts", "parameters"))
                and record["data"]["split"] == split and record["data"]["validation"] == validation)
        rows += [{"model": name, "metric": row["metric"], "recorded": row["mean"],
                  "rescored": table.loc[names[name], row["metric"]], "same_photos": same}
                 for row in record["validation_metrics"] if row["method"] == "model"]
    result = pd.DataFrame(rows)
    return result.assign(agrees=np.isclose(result["recorded"], result["rescored"], atol=1e-4))


def targets_table(variants: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The accurate and vivid models' targets, what was measured and whether each is met. variants:
    ``variants_table`` joined with ``costs_table``; names: each shipped model's role -> its variant name."""
    table = variants.set_index("variant")
    gray, accurate, vivid = table.loc["gray baseline"], table.loc[names["accurate"]], table.loc[names["vivid"]]
    best_other_auc = max(table.loc[name, "ab_auc"] for key, name in names.items() if key != "accurate")
    rows = [(model, "quality", target, measured, met) for model, target, measured, met in [
        ("accurate", "PSNR >= gray baseline + 1.0 dB", f"{accurate.psnr_gain_over_gray:+.2f} dB",
         accurate.psnr_gain_over_gray >= 1.0),
        ("accurate", "SSIM >= gray baseline", f"{accurate.ssim:.3f} vs {gray.ssim:.3f}", accurate.ssim >= gray.ssim),
        ("accurate", "colorfulness >= 2/3 of the originals", f"{accurate.colorfulness_share:.0%}",
         accurate.colorfulness_share >= 2 / 3),
        ("accurate", "raw a*b* AuC above every other shipped model's", f"{accurate.ab_auc:.3f} vs {best_other_auc:.3f}",
         accurate.ab_auc > best_other_auc),
        ("vivid", "rebalanced a*b* AuC above the accurate model's",
         f"{vivid.ab_auc_rebalanced:.3f} vs {accurate.ab_auc_rebalanced:.3f}",
         vivid.ab_auc_rebalanced > accurate.ab_auc_rebalanced),
        ("vivid", "colorfulness >= 85% of the originals", f"{vivid.colorfulness_share:.0%}",
         vivid.colorfulness_share >= 0.85),
        ("vivid", "PSNR >= gray baseline", f"{vivid.psnr_gain_over_gray:+.2f} dB", vivid.psnr_gain_over_gray >= 0),
        ("vivid", "mean a* and mean b* bias each within +-2", f"{vivid.a_bias:+.2f}, {vivid.b_bias:+.2f}",
         max(abs(vivid.a_bias), abs(vivid.b_bias)) <= 2),
    ]]
    for model, row in (("accurate", accurate), ("vivid", vivid)):
        rows += [(model, "budget", "weights <= 20 MB", f"{row.model_MB:.1f} MB", row.model_MB <= 20),
                 (model, "budget", f"trains in <= {registry.BUDGET_MINUTES:g} min on 2 CPU cores",
                  f"{row.train_minutes:.0f} min ({row.trained_on})", row.train_minutes <= registry.BUDGET_MINUTES)]
    return pd.DataFrame(rows, columns=["model", "kind", "target", "measured", "met"]).astype({"met": bool})


def levers_table(records: dict[str, dict]) -> pd.DataFrame:
    """One row per shipped model and lever variant (their records): tuning and held-out numbers, and
    whether the rule chose it."""
    columns = ["tuning_psnr_gain", "tuning_colorfulness_share", "validation_psnr_gain", "validation_ssim_gain",
               "validation_colorfulness_share", "validation_a_bias", "validation_b_bias"]
    if not records:
        return pd.DataFrame(columns=["model", "variant", *columns, "chosen"])
    rows = pd.concat([pd.DataFrame(record["table"]).assign(model=record["role"]) for record in records.values()])
    wide = rows.pivot_table(index=["model", "variant"], columns="subset", sort=False,
                            values=["psnr_gain", "ssim_gain", "colorfulness_share", "a_bias", "b_bias"])
    wide.columns = [f"{subset}_{measure}" for measure, subset in wide.columns]
    chosen = rows.groupby(["model", "variant"], sort=False)["chosen"].first()
    return wide[columns].join(chosen).reset_index()


def frontier_table(levers: pd.DataFrame, records: dict[str, dict],
                   candidates: dict[str, dict] | None = None) -> pd.DataFrame:
    """Every vivid decoding tried (each temperature of the shipped vivid model and of the other rebalanced
    candidates, and the levers' variants) with its tuning PSNR gain and colorfulness share, by colorfulness."""
    vivid_name = shipped.by_role("vivid").name
    sources = {f"{vivid_name} (shipped)": records[vivid_name]}
    copied = records[vivid_name].get("trained_as")
    sources.update({name: record for name, record in (candidates or {}).items()
                    if name != copied and record.get("config", {}).get("head") == "bins"
                    and record["config"].get("rebalance", 1.0) < 1})
    rows = []
    for source, record in sources.items():
        knob, choices = choices_of(record)
        rows += [{"decoding": f"{source}: {knob.replace('_', ' ')} {row.value:g}",
                  "tuning_psnr_gain": row.psnr - row.psnr_gray,
                  "tuning_colorfulness_share": row.colorfulness / row.colorfulness_true}
                 for row in choices.itertuples()]
    lever_rows = levers[(levers["model"] == "vivid") & (levers["variant"] != "as shipped")]  # that is a temperature
    rows += [{"decoding": f"{vivid_name} (shipped), lever: {row.variant}", "tuning_psnr_gain": row.tuning_psnr_gain,
              "tuning_colorfulness_share": row.tuning_colorfulness_share} for row in lever_rows.itertuples()]
    table = pd.DataFrame(rows).sort_values("tuning_colorfulness_share", ascending=False, ignore_index=True)
    return table.assign(meets_both=(table["tuning_psnr_gain"] >= 0) & (table["tuning_colorfulness_share"] >= 0.85))
