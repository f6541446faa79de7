"""Any click log -> the dataset folder the trainer reads, with the item vocabulary.

The reference (SR-GNN) protocol with named columns and rules
(`tagnn_tf.config.ClickLogConfig`), computed column-wise with polars:

1. Read the session, item and time columns (ids kept as text, exactly as
   written; CSV/TSV with a header, optionally gzipped, or Parquet). Times are
   unix seconds, unix milliseconds or a strptime pattern (read in UTC).
2. Order each session's clicks by the order column when there is one (the
   time is then only a day, as Diginetica's `eventdate` beside `timeframe`),
   else by time; ties keep file order. A session's time is the time of its
   last row in the file (the reference's rule; for a log written in time
   order, its latest click).
3. Drop sessions shorter than `min_session_length`; count the clicks of each
   item; drop items clicked fewer than `min_item_count` times; drop sessions
   left shorter than `min_session_length`; keep the most recent
   `max_session_length` clicks of each session (default 200; 0 = all).
4. Split by time: test = sessions after `max time - test_days`, train =
   sessions before it (a session exactly on the split is in neither, as in
   the reference); both ordered by time, then by first appearance in the file.
5. Number items from 1 in training order (`items.txt`: line i is the raw id of
   item i); drop test clicks on items unseen in training, then test sessions
   shorter than `min_session_length`.

Writes the training and test sessions as session shards
(`tagnn_tf.data.session_shards`; or, with `output_format="pickles"`, the
SR-GNN files `all_train_seq.txt` and `test.txt`), `items.txt`, and
`preprocess_report.json` (what each rule dropped, and the configuration).
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import os
from typing import Dict, List, Optional

import numpy as np

from tagnn_tf.config import ClickLogConfig
from tagnn_tf.data import session_shards
from tagnn_tf.data.dataset_folder import items_text, session_files, write_dataset_files
from tagnn_tf.errors import DataFileError, InputError

REPORT_FILE = "preprocess_report.json"
_DELIMITERS = (",", ";", "\t", "|")


@dataclasses.dataclass
class ClickLogResult:
    """What `preprocess_clicks` produced."""

    train_sessions: List[List[int]]
    test_sessions: List[List[int]]
    items: List[str]  # items[i - 1] is the raw id of model item i
    report: Dict[str, object]
    train_times: Optional[np.ndarray] = None  # float64 seconds of each session (its last row's time)
    test_times: Optional[np.ndarray] = None


def _first_line(path: str) -> str:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as f:
            return f.readline().rstrip("\r\n")
    except (OSError, EOFError) as e:
        raise DataFileError(f"{path}: cannot be read ({e})") from None


def _header_fields(header: str, delimiter: str) -> List[str]:
    return next(csv.reader([header], delimiter=delimiter), [])  # quoted names included


def detect_delimiter(header: str, columns: List[str]) -> str:
    """The delimiter among , ; tab | that splits `header` into most of the named columns
    (then into most fields)."""
    return max(_DELIMITERS, key=lambda d: (sum(c in _header_fields(header, d) for c in columns),
                                           len(_header_fields(header, d))))


def _click_columns(config: ClickLogConfig) -> List[str]:
    columns = [config.session_column, config.item_column, config.time_column]
    return columns + [config.order_column] if config.order_column else columns


def _parquet_as_text(frame, path: str, config: ClickLogConfig, columns: List[str]):
    """A (lazy) Parquet frame's needed columns as text: (frame, time format). A native timestamp or date
    time column becomes unix seconds (naive timestamps read as UTC)."""
    import polars as pl

    schema = pl.read_parquet_schema(path)
    missing = [c for c in columns if c not in schema]
    if missing:
        raise DataFileError(f"{path}: no column {missing[0]!r}; columns: {list(schema)}")
    frame = frame.select(columns)
    time_format = config.time_format
    time_type = schema[config.time_column]
    if time_type in (pl.Datetime, pl.Date):
        native = pl.col(config.time_column)
        seconds = (native.dt.epoch("us").cast(pl.Float64) / 1e6 if time_type == pl.Datetime
                   else native.cast(pl.Int64).cast(pl.Float64) * 86400.0)
        frame = frame.with_columns(seconds.alias(config.time_column))
        time_format = "unix_seconds"
    return frame.with_columns(pl.all().cast(pl.String)), time_format


def _csv_layout(path: str, config: ClickLogConfig, columns: List[str]):
    """(delimiter, header fields) of a CSV log, its header checked for the needed columns."""
    header_line = _first_line(path)
    if not header_line:
        raise DataFileError(f"{path}: empty file (no header line)")
    delimiter = config.delimiter or detect_delimiter(header_line, columns)
    header = _header_fields(header_line, delimiter)
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataFileError(f"{path}:1: no column {missing[0]!r}; header columns: {header} "
                            f"(delimiter {delimiter!r})")
    repeated = [c for c in columns if header.count(c) > 1]
    if repeated:
        fields = [k + 1 for k, name in enumerate(header) if name == repeated[0]]
        raise DataFileError(f"{path}:1: the header names column {repeated[0]!r} more than once (fields "
                            f"{fields}); rename the copies")
    return delimiter, header


def scan_clicks(path: str, config: ClickLogConfig):
    """The log's needed columns as a lazy polars frame of text with `line` (as `read_clicks`), for reading
    in batches: (frame, time format). CSV (plain or gzipped) or Parquet."""
    import polars as pl

    if not os.path.isfile(path):
        raise DataFileError(f"{path}: file not found")
    columns = _click_columns(config)
    if path.endswith(".parquet"):
        frame, time_format = _parquet_as_text(pl.scan_parquet(path), path, config, columns)
        return frame.with_row_index("line", offset=1), time_format
    delimiter, _ = _csv_layout(path, config, columns)
    frame = pl.scan_csv(path, separator=delimiter, infer_schema=False, quote_char='"', encoding="utf8-lossy")
    return frame.select(columns).with_row_index("line", offset=2), config.time_format


def read_clicks(path: str, config: ClickLogConfig, skip_malformed: bool = False):
    """The log's needed columns as a polars DataFrame of text, with `line` (1-based file line).

    A native Parquet timestamp or date column is returned as unix seconds
    (text), whatever `time_format` says (naive timestamps are read as UTC).
    A CSV that polars cannot split (e.g. a stray `"` inside an unquoted
    field) is read again with Python's csv module, which names the line of a
    row with the wrong number of fields (skipped with `skip_malformed`).
    Returns (frame, rows skipped as malformed, the time format to parse
    the time column with: `time_format`, or `unix_seconds` for a native one).
    """
    import polars as pl

    if not os.path.isfile(path):
        raise DataFileError(f"{path}: file not found")
    columns = _click_columns(config)
    skipped = 0
    time_format = config.time_format
    try:
        if path.endswith(".parquet"):
            df, time_format = _parquet_as_text(pl.scan_parquet(path), path, config, columns)
            df = df.collect()
            first_line = 1  # no header line: `line` is the row number
        else:
            delimiter, header = _csv_layout(path, config, columns)
            try:
                df = pl.read_csv(path, separator=delimiter, columns=columns, infer_schema=False, quote_char='"',
                                 encoding="utf8-lossy")
                first_line = 2
            except pl.exceptions.ComputeError:
                df, skipped = _read_csv_rows(path, delimiter, header, columns, skip_malformed)
                first_line = None
    except pl.exceptions.PolarsError as e:
        raise DataFileError(f"{path}: cannot be read as {'Parquet' if path.endswith('.parquet') else 'CSV'} "
                            f"({str(e).splitlines()[0]})") from None
    except (OSError, EOFError, UnicodeDecodeError) as e:
        hint = " (a truncated or damaged compressed file?)" if path.endswith(".gz") else ""
        raise DataFileError(f"{path}: cannot be read: {e}{hint}") from None
    if df.height == 0:
        raise DataFileError(f"{path}: no clicks (a header and no rows)")
    if first_line is not None:
        df = df.with_row_index("line", offset=first_line)
    return df, skipped, time_format


def _read_csv_rows(path: str, delimiter: str, header: List[str], columns: List[str], skip_malformed: bool):
    """The CSV read with Python's csv module (slower than polars, but it takes a stray quote inside a
    field as a character): (frame of `columns` as text with `line`, rows skipped as malformed)."""
    import polars as pl

    opener = gzip.open if path.endswith(".gz") else open
    index = [header.index(c) for c in columns]
    values: List[List[str]] = [[] for _ in columns]
    lines: List[int] = []
    skipped = 0
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        next(reader, None)
        start = reader.line_num + 1
        for row in reader:
            if len(row) != len(header):
                if not skip_malformed:
                    raise DataFileError(f"{path}:{start}: {len(row)} fields where the header has {len(header)} "
                                        f"(an unquoted delimiter or quote inside a field?); fix the line or pass "
                                        f"--skip_malformed")
                skipped += 1
            else:
                for column, k in zip(values, index):
                    column.append(row[k])
                lines.append(start)
            start = reader.line_num + 1
    frame = pl.DataFrame({name: pl.Series(name, column, dtype=pl.String) for name, column in zip(columns, values)})
    return frame.with_columns(pl.Series("line", lines, dtype=pl.UInt32)).select(["line"] + columns), skipped


# Times must fall in [1970, 2200) (unix seconds): a millisecond log read as seconds lands in year ~47,000.
MAX_SECONDS = 7258118400.0
# A test window with fewer sessions than this share of all is reported (`report["warnings"]`).
TINY_TEST_SHARE = 0.01


def check_time_format(time_format: str) -> None:
    """Refuses a strptime pattern polars cannot use (e.g. an hour without minutes)."""
    import polars as pl

    if time_format in ("unix_seconds", "unix_milliseconds"):
        return
    if "%" not in time_format:
        raise InputError(f"--time_format must be unix_seconds, unix_milliseconds or a strptime pattern such as "
                         f"'%Y-%m-%d %H:%M:%S'. Received: {time_format!r}")
    try:
        pl.DataFrame({"t": ["x"]}).select(pl.col("t").str.strptime(pl.Datetime("us", "UTC"), time_format,
                                                                     strict=False))
    except pl.exceptions.PolarsError as e:
        raise InputError(f"--time_format={time_format!r} is not a pattern polars can parse with: "
                         f"{str(e).splitlines()[0]}") from None


def _seconds(df, column: str, time_format: str):
    """`column` parsed into float seconds (UTC); null where it does not parse."""
    import polars as pl

    text = pl.col(column).str.strip_chars()
    if time_format == "unix_seconds":
        return text.cast(pl.Float64, strict=False)
    if time_format == "unix_milliseconds":
        return text.cast(pl.Float64, strict=False) / 1000.0
    parsed = text.str.strptime(pl.Datetime("us", "UTC"), time_format, strict=False)
    return parsed.dt.epoch("us").cast(pl.Float64) / 1e6


def _bad_row(path: str, df, mask, what: str, columns: Dict[str, str]):
    """The error naming the first row where `mask` holds: file, line and the row's values as written."""
    first = df.filter(mask).row(0, named=True)
    values = {name: first[column] for name, column in columns.items()}
    return DataFileError(f"{path}:{first['line']}: {what}: {values}")


