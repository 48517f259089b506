"""A linear model on the bundle's encoded features, shaped like a LightGBM booster where the bundle uses one.

Any candidate may be a family's champion: a regularised GLM (logistic for probabilities), or a classical
forecast whose correction is zero (the point) with linear quantile offsets. The bundle, serving and
explanations call ``predict(x, raw_score=..., pred_contrib=...)``, ``num_feature()`` and ``save_model`` as
on a booster, so nothing downstream needs to know which kind won.

Raw score = intercept + sum of one term per feature:

* a *numeric* term is ``weight * (x - centre) / scale`` (missing -> 0, i.e. the centre);
* a *table* term (categories, or a small integer such as the horizon) is the table's value for the code
  (missing or unseen -> 0).

Contributions are each term minus its mean over the training rows, and the base value is intercept + the
sum of those means: they add up to the raw score exactly, in the same shape as TreeSHAP's.

:class:`GlmTreeBooster` is a GLM plus LightGBM trees boosted from the GLM's raw score (``init_score``): the
GLM carries linear terms that extrapolate past the training range (a snowier winter), the trees the
interactions it misses. Raw score = GLM raw + trees' raw; contributions = the GLM's terms + the trees'
TreeSHAP values, feature by feature, so they add up to the raw score exactly as either alone does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

FORMAT = "muzhang-linear-model"
GLM_TREES_FORMAT = "muzhang-glm-trees-model"


@dataclass
class LinearBooster:
    """Weights per feature (numeric) or a table per feature (codes), an intercept and a link."""

    n_features: int
    intercept: float = 0.0
    weights: dict[int, float] = field(default_factory=dict)  # feature index -> weight on the scaled value
    centres: dict[int, float] = field(default_factory=dict)
    scales: dict[int, float] = field(default_factory=dict)
    tables: dict[int, dict[int, float]] = field(default_factory=dict)  # feature index -> code -> term
    term_means: list[float] = field(default_factory=list)  # mean term per feature on the training rows
    mean_abs: list[float] = field(default_factory=list)  # mean |contribution| on the training rows
    link: str = "identity"  # "logit": predict() without raw_score gives probabilities, as LightGBM's binary
    kind: str = "glm"  # what it is, for people: "glm", "classical"

    def __post_init__(self) -> None:
        if not self.term_means:
            self.term_means = [0.0] * self.n_features

    def terms(self, x: np.ndarray) -> np.ndarray:
        """(rows, features): each feature's term."""
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        out = np.zeros((len(x), self.n_features))
        for j, w in self.weights.items():
            z = (x[:, j] - self.centres.get(j, 0.0)) / self.scales.get(j, 1.0)
            out[:, j] = w * np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
        for j, table in self.tables.items():
            codes = x[:, j]
            out[:, j] = [table.get(int(c), 0.0) if np.isfinite(c) else 0.0 for c in codes]
        return out

    def predict(self, x: np.ndarray, raw_score: bool = False, pred_contrib: bool = False, **_: Any) -> np.ndarray:
        terms = self.terms(x)
        means = np.asarray(self.term_means, dtype=float)
        if pred_contrib:
            base = self.intercept + float(means.sum())
            return np.column_stack([terms - means, np.full(len(terms), base)])
        raw = self.intercept + terms.sum(axis=1)
        if raw_score or self.link == "identity":
            return raw
        return 1.0 / (1.0 + np.exp(-raw))

    def num_feature(self) -> int:
        return self.n_features

    def num_trees(self) -> int:
        return 0

    def feature_importance(self, importance_type: str = "gain") -> np.ndarray:
        """Mean absolute contribution per feature on the training rows (a linear model has no gain)."""
        return np.asarray(self.mean_abs, dtype=float) if self.mean_abs else np.zeros(self.n_features)

    def remember_training_rows(self, x_train: np.ndarray) -> LinearBooster:
        """Store each term's mean (the contributions' reference) and mean absolute contribution."""
        terms = self.terms(x_train)
        self.term_means = [float(v) for v in terms.mean(axis=0)]
        self.mean_abs = [float(v) for v in np.abs(terms - terms.mean(axis=0)).mean(axis=0)]
        return self

    def model_to_string(self) -> str:
        doc = asdict(self)
        doc["format"] = FORMAT
        doc["tables"] = {str(j): {str(c): v for c, v in t.items()} for j, t in self.tables.items()}
        for name in ("weights", "centres", "scales"):
            doc[name] = {str(j): v for j, v in doc[name].items()}
        return json.dumps(doc)

    def save_model(self, path: Path | str) -> None:
        Path(path).write_text(self.model_to_string(), encoding="utf-8")

    @classmethod
    def from_string(cls, text: str) -> LinearBooster:
        doc = json.loads(text)
        if doc.pop("format", None) != FORMAT:
            raise ValueError("not a Muzhang linear model")
        for name in ("weights", "centres", "scales"):
            doc[name] = {int(j): float(v) for j, v in doc[name].items()}
        doc["tables"] = {int(j): {int(c): float(v) for c, v in t.items()} for j, t in doc["tables"].items()}
        return cls(**doc)


