"""Files a data scientist opens in the MLflow UI: model card, SHAP summary, calibration/forecast plot, importances."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from muzhang.families import get_family
from training.engine import TrainResult

LIMITS = (
    "Trained on the seeded sample county unless --data says otherwise: figures describe the simulator, "
    "not a real county. Forecasts assume the future resembles the training years; re-train on new data "
    "and let the promotion gate decide."
)


def feature_importance(result: TrainResult) -> pd.DataFrame:
    """Total gain per feature, summed over every task's point booster."""
    gain = np.zeros(len(result.features))
    for task in result.bundle.tasks.values():
        gain += task.booster.feature_importance(importance_type="gain")
    frame = pd.DataFrame({"feature": result.features, "gain": gain})
    return frame.sort_values("gain", ascending=False, ignore_index=True)


def write_shap_summary(result: TrainResult, path: Path, *, personal: bool, max_rows: int = 800) -> None:
    """Global SHAP summary of the first task's model on test rows (bar chart only for personal data)."""
    import shap  # heavy import (2-3 s); only training needs it

    task = next(iter(result.bundle.tasks.values()))
    x = result.x_test if result.x_test is not None else result.bundle.encoder.encode(result.test_frame)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(x), min(max_rows, len(x)), replace=False)
    frame = pd.DataFrame(x[rows], columns=result.features)
    # The model's own exact contributions: TreeSHAP for a booster (what shap.TreeExplainer computes), the
    # linear terms for a GLM or classical candidate.
    values = np.asarray(task.booster.predict(x[rows], pred_contrib=True), dtype=float)[:, :-1]
    plt.figure()
    shap.summary_plot(values, frame, plot_type="bar" if personal else "dot", show=False, max_display=15)
    plt.title(f"{result.bundle.family}: SHAP summary ({task.name})")
    plt.tight_layout()
    plt.savefig(path, dpi=110)
    plt.close("all")


def write_diagnostic_plot(result: TrainResult, path: Path) -> None:
    """Reliability diagram for probabilities; predicted vs actual (with intervals) for values."""
    fig, axes = plt.subplots(1, len(result.tasks), figsize=(5 * len(result.tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], result.tasks, strict=True):
        y = pd.to_numeric(result.test_frame[task.target], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(y)
        if task.kind == "binary":
            p = result.test_preds[f"p_{task.name}"].to_numpy()[ok]
            order = np.argsort(p)
            bins = np.array_split(order, 10)
            ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
            ax.plot([p[b].mean() for b in bins], [y[ok][b].mean() for b in bins], marker="o")
            ax.set(xlabel="predicted probability", ylabel="observed rate", title=f"calibration: {task.name}")
        else:
            pred = result.test_preds[task.name].to_numpy()[ok]
            lo_col, hi_col = f"{task.name}_q100", f"{task.name}_q900"
            if lo_col in result.test_preds and hi_col in result.test_preds:
                lo = result.test_preds[lo_col].to_numpy()[ok]
                hi = result.test_preds[hi_col].to_numpy()[ok]
                yerr = [np.clip(pred - lo, 0, None), np.clip(hi - pred, 0, None)]
                ax.errorbar(y[ok], pred, yerr=yerr, fmt="none", alpha=0.15, color="tab:blue")
            ax.scatter(y[ok], pred, s=6, alpha=0.6)
            lim = [float(np.nanmin(y[ok])), float(np.nanmax(y[ok]))]
            ax.plot(lim, lim, color="grey", lw=1, ls="--")
            ax.set(xlabel=f"actual ({task.unit})", ylabel=f"forecast ({task.unit})", title=f"test: {task.name}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def model_card(result: TrainResult, *, run_id: str, fingerprint: str, rows: dict[str, int], gate_note: str) -> str:
    """A short markdown card: intended use, data, metrics beside baseline and the oracle limit, limits.

    The oracle limit is the simulator's truth on the test rows; for grazing it knows the season's weather,
    so it is a hindsight limit no forecast made ahead can reach (the fair limit is logged beside it)."""
    family = result.bundle.family
    metric_names = [k for k in result.metrics if not k.startswith("prevalence")]
    lines = [
        f"# Muzhang {family} model",
        "",
        f"**Intended use.** {get_family(family).intended_use or 'not stated in the family registry'}",
        "",
        f"**Run** `{run_id}` · data fingerprint `{fingerprint[:16]}` · rows {rows}",
        "",
        f"**Features ({len(result.features)}):** {', '.join(result.features)}",
        "",
        "| metric (test) | model | " + " | ".join(result.baselines) + " | oracle limit |",
        "|---|---|" + "---|" * len(result.baselines) + "---|",
    ]
    for k in metric_names:
        cells = [f"{result.metrics[k]:.4g}"] + [f"{b.get(k, float('nan')):.4g}" for b in result.baselines.values()]
        cells.append(f"{result.bayes.get(k, float('nan')):.4g}" if result.bayes else "n/a")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    levels = [
        f"{name}: log-odds {task.level.offset:+.3f} fitted on {task.level.first}..{task.level.last}"
        for name, task in result.bundle.tasks.items()
        if task.level is not None
    ]
    if levels:
        window = next(t.level.window for t in result.bundle.tasks.values() if t.level is not None)
        lines += [
            "",
            f"**Recent level.** Probabilities are put at the level of the last {window} closed months "
            f"({'; '.join(levels)}); the test months above were each at the level of the {window} months before "
            "them, and the service refits it as the county closes months.",
        ]
    lines += ["", f"**Promotion gate.** {gate_note}", "", f"**Limits.** {LIMITS}", ""]
    return "\n".join(lines)