def validated_clicks(df, path: str, config: ClickLogConfig, time_format: str, skip_malformed: bool):
    """Rows of `read_clicks` as `line, session, item, time (float seconds), order (float)`, checked.

    Returns (frame, malformed rows dropped). Raises DataFileError naming the
    first bad row's line and values (unless `skip_malformed`).
    """
    import polars as pl

    s, i, t = config.session_column, config.item_column, config.time_column
    df = df.select(pl.col("line"), pl.col(s).alias("session"), pl.col(i).alias("item"),
                   _seconds(df, t, time_format).alias("time"),
                   (pl.col(config.order_column).str.strip_chars().cast(pl.Float64, strict=False)
                    if config.order_column else pl.lit(0.0)).alias("order"),
                   pl.col(t).alias("time_text"),
                   (pl.col(config.order_column) if config.order_column else pl.lit("")).alias("order_text"))
    checks = [((pl.col("session").str.strip_chars() == "") | pl.col("session").is_null(), f"empty {s!r}"),
              ((pl.col("item").str.strip_chars() == "") | pl.col("item").is_null(), f"empty {i!r}"),
              (pl.col("item").str.contains("[\r\n]"), f"{i!r} holds a line break (items.txt has one id per line)"),
              (pl.col("time").is_null() | pl.col("time").is_nan(),
               f"{t!r} does not parse as {time_format!r}"),
              (~pl.col("time").is_between(0.0, MAX_SECONDS, closed="left"),
               f"{t!r} is out of range (before 1970 or from 2200 on) read as {time_format!r}"
               + ("; are the times unix milliseconds (--time_format=unix_milliseconds)?"
                  if time_format == "unix_seconds" else ""))]
    if config.order_column:
        checks.append((pl.col("order").is_null() | pl.col("order").is_nan(),
                       f"{config.order_column!r} is not a number"))
    written = {s: "session", i: "item", t: "time_text"}
    if config.order_column:
        written[config.order_column] = "order_text"
    malformed = 0
    for mask, what in checks:
        bad = df.select(mask.sum()).item()
        if bad and not skip_malformed:
            raise _bad_row(path, df, mask, what, written)
        if bad:
            malformed += bad
            df = df.filter(~mask)
    return df.drop("time_text", "order_text"), malformed


