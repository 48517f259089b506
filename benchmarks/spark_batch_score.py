"""Batch-score the county's dispute feature rows with the registered champion on Spark (optional path).

Province-scale scoring (every grid area of every county, every month) does not go through the API: Spark
reads the feature rows and ``mlflow.pyfunc.spark_udf`` runs the champion on every executor. Here Spark
runs locally; on a cluster only the session's master changes. Needs ``pip install pyspark`` (about 490 MB,
not a Muzhang dependency) and Java 17.

Usage::

    .venv/bin/python benchmarks/spark_batch_score.py                  # champion of the configured store
    .venv/bin/python benchmarks/spark_batch_score.py --copies 20      # 20x the county: a small province
    .venv/bin/python benchmarks/spark_batch_score.py --out scores/    # also write the scores as Parquet

The store is the one the settings point at (``MLFLOW_TRACKING_URI``, or ``MUZHANG_WORK_DIR``'s SQLite
store); the county is ``--data`` (default: the shipped sample). Prints start-up time, scoring time and
rows/s, and checks a sample of Spark's probabilities against the model loaded in this process. Exit code
0 on success, 1 if the check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

FAMILY = "dispute"
OUTPUT = "p_any_dispute"  # the champion's signature: one probability column
KEYS = ["grid_id", "month"]
CHECK_ROWS = 2000
TOLERANCE = 1e-9


def spark_session(cores: str) -> Any:
    """A local Spark bound to the loopback interface, without its web UI, using this Python for workers."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("muzhang-batch-score")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def write_feature_rows(data_dir: Path, path: Path) -> list[str]:
    """The county's dispute rows (keys + model features) as Parquet, as a feature job would leave them.

    The builders emit float64 numerics and string categories: the types the model's signature declares.
    """
    from features import build_features, load_county

    fs = build_features(FAMILY, load_county(data_dir))
    fs.frame[KEYS + fs.features].to_parquet(path, index=False)
    return list(fs.features)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", default=f"models:/muzhang-{FAMILY}@champion")
    parser.add_argument("--data", type=Path, default=None, help="County directory (default: the shipped sample).")
    parser.add_argument("--copies", type=int, default=1, help="Score the county this many times (province scale).")
    parser.add_argument("--cores", default="*", help="Local Spark cores (default: all).")
    parser.add_argument("--out", type=Path, default=None, help="Write grid_id, month, copy, probability as Parquet.")
    args = parser.parse_args(argv)

    import mlflow
    import pandas as pd

    from muzhang.settings import get_settings
    from training.tracking import point_mlflow_at

    settings = get_settings()
    point_mlflow_at(settings.tracking_uri())
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    warnings.filterwarnings("ignore", message=".*pandas >= 3.0.0.*", category=FutureWarning)

    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "dispute_features.parquet"
        features = write_feature_rows(Path(args.data or settings.data_dir), source)

        start = time.perf_counter()
        spark = spark_session(args.cores)
        from pyspark.sql import functions as F

        rows = spark.read.parquet(str(source)).cache()
        county_rows = rows.count()
        if args.copies > 1:
            rows = rows.crossJoin(spark.range(args.copies).withColumnRenamed("id", "copy"))
        else:
            rows = rows.withColumn("copy", F.lit(0).cast("long"))
        # env_manager="local": executors use this environment (on a cluster: an image with Muzhang's requirements).
        predict = mlflow.pyfunc.spark_udf(spark, args.model_uri, env_manager="local")
        scored = rows.select(*KEYS, "copy", predict(*[F.col(f) for f in features]).alias(OUTPUT))
        startup = time.perf_counter() - start
        print(f"{county_rows:,} dispute rows x {len(features)} features; model {args.model_uri}", file=sys.stderr)

        start = time.perf_counter()
        target = str(args.out or Path(tmp) / "scores")
        scored.write.mode("overwrite").parquet(target)
        seconds = time.perf_counter() - start
        written = spark.read.parquet(target)
        n = written.count()
        sample = written.filter(F.col("copy") == 0).limit(CHECK_ROWS).toPandas()
        spark.stop()

        frame = pd.read_parquet(source)
    sample["month"] = pd.to_datetime(sample["month"]).astype(frame["month"].dtype)
    model = mlflow.pyfunc.load_model(args.model_uri)
    expected = frame.merge(sample[[*KEYS, OUTPUT]], on=KEYS)
    local = model.predict(expected[features])[OUTPUT].to_numpy()
    worst = float(abs(local - expected[OUTPUT].to_numpy()).max())

    print(f"spark start-up + model load: {startup:.1f} s (session, cached rows, UDF)")
    print(f"scored {n:,} rows in {seconds:.1f} s: {n / seconds:,.0f} rows/s on local[{args.cores}]")
    print(f"check: {len(expected):,} rows against the model in this process, max |diff| = {worst:.2g}")
    return 0 if len(expected) and worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
