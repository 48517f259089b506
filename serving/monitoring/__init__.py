"""Models in the world: forecasts kept, outcomes joined, live metrics, drift, and what to retrain. No HTTP.

- :mod:`serving.monitoring.forecasts`: the county's forecast rows of every family, as the served champion
  predicts them, written to the store's forecast log at month close (never on the request path).
- :mod:`serving.monitoring.outcomes`: once a target period's reports are in (a closed month), the realised
  value joins the forecast of the version that made it; carried (missing) reports are no outcome.
- :mod:`serving.monitoring.live`: live metrics per family, version and month with the training metric
  functions (``models.metrics``) and bootstrap intervals, beside the test metrics of that version.
- :mod:`serving.monitoring.drift`: the current month's inputs and predictions against the training reference
  the bundle carries (``models.reference``): PSI, KS and Wasserstein.
- :mod:`serving.monitoring.report`: all of it for ``GET /v1/monitoring``, the page and ``muzhang retrain``.
"""