def preprocess_clicks(path: str, config: ClickLogConfig, skip_malformed: bool = False) -> ClickLogResult:
    """Runs the protocol above on the click log at `path` (see the module docstring).

    Raises:
      DataFileError: a missing file or column, an empty file, an empty id or
        an unparsable time or order value (naming the file, line and value;
        with `skip_malformed` such rows are dropped and counted instead), or a
        log where no session survives the rules.
    """
    import polars as pl

    check_time_format(config.time_format)
    df, malformed, time_format = read_clicks(path, config, skip_malformed)
    report: Dict[str, object] = {"input": os.path.basename(path), "clicks_read": df.height + malformed}
    df, bad = validated_clicks(df, path, config, time_format, skip_malformed)
    malformed += bad
    report["malformed_rows_skipped"] = malformed

    # 2. Clicks in session order; sessions in order of first appearance.
    within = "order" if config.order_column else "time"
    df = df.with_columns(
        pl.col("line").min().over("session").alias("first_line"),
        pl.col("time").sort_by("line").last().over("session").alias("session_time"))
    df = df.sort(["first_line", within, "line"])
    dropped: Dict[str, int] = {}

    def drop_short(frame, rule):
        length = pl.len().over("session")
        kept = frame.filter(length >= config.min_session_length)
        dropped[rule] = frame.select(pl.col("session").n_unique()).item() - kept.select(
            pl.col("session").n_unique()).item()
        return kept

    # 3. Sessions, items, sessions again; then the most recent clicks.
    df = drop_short(df, "sessions_shorter_than_min_session_length")
    counts = df.group_by("item").agg(pl.len().alias("count"))
    rare = counts.filter(pl.col("count") < config.min_item_count)
    dropped["items_below_min_item_count"] = rare.height
    dropped["clicks_on_those_items"] = int(rare.select(pl.col("count").sum()).item() or 0)
    df = df.join(rare.select("item"), on="item", how="anti", maintain_order="left")
    df = drop_short(df, "sessions_shorter_than_min_session_length_after_item_filter")
    if config.max_session_length:
        from_end = pl.int_range(pl.len(), 0, -1).over("session")
        cut = from_end > config.max_session_length
        dropped["clicks_beyond_max_session_length"] = df.select(cut.sum()).item()
        dropped["sessions_cut_to_max_session_length"] = df.filter(cut).select(pl.col("session").n_unique()).item()
        df = df.filter(from_end <= config.max_session_length)
    if df.height == 0:
        raise DataFileError(f"{path}: no session survives the rules (length >= {config.min_session_length}, "
                            f"items clicked >= {config.min_item_count} times): {dropped}")

    # 4. Split by the sessions' times.
    sessions = df.group_by("session", maintain_order=True).agg(pl.col("session_time").first())
    split = sessions.select(pl.col("session_time").max()).item() - 86400.0 * config.test_days
    dropped["sessions_on_the_split_time"] = sessions.filter(pl.col("session_time") == split).height
    df = df.sort(["session_time", "first_line", within, "line"])
    train = df.filter(pl.col("session_time") < split)
    test = df.filter(pl.col("session_time") > split)
    if train.height == 0:
        raise DataFileError(f"{path}: no training session: every session is within test_days={config.test_days} "
                            "of the last click")

    # 5. Items numbered in training order; test keeps known items.
    items = train.select(pl.col("item").unique(maintain_order=True)).to_series()
    vocabulary = pl.DataFrame({"item": items, "id": pl.int_range(1, items.len() + 1, eager=True)})
    train = train.join(vocabulary, on="item", maintain_order="left")
    test_known = test.join(vocabulary, on="item", maintain_order="left")
    dropped["test_clicks_on_items_unseen_in_training"] = test.height - test_known.height
    test_kept = drop_short(test_known, "test_sessions_shorter_than_min_session_length_after_that")

    def session_lists(frame):
        sessions = frame.group_by("session", maintain_order=True).agg(pl.col("id"), pl.col("session_time").first())
        return sessions.get_column("id").to_list(), sessions.get_column("session_time").to_numpy()

    (train_sessions, train_times), (test_sessions, test_times) = session_lists(train), session_lists(test_kept)
    test_window = test.select(pl.col("session").n_unique()).item()
    if not test_sessions:
        raise DataFileError(
            f"{path}: no test session survives: {test_window} sessions end in the last test_days="
            f"{config.test_days} days (after {_utc(split)}); with their clicks on items unseen in training "
            f"dropped ({dropped['test_clicks_on_items_unseen_in_training']}), none keeps min_session_length="
            f"{config.min_session_length} clicks. Use a longer --test_days")
    warnings = []
    if len(test_sessions) < TINY_TEST_SHARE * (len(train_sessions) + len(test_sessions)):
        latest = df.select(pl.col("time").max()).item()
        warnings.append(f"the test window holds only {len(test_sessions)} of {len(train_sessions) + len(test_sessions)}"
                        f" sessions ({100.0 * len(test_sessions) / (len(train_sessions) + len(test_sessions)):.2f}%): "
                        f"the last click is at {_utc(latest)}; is a click dated far ahead, or --test_days too short?")
    report.update(dropped=dropped, split_time_utc=_utc(split), train_sessions=len(train_sessions),
                  test_sessions=len(test_sessions), items=items.len(), train_clicks=train.height,
                  test_clicks=test_kept.height, warnings=warnings, config=dataclasses.asdict(config))
    return ClickLogResult(train_sessions, test_sessions, items.to_list(), report, train_times, test_times)


