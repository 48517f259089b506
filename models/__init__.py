"""What is logged and loaded: the model bundle and its MLflow pyfunc wrapper."""

from models.bundle import FeatureEncoder, ModelBundle, TaskModel, quantile_label

__all__ = ["FeatureEncoder", "ModelBundle", "TaskModel", "quantile_label"]
