"""The bundle on disk: plain LightGBM text files and JSON, read back exactly or refused with a reason."""

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.bundle import FeatureEncoder, ModelBundle, TaskModel, load_bundle_files, save_bundle


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] + rng.normal(0, 0.5, 300) > 0).astype(float)
    booster = lgb.train({"objective": "binary", "verbosity": -1, "num_threads": 1}, lgb.Dataset(x, y), 10)
    encoder = FeatureEncoder(["a", "kind"], {"kind": ["x", "y"]})
    task = TaskModel("risk", "binary", booster, calibration=(1.1, -0.2), unit="probability")
    return ModelBundle("dispute", encoder, {"risk": task}, {"risk_bands": {"medium": 0.1, "high": 0.3}})


def test_saved_bundle_predicts_exactly_like_the_original(bundle, tmp_path):
    frame = pd.DataFrame({"a": [0.3, -1.0, np.nan], "kind": ["x", "unseen", None]})
    loaded = load_bundle_files(save_bundle(bundle, tmp_path / "b"))
    pd.testing.assert_frame_equal(loaded.predict_frame(frame), bundle.predict_frame(frame))
    assert loaded.thresholds == bundle.thresholds


def test_truncated_model_file_is_refused_not_parsed(bundle, tmp_path):
    folder = save_bundle(bundle, tmp_path / "b")
    model = folder / "risk.txt"
    model.write_bytes(model.read_bytes()[: len(model.read_bytes()) // 2])
    with pytest.raises(ValueError, match="incomplete"):
        load_bundle_files(folder)


def test_garbage_bundle_json_names_the_folder(bundle, tmp_path):
    folder = save_bundle(bundle, tmp_path / "b")
    (folder / "bundle.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="unreadable"):
        load_bundle_files(folder)


def test_log1p_ratio_target_comes_back_in_heads_never_below_zero():
    """Head sold learned relative to the herd (log1p ratio) returns to heads; a count is never negative."""
    task = TaskModel("head_sold", "quantile", booster=None, transform="log1p_ratio", base_index=1)  # type: ignore[arg-type]
    x = np.array([[0.0, 999.0], [0.0, 99.0], [0.0, 0.0]])
    values = np.array([np.log(0.01), 0.0, -5.0])  # 1 % of the herd, as many as the herd, far below zero
    np.testing.assert_allclose(task.untransform(values, x), [9.0, 99.0, 0.0])
