"""Dispute risk level, year by year: is recalibrating on the latest year the right rule? (issue 13, item 6)

For every year Y of the county (from its third year on), fits the dispute booster as training does
(``experiments/dispute.yaml``: parameters, monotone directions, early stopping) on the years up to Y-2, stops
early on Y-1, and prints the calibration-in-the-large (mean risk / observed rate - 1) on Y of

* ``raw``: the booster's own probabilities (the level the training years taught it), and
* ``platt``: recalibrated on Y-1 (Platt scaling on the validation year), and
* ``wN`` (N = 3, 6, 12): Platt, then the level refitted month by month on the N closed months before each
  month of Y (models/recent_level.py; what ``recent_level_months`` in ``experiments/dispute.yaml`` does),

beside ``raw`` on Y-1 (how wrong the level was in the recalibration year). The last year is the test year of
a training run; every earlier row is out-of-sample in the same way, so a level rule can be judged on the years
before the test year alone. With ``--candidates`` it also fits the logistic GLM and the GLM-trees hybrid
(LightGBM boosted from the GLM's log-odds) as training does, and prints for each candidate its validation (Y-1)
Brier, its Brier on Y and its Platt citl on Y, and which one validation would keep. Figures, not asserts;
about a minute per year on 2 cores (two with ``--candidates``).

    MUZHANG_WORK_DIR=work .venv/bin/python benchmarks/dispute_level_backtest.py [--candidates]
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit


def citl(p: np.ndarray, y: np.ndarray) -> float:
    return float(p.mean() / y.mean() - 1) if y.mean() > 0 else float("nan")


WINDOWS = (3, 6, 12)


def rolled(margins: np.ndarray, y: np.ndarray, months: np.ndarray, score: np.ndarray, window: int) -> np.ndarray:
    """Probabilities of the ``score`` rows, each month at the level of the ``window`` months before it."""
    from models.recent_level import rolling_offsets

    offsets = rolling_offsets(margins, y, months, months[score], window)
    return expit(margins[score] + np.array([offsets[int(m)] for m in months[score]]))


def main() -> None:
    from features import build_features, load_county
    from features.common import month_number
    from models.bundle import FeatureEncoder
    from models.linear import GlmTreeBooster
    from models.metrics import probability_metrics
    from muzhang.families import get_family
    from muzhang.settings import get_settings
    from training.candidates import fit_logistic_glm
    from training.config import load_config
    from training.engine import scale_params_to_rows
    from training.fit import booster_params, fit_booster, fit_platt

    with_candidates = "--candidates" in sys.argv[1:]

    settings = get_settings()
    fs = build_features("dispute", load_county(settings.data_dir))
    cfg = load_config(get_family("dispute").experiment_path)
    features = list(fs.features)
    encoder = FeatureEncoder(features, {f: fs.categorical[f] for f in features if f in fs.categorical})
    x = encoder.encode(fs.frame)
    y = fs.frame["any_dispute"].to_numpy(dtype=float)
    years = pd.to_datetime(fs.frame["month"]).dt.year.to_numpy()
    months = month_number(fs.frame["month"])
    monotone = [fs.monotone.get(f, 0) for f in features]
    vocab_sizes = {features.index(f): len(v) for f, v in encoder.vocabularies.items()}
    window_heads = "".join(f"{'w' + str(w):>8}" for w in WINDOWS)
    print(f"{'year':>6}{'rate':>8}{'raw':>8}{'platt':>8}{window_heads}{'raw on Y-1':>12}")
    for year in sorted(set(years.tolist()))[2:]:
        train, valid, test = (np.flatnonzero(c) for c in (years <= year - 2, years == year - 1, years == year))
        params = booster_params(
            scale_params_to_rows(cfg.lightgbm, len(train)), "binary", seed=cfg.seed, monotone=monotone
        )

        def fit(
            start: np.ndarray | None = None,
            train: np.ndarray = train,
            valid: np.ndarray = valid,
            params: dict[str, Any] = params,
        ) -> Any:
            return fit_booster(
                x[train],
                y[train],
                x[valid],
                y[valid],
                params,
                feature_names=features,
                categorical=encoder.categorical_indices,
                num_boost_round=cfg.num_boost_round,
                early_stopping_rounds=cfg.early_stopping_rounds,
                init_score=None if start is None else (start[train], start[valid]),
            )

        booster = fit()
        margin_valid, margin_test = (np.asarray(booster.predict(x[r], raw_score=True)) for r in (valid, test))
        a, b = fit_platt(margin_valid, y[valid])
        recent = np.flatnonzero(years >= year - 1)  # validation year and Y: the windows reach back into Y-1
        margin_recent = a * np.asarray(booster.predict(x[recent], raw_score=True)) + b
        in_test = years[recent] == year
        windows = "".join(
            f"{citl(rolled(margin_recent, y[recent], months[recent], in_test, w), y[test]):>+8.1%}" for w in WINDOWS
        )
        print(
            f"{year:>6}{y[test].mean():>8.4f}{citl(expit(margin_test), y[test]):>+8.1%}"
            f"{citl(expit(a * margin_test + b), y[test]):>+8.1%}{windows}{citl(expit(margin_valid), y[valid]):>+12.1%}",
            flush=True,
        )
        if not with_candidates:
            continue
        glm = fit_logistic_glm(x[train], y[train], x[valid], y[valid], vocab_sizes, cfg.seed)
        hybrid = GlmTreeBooster(glm, fit(glm.predict(x, raw_score=True)))
        models: dict[str, Any] = {"lightgbm": booster, "glm": glm, "hybrid": hybrid}
        scores = {}
        for name, model in models.items():
            m_valid, m_test = (np.asarray(model.predict(x[r], raw_score=True)) for r in (valid, test))
            a, b = fit_platt(m_valid, y[valid])
            p_valid, p_test = expit(a * m_valid + b), expit(a * m_test + b)
            scores[name] = probability_metrics(y[valid], p_valid)["brier"]
            print(
                f"{'':>6}{name:>10}  valid Brier {scores[name]:.5f}  Brier on Y "
                f"{probability_metrics(y[test], p_test)['brier']:.5f}  platt citl {citl(p_test, y[test]):+.1%}"
            )
        print(f"{'':>6}validation keeps {min(scores, key=lambda k: scores[k])}", flush=True)


if __name__ == "__main__":
    main()
