"""Simple baselines trained beside every LightGBM model, on the same training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def group_mean_forecast(
    train: pd.DataFrame, test: pd.DataFrame, target: str, by: list[str], fallback_by: list[str]
) -> np.ndarray:
    """Mean of the target per group in the training rows (e.g. a grid's own seasonal mean).

    Groups never seen in training fall back to the mean over ``fallback_by`` groups, then the overall mean.
    """
    own = train.groupby(by)[target].mean().rename("own")
    wide = train.groupby(fallback_by)[target].mean().rename("wide")
    out = test[by + [c for c in fallback_by if c not in by]].join(own, on=by).join(wide, on=fallback_by)
    return out["own"].fillna(out["wide"]).fillna(train[target].mean()).to_numpy(dtype=float)


def logistic_probabilities(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    features: list[str],
    categorical: list[str],
    seed: int,
) -> np.ndarray:
    """Probabilities from a standardised, one-hot logistic regression on the same features."""
    numeric = [f for f in features if f not in categorical]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    model = make_pipeline(pre, LogisticRegression(max_iter=2000, random_state=seed))
    x_train = _as_model_input(train[features], numeric, categorical)
    model.fit(x_train, train[target].astype(int))
    return np.asarray(model.predict_proba(_as_model_input(test[features], numeric, categorical))[:, 1])


def _as_model_input(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    out = frame.copy()
    out[numeric] = out[numeric].apply(pd.to_numeric, errors="coerce").astype(float)
    out[categorical] = out[categorical].astype(str).astype(object)
    return out