@dataclass
class GlmTreeBooster:
    """A GLM and LightGBM trees that learned a correction of its raw score, answering as one booster."""

    glm: LinearBooster
    trees: lgb.Booster
    kind: str = "glm_trees"

    @property
    def link(self) -> str:
        return self.glm.link

    def predict(self, x: np.ndarray, raw_score: bool = False, pred_contrib: bool = False, **kw: Any) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        trees_kw = {k: v for k, v in kw.items() if k == "num_threads"}
        if pred_contrib:  # both (rows, features + 1), the last column the base value: they add feature by feature
            trees = np.asarray(self.trees.predict(x, pred_contrib=True, **trees_kw), dtype=float)
            return self.glm.predict(x, pred_contrib=True) + trees
        raw = self.glm.predict(x, raw_score=True) + np.asarray(
            self.trees.predict(x, raw_score=True, **trees_kw), dtype=float
        )
        if raw_score or self.link == "identity":
            return raw
        return 1.0 / (1.0 + np.exp(-raw))

    def num_feature(self) -> int:
        return self.glm.num_feature()

    def num_trees(self) -> int:
        return int(self.trees.num_trees())

    def feature_importance(self, importance_type: str = "gain") -> np.ndarray:
        """The trees' importance (the GLM has no gain; its terms show in the contributions)."""
        return np.asarray(self.trees.feature_importance(importance_type=importance_type), dtype=float)

    def model_to_string(self) -> str:
        return json.dumps(
            {"format": GLM_TREES_FORMAT, "glm": self.glm.model_to_string(), "trees": self.trees.model_to_string()}
        )

    def save_model(self, path: Path | str) -> None:
        Path(path).write_text(self.model_to_string(), encoding="utf-8")

    @classmethod
    def from_string(cls, text: str) -> GlmTreeBooster:
        doc = json.loads(text)
        if doc.get("format") != GLM_TREES_FORMAT:
            raise ValueError("not a Muzhang GLM-trees model")
        trees = str(doc["trees"])
        # LightGBM aborts the process on a model cut short rather than raising: check it is whole first.
        last_line = trees.rstrip("\n").rsplit("\n", 1)[-1]
        if not (
            "\nend of trees\n" in trees
            and "\nend of parameters\n" in trees
            and last_line.startswith("pandas_categorical:")
        ):
            raise ValueError("the GLM-trees model's trees are incomplete")
        return cls(LinearBooster.from_string(doc["glm"]), lgb.Booster(model_str=trees))


def load_json_model(text: str) -> LinearBooster | GlmTreeBooster:
    """A model :meth:`LinearBooster.save_model` or :meth:`GlmTreeBooster.save_model` wrote (by its format)."""
    doc = json.loads(text)
    if isinstance(doc, dict) and doc.get("format") == GLM_TREES_FORMAT:
        return GlmTreeBooster.from_string(text)
    return LinearBooster.from_string(text)


def is_linear_model_file(path: Path) -> bool:
    """A file :meth:`LinearBooster.save_model` or :meth:`GlmTreeBooster.save_model` wrote (JSON), not a
    LightGBM text model."""
    with open(path, "rb") as fh:
        return fh.read(1) == b"{"