def _utc(seconds: float) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat()


def write_dataset(result: ClickLogResult, folder: str, overwrite: bool = False, output_format: str = "shards",
                  shard_sessions: int = session_shards.DEFAULT_SHARD_SESSIONS) -> None:
    """The sessions (`output_format`: session shards, or the SR-GNN pickles `all_train_seq.txt` and
    `test.txt`), `items.txt` and `preprocess_report.json` in `folder`, each atomically
    (`dataset_folder.write_dataset_files`: another dataset there is refused unless `overwrite`)."""
    from tagnn_tf import run_directory

    files = session_files(folder, result.train_sessions, result.test_sessions, output_format, shard_sessions,
                          num_items=len(result.items), times=(result.train_times, result.test_times))
    write_dataset_files(folder, {**files, "items.txt": items_text(result.items)}, overwrite)
    run_directory.write_json_atomic(os.path.join(folder, REPORT_FILE), result.report)


def run_clicks(path: str, config: ClickLogConfig, output_dir: str, dataset: str, skip_malformed: bool = False,
               log: Optional = print, overwrite: bool = False, output_format: str = "shards",
               shard_sessions: int = session_shards.DEFAULT_SHARD_SESSIONS) -> ClickLogResult:
    """Preprocesses `path` into `<output_dir>/<dataset>/` (`write_dataset`)."""
    result = preprocess_clicks(path, config, skip_malformed)
    folder = os.path.join(output_dir, dataset)
    write_dataset(result, folder, overwrite, output_format, shard_sessions)
    if log:
        r = result.report
        log(f"{r['clicks_read']} clicks read; {r['train_sessions']} training sessions, {r['test_sessions']} test "
            f"sessions, {r['items']} items; dropped: {r['dropped']}")
        for warning in r["warnings"]:
            log(f"WARNING: {warning}")
        log(f"wrote {folder}")
    return result
