"""The SQL engine Splink runs on: in-process DuckDB, or Spark when pyspark and Java are there."""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import tempfile

BACKENDS = ("duckdb", "spark")

# A day's parcels fit a local session on two cores. Splink sends a few hundred small queries
# (each EM iteration is one, with that iteration's m and u written into the SQL), so the run is
# bound by what each query costs to start, not by rows; the settings below cut that cost.
SPARK_MASTER = "local[2]"
SPARK_CONF = {
    # Spark's 200 shuffle partitions would be 200 tasks per step for a few thousand rows; each
    # task carries the step's whole plan, so even a second one per step costs more than it
    # divides. Scans of the input still use both cores.
    "spark.sql.shuffle.partitions": "1",
    # No query is ever repeated, so code generated for one is never reused: compiling it took
    # more than half the run, interpreting a day's rows takes far less.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    # Re-planning after each stage pays off on skewed big joins, not on a day's pairs.
    "spark.sql.adaptive.enabled": "false",
    # Each query's plan is printed for listeners that the UI, which is off, would show.
    "spark.sql.maxPlanStringLength": "2000",
    # Splink writes each step to parquet and reads it straight back, once: compressing it and
    # marking it done are work no one uses.
    "spark.sql.parquet.compression.codec": "uncompressed",
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    # Dispatch times are compared as instants; a local zone would bend a difference that
    # crosses a daylight-saving change.
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # A machine whose host name does not resolve still reaches its own driver.
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
# The JVM lives for one day's run: the optimising JIT compiler and G1's helper threads cost
# more CPU than they would ever win back in it.
SPARK_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# Spark's start-up notices and per-stage INFO lines would bury the day's progress and problems.
SPARK_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{1}: %m%n
"""


def database_api(backend: str):
    """A Splink database API for `backend`; a missing engine is an error saying what to install."""
    if backend == "duckdb":
        from splink import DuckDBAPI

        return DuckDBAPI()
    if backend == "spark":
        return _spark_api()
    raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")


def input_table(frame, api):
    """`frame` as the table `api` reads: DuckDB takes the pandas frame as it is; Spark gets
    its own DataFrame with the column types spelt out (`spark_frame`)."""
    if api.sql_dialect.sql_dialect_str == "spark":
        return spark_frame(frame, api.spark)
    return frame


def spark_missing() -> str | None:
    """Why the spark backend cannot run here (pyspark or Java missing), or None if it can."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'counterfeit-inspector[spark]')"
    if _java() is None:
        return ("no `java` on the PATH nor under JAVA_HOME (install a Java 17 runtime, "
                "e.g. Debian's openjdk-17-jre-headless)")
    return None


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def _spark_api():
    missing = spark_missing()
    if missing:
        raise RuntimeError(f"the spark backend needs pyspark and Java: {missing}")
    from splink.backends.spark import SparkAPI

    return SparkAPI(spark_session=spark_session())


def spark_session():
    """The process's Spark session: one already started (by spark-submit, a notebook) is used
    as it is, and must have Splink's jar (`similarity_jar_location()`) on `spark.jars`; else a
    quiet local one is started, with that jar."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        spark = _local_session(SparkSession)
    # Splink writes each step's table under the checkpoint folder to cut Spark's lineage.
    context = spark.sparkContext
    if context._jsc.sc().getCheckpointDir().isEmpty():
        context.setCheckpointDir(_scratch("cases-spark-checkpoints-"))
    return spark


def _local_session(session_class):
    from splink.backends.spark import similarity_jar_location

    logs = os.path.join(_scratch("cases-spark-conf-"), "log4j2.properties")
    with open(logs, "w") as out:
        out.write(SPARK_LOG4J2)
    # Spark warns at start when the host name resolves to loopback unless told to stay there.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = (session_class.builder.master(SPARK_MASTER).appName("counterfeit-inspector-cases")
               # Jaro-Winkler (sender names) is a Scala function in Splink's jar, not Spark SQL.
               .config("spark.jars", similarity_jar_location())
               .config("spark.driver.extraJavaOptions",
                       f"{SPARK_JAVA_OPTIONS} -Dlog4j2.configurationFile=file:{logs}"))
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as err:  # pyspark raises its own error types when the JVM does not start
        raise RuntimeError(f"the spark backend could not start a local Spark session with "
                           f"Java at {_java()}: {err}") from err
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _scratch(prefix: str) -> str:
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def spark_frame(frame, spark):
    """The linking frame as a Spark DataFrame with its schema spelt out: text, lists of text,
    timestamps. Spark's inference from pandas reads a datetime64 column as an empty struct
    (which no step can then write) and cannot type a column that is null in every row."""
    import pandas as pd
    from pyspark.sql.types import ArrayType, StringType, StructField, StructType, TimestampType

    fields, columns = [], []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            fields.append(StructField(name, TimestampType()))
            # Zone-aware, so pyspark keeps the instant instead of reading a naive time in the
            # machine's zone; DuckDB gets the same instants as naive UTC.
            times = pd.to_datetime(column, utc=True)
            columns.append([None if pd.isna(t) else t.to_pydatetime() for t in times])
        elif any(isinstance(v, list | tuple) for v in column if v is not None):
            fields.append(StructField(name, ArrayType(StringType())))
            columns.append([None if v is None else [str(x) for x in v] for v in column])
        else:
            fields.append(StructField(name, StringType()))
            columns.append([None if _missing(v) else str(v) for v in column])
    rows = list(zip(*columns, strict=True))
    # Held in the JVM once: otherwise every query that reads the input starts a Python worker
    # to unpickle the rows again.
    return spark.createDataFrame(rows, StructType(fields)).localCheckpoint(eager=True)


def _missing(value) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, list | tuple) and bool(pd.isna(value)))
