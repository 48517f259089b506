"""Where runs go: each Settings object's own store, however many were made in the process before it."""

from __future__ import annotations

from typing import Any

from training.tracking import configure_tracking


def test_settings_made_after_a_run_log_to_their_own_work_dir(make_settings: Any) -> None:
    configure_tracking(make_settings("first"))  # what every run_training does before logging

    second = make_settings("second")

    assert second.mlflow_tracking_uri is None
    assert second.tracking_uri() == f"sqlite:///{(second.work_dir / 'mlflow.db').resolve()}"
