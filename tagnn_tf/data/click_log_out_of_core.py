"""`--format=clicks` with memory bounded by a partition of the log, not by the log (`--out_of_core`).

The same rules and the same output as `tagnn_tf.data.click_log` (the tests
check that the shards, `items.txt` and the report are equal), computed in
passes over files on disk:

1. **Partition.** The log is read in batches of `batch_rows` rows (polars'
   streaming engine, `collect_batches`); each batch is checked as the
   in-memory reader checks the whole log (`click_log.validated_clicks`: the
   error names the file line) and its rows are appended to one of
   `partitions` Parquet files by a hash of the session id, so every
   session's clicks are in one partition, in file order.
2. **Item counts.** Per partition: sessions shorter than
   `min_session_length` dropped, clicks per item counted; the counts are
   summed over partitions (a table of the catalogue's size).
3. **Sessions.** Per partition, the per-session rules (click order, rare
   items dropped, short sessions dropped again, the most recent
   `max_session_length` clicks kept), then one row per session (time, first
   file line, items) written sorted by time, and a count of sessions per hour.
4. **Split and number.** The split time (latest session time - `test_days`);
   then windows of consecutive hours holding at most `window_sessions`
   sessions: each window's sessions are read from every partition (row
   groups outside it skipped), sorted by (time, first line), items numbered
   on their first training click, and streamed into the session shards
   (`tagnn_tf.data.session_shards.ShardWriter`); test clicks on items unseen in
   training dropped, then test sessions left too short.

Peak memory: one batch, one partition (the log / `partitions`), one window
and the catalogue's vocabulary. The intermediate files go to `work_dir` and
are removed at the end.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from typing import Dict, List, Optional, Tuple

import numpy as np

from tagnn_tf.config import ClickLogConfig
from tagnn_tf.data import session_shards
from tagnn_tf.data.click_log import (REPORT_FILE, TINY_TEST_SHARE, _utc, check_time_format, scan_clicks,
                                     validated_clicks)
from tagnn_tf.data.dataset_folder import items_text, write_dataset_files
from tagnn_tf.errors import DataFileError, InputError

# Default sizes: ~100 MB of log per partition, batches of 2M rows, windows of 2M sessions.
BYTES_PER_PARTITION = 100 * 2**20
BATCH_ROWS = 2_000_000
WINDOW_SESSIONS = 2_000_000
_HOUR = 3600.0


@dataclasses.dataclass(frozen=True)
class OutOfCoreResult:
    """What `preprocess_clicks_out_of_core` wrote: the report and the folder."""

    report: Dict[str, object]
    folder: str


def default_partitions(path: str) -> int:
    size = os.path.getsize(path) * (4 if path.endswith((".parquet", ".gz")) else 1)  # compressed ~4x
    return int(min(max(math.ceil(size / BYTES_PER_PARTITION), 1), 1024))


def _partition(path: str, config: ClickLogConfig, work_dir: str, partitions: int, batch_rows: int,
               skip_malformed: bool) -> Tuple[List[str], int, int]:
    """Pass 1: (partition files, clicks read, malformed rows dropped)."""
    import polars as pl
    import pyarrow.parquet as pq

    frame, time_format = scan_clicks(path, config)
    files = [os.path.join(work_dir, f"clicks-{k:04d}.parquet") for k in range(partitions)]
    writers: Dict[int, pq.ParquetWriter] = {}
    read, malformed = 0, 0
    try:
        for batch in frame.collect_batches(chunk_size=batch_rows):
            read += batch.height
            clean, bad = validated_clicks(batch, path, config, time_format, skip_malformed)
            malformed += bad
            clean = clean.with_columns((pl.col("session").hash(seed=7) % partitions).alias("part"))
            for (k,), rows in clean.partition_by("part", as_dict=True, include_key=False).items():
                table = rows.to_arrow()
                if k not in writers:
                    writers[k] = pq.ParquetWriter(files[k], table.schema)
                writers[k].write_table(table)
    except pl.exceptions.PolarsError as e:
        raise DataFileError(f"{path}: cannot be read in batches ({str(e).splitlines()[0]}); a stray quote inside "
                            "a field? The in-memory reader (without --out_of_core) names such lines") from None
    finally:
        for w in writers.values():
            w.close()
    if read == 0:
        raise DataFileError(f"{path}: no clicks (a header and no rows)")
    return [f for k, f in enumerate(files) if k in writers], read, malformed


def _drop_short(frame, min_length: int):
    import polars as pl

    return frame.filter(pl.len().over("session") >= min_length)


def _sessions(frame) -> int:
    import polars as pl

    return frame.select(pl.col("session").n_unique()).item() if frame.height else 0


def preprocess_clicks_out_of_core(path: str, config: ClickLogConfig, folder: str, skip_malformed: bool = False,
                                  overwrite: bool = False, work_dir: str = "", partitions: int = 0,
                                  batch_rows: int = BATCH_ROWS, window_sessions: int = WINDOW_SESSIONS,
                                  shard_sessions: int = session_shards.DEFAULT_SHARD_SESSIONS,
                                  log: Optional = print) -> OutOfCoreResult:
    """Writes the dataset folder `folder` (session shards, `items.txt`, `preprocess_report.json`) from the
    click log at `path` in the passes of the module docstring.

    Raises:
      DataFileError / InputError: as `click_log.preprocess_clicks`.
    """
    import polars as pl

    check_time_format(config.time_format)
    if partitions < 0 or batch_rows < 1 or window_sessions < 1:
        raise InputError(f"partitions must be >= 0 (0 = from the file size), batch_rows and window_sessions >= 1. "
                         f"Received: partitions={partitions}, batch_rows={batch_rows}, "
                         f"window_sessions={window_sessions}")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise InputError(f"{folder} is a file, not a dataset folder")
    if not os.path.isfile(path):
        raise DataFileError(f"{path}: file not found")
    partitions = partitions or default_partitions(path)
    work = work_dir or os.path.join(os.path.dirname(os.path.abspath(folder)) or ".",
                                    f".{os.path.basename(folder)}-work-{os.getpid()}")
    os.makedirs(work, exist_ok=True)
    say = log or (lambda _: None)
    try:
        files, read, malformed = _partition(path, config, work, partitions, batch_rows, skip_malformed)
        say(f"{read} clicks read into {len(files)} partitions")
        dropped: Dict[str, int] = {"sessions_shorter_than_min_session_length": 0}

        # 2. Item counts over the sessions long enough.
        counts = []
        for f in files:
            part = pl.read_parquet(f, columns=["session", "item"])
            kept = _drop_short(part, config.min_session_length)
            dropped["sessions_shorter_than_min_session_length"] += _sessions(part) - _sessions(kept)
            counts.append(kept.group_by("item").agg(pl.len().alias("count")))
        counts = pl.concat(counts).group_by("item").agg(pl.col("count").sum())
        rare = counts.filter(pl.col("count") < config.min_item_count).select("item")
        dropped["items_below_min_item_count"] = rare.height
        dropped["clicks_on_those_items"] = int(counts.filter(pl.col("count") < config.min_item_count)
                                               .select(pl.col("count").sum()).item() or 0)
        del counts

        # 3. The per-session rules; sessions sorted by time per partition; sessions per hour.
        within = "order" if config.order_column else "time"
        later = {"sessions_shorter_than_min_session_length_after_item_filter": 0}
        if config.max_session_length:
            later.update(clicks_beyond_max_session_length=0, sessions_cut_to_max_session_length=0)
        session_files, hours, latest, surviving = [], [], None, 0
        for k, f in enumerate(files):
            df = pl.read_parquet(f).with_columns(
                pl.col("line").min().over("session").alias("first_line"),
                pl.col("time").sort_by("line").last().over("session").alias("session_time"))
            df = _drop_short(df.sort(["first_line", within, "line"]), config.min_session_length)
            df = df.join(rare, on="item", how="anti", maintain_order="left")
            before = _sessions(df)
            df = _drop_short(df, config.min_session_length)
            later["sessions_shorter_than_min_session_length_after_item_filter"] += before - _sessions(df)
            if config.max_session_length:
                from_end = pl.int_range(pl.len(), 0, -1).over("session")
                cut = from_end > config.max_session_length
                later["clicks_beyond_max_session_length"] += df.select(cut.sum()).item()
                later["sessions_cut_to_max_session_length"] += _sessions(df.filter(cut))
                df = df.filter(from_end <= config.max_session_length)
            if df.height == 0:
                continue
            surviving += df.height
            sessions = (df.group_by("session", maintain_order=True)
                        .agg(pl.col("session_time").first(), pl.col("first_line").first(), pl.col("item"))
                        .drop("session").sort(["session_time", "first_line"]))
            out = os.path.join(work, f"sessions-{k:04d}.parquet")
            sessions.write_parquet(out, row_group_size=50_000, statistics=True)
            session_files.append(out)
            hours.append(sessions.group_by((pl.col("session_time") // _HOUR).alias("hour")).agg(pl.len()))
            top = sessions.select(pl.col("session_time").max()).item()
            latest = top if latest is None else max(latest, top)
            os.remove(f)
        dropped.update(later)
        if surviving == 0:
            raise DataFileError(f"{path}: no session survives the rules (length >= {config.min_session_length}, "
                                f"items clicked >= {config.min_item_count} times): {dropped}")

        # 4. Split; windows of hours in time order; numbering and shards.
        split = latest - 86400.0 * config.test_days
        per_hour = pl.concat(hours).group_by("hour").agg(pl.col("len").sum()).sort("hour")
        windows, start, size = [], None, 0
        for hour, n in per_hour.iter_rows():
            if start is None:
                start, size = hour, 0
            if size and size + n > window_sessions:
                windows.append((start, hour))
                start, size = hour, 0
            size += n
        windows.append((start, per_hour["hour"][-1] + 1))
        say(f"{surviving} clicks in sessions kept; numbering them in {len(windows)} time windows")

        stage = session_shards.stage_folder(folder)
        writers = {p: session_shards.ShardWriter(stage, p, shard_sessions) for p in session_shards.PARTS}
        vocabulary = pl.DataFrame(schema={"item": pl.String, "id": pl.Int64})
        on_split = test_window = unseen = short_test = train_clicks = test_clicks = 0
        for lo, hi in windows:
            window = pl.concat([pl.scan_parquet(f).filter((pl.col("session_time") >= lo * _HOUR)
                                                          & (pl.col("session_time") < hi * _HOUR)).collect()
                                for f in session_files]).sort(["session_time", "first_line"])
            on_split += window.filter(pl.col("session_time") == split).height
            train = window.filter(pl.col("session_time") < split).with_row_index("s")
            clicks = train.select("s", "item").explode("item")
            new = (clicks.select(pl.col("item").unique(maintain_order=True))
                   .join(vocabulary, on="item", how="anti", maintain_order="left"))
            vocabulary = pl.concat([vocabulary, new.with_columns(
                pl.int_range(vocabulary.height + 1, vocabulary.height + 1 + new.height, dtype=pl.Int64).alias("id"))])
            if train.height:
                ids = clicks.join(vocabulary, on="item", maintain_order="left")["id"].to_numpy()
                lengths = train["item"].list.len().to_numpy()
                writers["train"].add(ids, _splits(lengths), train["session_time"].to_numpy())
                train_clicks += ids.size
            test = window.filter(pl.col("session_time") > split).with_row_index("s")
            if test.height:
                test_window += test.height
                clicks = test.select("s", "item").explode("item")
                known = clicks.join(vocabulary, on="item", maintain_order="left")
                unseen += clicks.height - known.height
                kept = known.filter(pl.len().over("s") >= config.min_session_length)
                short_test += known["s"].n_unique() - kept["s"].n_unique()
                lengths = kept.group_by("s", maintain_order=True).agg(pl.len())
                writers["test"].add(kept["id"].to_numpy(), _splits(lengths["len"].to_numpy()),
                                    test["session_time"].to_numpy()[lengths["s"].to_numpy()])
                test_clicks += kept.height
        written = {p: w.close() for p, w in writers.items()}
        num_train = sum(s.sessions for s in written["train"])
        num_test = sum(s.sessions for s in written["test"])
        dropped["sessions_on_the_split_time"] = on_split
        if num_train == 0:
            shutil.rmtree(stage, ignore_errors=True)
            raise DataFileError(f"{path}: no training session: every session is within test_days="
                                f"{config.test_days} of the last click")
        dropped["test_clicks_on_items_unseen_in_training"] = unseen
        dropped["test_sessions_shorter_than_min_session_length_after_that"] = short_test
        if num_test == 0:
            shutil.rmtree(stage, ignore_errors=True)
            raise DataFileError(
                f"{path}: no test session survives: {test_window} sessions end in the last test_days="
                f"{config.test_days} days (after {_utc(split)}); with their clicks on items unseen in training "
                f"dropped ({unseen}), none keeps min_session_length={config.min_session_length} clicks. Use a "
                "longer --test_days")
        warnings = []
        if num_test < TINY_TEST_SHARE * (num_train + num_test):
            warnings.append(f"the test window holds only {num_test} of {num_train + num_test} sessions "
                            f"({100.0 * num_test / (num_train + num_test):.2f}%): the last click is at {_utc(latest)}"
                            "; is a click dated far ahead, or --test_days too short?")
        report = {"input": os.path.basename(path), "clicks_read": read, "malformed_rows_skipped": malformed,
                  "dropped": dropped, "split_time_utc": _utc(split), "train_sessions": num_train,
                  "test_sessions": num_test, "items": vocabulary.height, "train_clicks": train_clicks,
                  "test_clicks": test_clicks, "warnings": warnings, "config": dataclasses.asdict(config)}
        manifest = session_shards.finish_shards(folder, stage, written, vocabulary.height)
        write_dataset_files(folder, {session_shards.MANIFEST: manifest,
                                     "items.txt": items_text(vocabulary["item"].to_list())}, overwrite)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    from tagnn_tf import run_directory

    run_directory.write_json_atomic(os.path.join(folder, REPORT_FILE), report)
    say(f"{read} clicks read; {num_train} training sessions, {num_test} test sessions, {vocabulary.height} items; "
        f"dropped: {dropped}")
    for warning in warnings:
        say(f"WARNING: {warning}")
    say(f"wrote {folder}")
    return OutOfCoreResult(report, folder)


def _splits(lengths: np.ndarray) -> np.ndarray:
    splits = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=splits[1:])
    return splits
