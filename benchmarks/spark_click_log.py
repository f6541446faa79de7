"""The click-log rules (`tagnn_tf.data.click_log`) as a PySpark job: the Spark side of the engine choice.

Not part of the library: `benchmarks.click_log_out_of_core --spark_up_to=N` runs
it in `.venv-spark` (`requirements-spark.txt`; Spark needs a JVM, Java 17 here)
beside the Beam pipeline on the same log, and compares its sessions and items
with the one-machine output, so the two engines are timed doing the same,
checked work. Only what the benchmark's logs need is here: a Parquet or CSV log
with unix-second times, no order column, no malformed rows (a bad time fails the
job), and the output is plain Parquet (one row per session, in session order:
its item numbers and time) rather than session shards with a manifest.

  .venv-spark/bin/python benchmarks/spark_click_log.py LOG OUT_DIR CONFIG_JSON

Steps (Spark SQL, local[*] here):

1. Read the three columns; each row's position in the file is
   `monotonically_increasing_id()` (one file: partitions in file order).
2. `groupBy(session)`: first position, time of the last row in the file
   (`max_by`), the clicks as a sorted array of (time, position, item);
   sessions shorter than `min_session_length` dropped.
3. Clicks exploded with their index; item counts; rare items removed with
   a broadcast anti-join; sessions regrouped, too short ones dropped, the
   last `max_session_length` clicks kept.
4. Split at the latest session time minus `test_days`.
5. Each item's first training appearance `min((session time, first
   position, index))`, sorted and numbered (`zipWithIndex`); clicks joined
   to the numbers (test clicks on unseen items drop out), regrouped, short
   test sessions dropped.
6. Each part sorted by (time, first position) and written as Parquet.

Prints `RESULT{...}` with the counts (sessions, items) on stdout.
"""

import json
import sys
import time


def run(path: str, out: str, config: dict) -> dict:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (SparkSession.builder.master("local[*]").appName("tagnn-click-log")
             .config("spark.driver.memory", config.get("driver_memory", "8g"))
             .config("spark.sql.shuffle.partitions", str(config.get("shuffle_partitions", 8)))
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    s, i, t = config["session_column"], config["item_column"], config["time_column"]
    reader = spark.read.parquet(path) if path.endswith(".parquet") else spark.read.option("header", True).csv(path)
    clicks = reader.select(F.col(s).cast("string").alias("session"), F.col(i).cast("string").alias("item"),
                           F.col(t).cast("double").alias("time")).withColumn("line", F.monotonically_increasing_id())
    bad = clicks.filter(F.col("time").isNull() | F.isnan("time")).limit(1).collect()
    if bad:
        raise ValueError(f"{path}: a time that does not parse as unix seconds: {bad[0].asDict()}")
    min_length, min_count = config["min_session_length"], config["min_item_count"]

    # 2. Sessions.
    sessions = (clicks.groupBy("session")
                .agg(F.min("line").alias("first_line"), F.max_by("time", "line").alias("session_time"),
                     F.sort_array(F.collect_list(F.struct("time", "line", "item"))).alias("clicks"))
                .filter(F.size("clicks") >= min_length))
    # 3. Items.
    exploded = sessions.select("session", "first_line", "session_time",
                               F.posexplode(F.col("clicks.item")).alias("position", "item"))
    counts = exploded.groupBy("item").count()
    rare = counts.filter(F.col("count") < min_count).select("item")
    kept = exploded.join(F.broadcast(rare), "item", "left_anti")
    sessions = (kept.groupBy("session", "first_line", "session_time")
                .agg(F.sort_array(F.collect_list(F.struct("position", "item"))).alias("clicks"))
                .filter(F.size("clicks") >= min_length))
    if config.get("max_session_length"):
        n = config["max_session_length"]
        sessions = sessions.withColumn(
            "clicks", F.when(F.size("clicks") > n, F.slice("clicks", -n, n)).otherwise(F.col("clicks")))
    sessions = sessions.cache()
    # 4. Split.
    latest = sessions.agg(F.max("session_time")).collect()[0][0]
    split = latest - 86400.0 * config["test_days"]
    train = sessions.filter(F.col("session_time") < split)
    test = sessions.filter(F.col("session_time") > split)
    # 5. Numbering by first training appearance.
    train_clicks = train.select("session", "first_line", "session_time", F.explode("clicks").alias("c")).select(
        "session", "first_line", "session_time", F.col("c.position").alias("position"), F.col("c.item").alias("item"))
    first = train_clicks.groupBy("item").agg(F.min(F.struct("session_time", "first_line", "position")).alias("key"))
    ordered = first.orderBy("key").select("item").rdd.zipWithIndex().map(lambda r: (r[0][0], r[1] + 1))
    vocabulary = spark.createDataFrame(ordered, "item string, id long").cache()
    num_items = vocabulary.count()

    def numbered(part, min_clicks):
        rows = part.select("session", "first_line", "session_time", F.explode("clicks").alias("c")).select(
            "session", "first_line", "session_time", F.col("c.position").alias("position"),
            F.col("c.item").alias("item"))
        rows = rows.join(F.broadcast(vocabulary), "item")
        grouped = (rows.groupBy("session", "first_line", "session_time")
                   .agg(F.sort_array(F.collect_list(F.struct("position", "id"))).alias("c"))
                   .filter(F.size("c") >= min_clicks))
        return grouped.orderBy("session_time", "first_line").select(F.col("c.id").alias("items"),
                                                                     F.col("session_time").alias("time"))

    counts_out = {}
    for name, part in (("train", train), ("test", test)):
        frame = numbered(part, 1 if name == "train" else min_length)
        frame.write.mode("overwrite").parquet(f"{out}/{name}")
        counts_out[f"{name}_sessions"] = spark.read.parquet(f"{out}/{name}").count()
    vocabulary.orderBy("id").coalesce(1).write.mode("overwrite").parquet(f"{out}/items")
    spark.stop()
    return {**counts_out, "items": num_items}


if __name__ == "__main__":
    start = time.perf_counter()
    result = run(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
    result["seconds"] = round(time.perf_counter() - start, 1)
    print("RESULT" + json.dumps(result), flush=True)
