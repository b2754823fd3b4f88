"""The SQL engine Splink runs on: in-process DuckDB, or Spark when pyspark and Java are there."""

from __future__ import annotations

import shutil

BACKENDS = ("duckdb", "spark")


def database_api(backend: str):
    """A Splink database API for `backend`; a missing engine is an error saying what to install."""
    if backend == "duckdb":
        from splink import DuckDBAPI

        return DuckDBAPI()
    if backend == "spark":
        return _spark_api()
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


def _spark_api():
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise RuntimeError("--backend spark needs pyspark, which is not installed "
                           "(pip install pyspark; it also needs Java)") from err
    if shutil.which("java") is None:
        raise RuntimeError("--backend spark needs Java, and no `java` is on the PATH")
    from splink.backends.spark import SparkAPI

    # Splink's Spark backend checkpoints between steps; a local session is enough for a day.
    spark = SparkSession.builder.appName("counterfeit-inspector-cases").getOrCreate()
    return SparkAPI(spark_session=spark)
