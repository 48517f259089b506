"""MLflow pyfunc wrapper: any MLflow client gets probabilities / values (never labels) from a bundle.

The model is logged "from code" (``models/mlflow_entry.py``) with the bundle as plain files (LightGBM
text models + JSON), so loading it runs no pickle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from models.bundle import ModelBundle, load_bundle_files

BUNDLE_ARTIFACT = "bundle"
ENTRY_POINT = Path(__file__).with_name("mlflow_entry.py")


# Imported from its defining module: ``mlflow.pyfunc`` is a LazyLoader to mypy, so ``mlflow.pyfunc.PythonModel``
# is no type there (same class at run time).
class MuzhangPyfunc(PythonModel):
    """Loads the bundle from the model's artifacts; ``predict`` takes the raw feature frame."""

    bundle: ModelBundle

    def load_context(self, context: Any) -> None:
        self.bundle = load_bundle_files(Path(context.artifacts[BUNDLE_ARTIFACT]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return self.bundle.predict_frame(frame).reset_index(drop=True)


def load_bundle(model_uri: str) -> ModelBundle:
    """Load a registered or logged Muzhang model's bundle (e.g. ``models:/muzhang-dispute@champion``)."""
    wrapper = mlflow.pyfunc.load_model(model_uri).unwrap_python_model()
    bundle = getattr(wrapper, "bundle", None)
    if not isinstance(bundle, ModelBundle):
        raise TypeError(f"{model_uri} is not a Muzhang model")
    return bundle
