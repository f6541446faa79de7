"""`--format=clicks` on Apache Beam: the click-log rules as a pipeline for Dataflow, Flink or Spark runners.

The rules and the output are `tagnn_tf.data.click_log`'s (the tests compare
the sessions, `items.txt` and the report with the one-machine output), as
Beam transforms:

1. **Read.** The log (plain CSV with a header, or Parquet) is cut into byte
   ranges (CSV) or row groups (Parquet) read in parallel; each row carries
   its position in the file (the byte offset of its line, or row group and
   row), which orders clicks as the file's lines do. Rows are checked as the
   one-machine reader checks them; a bad row fails the pipeline naming the
   file, the byte offset and the values, or with `skip_malformed` is counted.
2. **Sessions.** `GroupByKey` on the session id: clicks ordered by the order
   column (else time), ties in file order; the session's time is its last
   row's; sessions shorter than `min_session_length` dropped.
3. **Items.** Clicks per item (`CombinePerKey`); the items clicked fewer
   than `min_item_count` times are a side input that each session drops;
   sessions too short again dropped; the most recent `max_session_length`
   clicks kept.
4. **Split.** The latest session time (`CombineGlobally`) minus `test_days`.
5. **Numbering.** Each item's first training appearance (the minimum of
   (session time, first position, click index), `CombinePerKey`); the items
   sorted by it on one worker (a table of the catalogue's size, never the
   log) give the numbers, a side input.
6. **Shards.** Sessions grouped by day of their time, sorted by (time, first
   position) inside the day, numbered from the counts of the days before
   (a side input), and written as session shards by the worker that holds the
   day (`session_shards.ShardWriter`); test clicks on unseen items dropped,
   then test sessions too short.
7. **Finish.** The launcher writes the manifest, `items.txt` and the report
   (`dataset_folder.write_dataset_files`).

`output_dir` must be a path every worker and the launcher share (local for
the DirectRunner; a mounted bucket or NFS on a cluster).
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import datetime
import io
import json
import math
import os
from typing import Dict, Iterable, List, Optional, Tuple

try:
    import apache_beam as beam
except ImportError as e:  # pragma: no cover - the message is what a user sees
    raise ImportError("tagnn_tf.data.beam_preprocess needs Apache Beam: pip install -r requirements-beam.txt "
                      f"({e})") from None

from tagnn_tf.config import ClickLogConfig
from tagnn_tf.errors import DataFileError, InputError

# Times must fall in [1970, 2200) (unix seconds), as in the one-machine reader.
MAX_SECONDS = 7258118400.0
RANGE_BYTES = 32 * 2**20  # CSV bytes per read task
DAY = 86400.0
MALFORMED = "malformed_rows_skipped"
# Above this input size the local runners get a warning (see `local_runner_advice`).
LOCAL_RUNNER_WARN_BYTES = 64 * 2**20
LOCAL_RUNNERS = (None, "DirectRunner", "SwitchingDirectRunner", "BundleBasedDirectRunner", "PrismRunner")
AFTER_ITEM_FILTER = "sessions_shorter_than_min_session_length_after_item_filter"


def _parse_time(text: str, time_format: str) -> Optional[float]:
    text = text.strip()
    try:
        if time_format == "unix_seconds":
            return float(text)
        if time_format == "unix_milliseconds":
            return float(text) / 1000.0
        parsed = datetime.datetime.strptime(text, time_format)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return parsed.timestamp()
    return calendar.timegm(parsed.timetuple()) + parsed.microsecond / 1e6


def check_row(row: Dict[str, str], config: ClickLogConfig) -> Tuple[Optional[tuple], str]:
    """`(session, item, time, order)` of a row, or `(None, what is wrong)` (the one-machine checks)."""
    s, i, t = config.session_column, config.item_column, config.time_column
    session, item, time_text = row[s], row[i], row[t]
    if session is None or not session.strip():
        return None, f"empty {s!r}"
    if item is None or not item.strip():
        return None, f"empty {i!r}"
    if "\r" in item or "\n" in item:
        return None, f"{i!r} holds a line break (items.txt has one id per line)"
    seconds = _parse_time(time_text or "", config.time_format)
    if seconds is None or math.isnan(seconds):
        return None, f"{t!r} does not parse as {config.time_format!r}"
    if not 0.0 <= seconds < MAX_SECONDS:
        return None, f"{t!r} is out of range (before 1970 or from 2200 on) read as {config.time_format!r}"
    order = 0.0
    if config.order_column:
        try:
            order = float((row[config.order_column] or "").strip())
        except ValueError:
            order = math.nan
        if math.isnan(order):
            return None, f"{config.order_column!r} is not a number"
    return (session, item, seconds, order), ""


class ReadCsvRange(beam.DoFn):
    """The rows of the CSV lines that start in a byte range `[start, end)`: `(position, row dict)`."""

    def __init__(self, path: str, header: List[str], delimiter: str):
        self.path, self.header, self.delimiter = path, header, delimiter

    def process(self, byte_range):
        from apache_beam.io.filesystems import FileSystems

        start, end = byte_range
        with FileSystems.open(self.path, compression_type="uncompressed") as f:
            f.seek(max(start - 1, 0))
            if start > 0:
                f.readline()  # the line that started before `start` belongs to the previous range
            position = f.tell()
            while position < end:
                raw = f.readline()
                if not raw:
                    break
                if position > 0:  # the header is line 1
                    fields = next(csv.reader([raw.decode("utf-8", "replace").rstrip("\r\n")],
                                             delimiter=self.delimiter), [])
                    yield position, dict(zip(self.header, fields + [""] * (len(self.header) - len(fields))))
                position += len(raw)


class ReadParquetRowGroup(beam.DoFn):
    """The rows of one Parquet row group: `(position, row dict)`, position = group * 2**32 + row."""

    def __init__(self, path: str, columns: List[str]):
        self.path, self.columns = path, columns

    def process(self, group: int):
        import pyarrow.parquet as pq
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(self.path, compression_type="uncompressed") as f:
            table = pq.ParquetFile(f).read_row_group(group, columns=self.columns)
        data = {c: table.column(c).to_pylist() for c in self.columns}
        for k in range(table.num_rows):
            yield group * 2**32 + k, {c: (None if data[c][k] is None else _text(data[c][k])) for c in self.columns}


def _text(value) -> str:
    if isinstance(value, datetime.datetime):  # a native timestamp: unix seconds (naive = UTC)
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return repr(value.timestamp())
    if isinstance(value, datetime.date):
        return repr(calendar.timegm(value.timetuple()) * 1.0)
    return str(value)


class CheckRows(beam.DoFn):
    """`(session, (position, item, time, order))`; a bad row fails the pipeline or goes to `MALFORMED`."""

    def __init__(self, path: str, config: ClickLogConfig, skip_malformed: bool):
        self.path, self.config, self.skip_malformed = path, config, skip_malformed

    def process(self, element):
        position, row = element
        click, what = check_row(row, self.config)
        if click is None:
            if not self.skip_malformed:
                raise DataFileError(f"{self.path}@{_where(self.path, position)}: {what}: {row}")
            yield beam.pvalue.TaggedOutput(MALFORMED, 1)
            return
        session, item, seconds, order = click
        yield session, (position, item, seconds, order)


def _where(path: str, position: int) -> str:
    return (f"row group {position >> 32}, row {position & 0xFFFFFFFF}" if path.endswith(".parquet")
            else f"byte {position}")


def _session(element, config: ClickLogConfig):
    """A session's clicks in order: `(first position, session time, [items])`."""
    _, clicks = element
    clicks = list(clicks)
    last = max(clicks, key=lambda c: c[0])
    within = 3 if config.order_column else 2
    ordered = sorted(clicks, key=lambda c: (c[within], c[0]))
    return min(c[0] for c in clicks), last[2], [c[1] for c in ordered]


def _report_count(name: str):
    return f"Report_{name}" >> beam.Map(lambda n: (name, n))


@dataclasses.dataclass(frozen=True)
class BeamResult:
    report: Dict[str, object]
    folder: str


def build_pipeline(pipeline, path: str, config: ClickLogConfig, stage: str, shard_sessions: int,
                   skip_malformed: bool):
    """Adds the transforms to `pipeline`; returns the PCollections the launcher collects:
    `{"stats": (name, count), "items": [items by number], "shards": (part, day, [ShardInfo fields])}`."""
    from tagnn_tf.data import session_shards

    columns = [config.session_column, config.item_column, config.time_column] + (
        [config.order_column] if config.order_column else [])
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(path)
        missing = [c for c in columns if c not in meta.schema_arrow.names]
        if missing:
            raise DataFileError(f"{path}: no column {missing[0]!r}; columns: {meta.schema_arrow.names}")
        rows = (pipeline | "RowGroups" >> beam.Create(list(range(meta.num_row_groups)))
                | "ReadParquet" >> beam.ParDo(ReadParquetRowGroup(path, columns)))
    else:
        if path.endswith(".gz"):
            raise InputError(f"{path}: the Beam pipeline reads plain CSV or Parquet (a gzipped file cannot be split "
                             "into ranges); decompress it or convert it to Parquet")
        from tagnn_tf.data.click_log import _csv_layout

        delimiter, header = _csv_layout(path, config, columns)
        size = os.path.getsize(path)
        ranges = [(a, min(a + RANGE_BYTES, size)) for a in range(0, size, RANGE_BYTES)]
        rows = (pipeline | "ByteRanges" >> beam.Create(ranges)
                | "ReadCsv" >> beam.ParDo(ReadCsvRange(path, header, delimiter)))
    checked = rows | "Check" >> beam.ParDo(CheckRows(path, config, skip_malformed)).with_outputs(
        MALFORMED, main="clicks")
    stats = [rows | "CountRead" >> beam.combiners.Count.Globally() | _report_count("clicks_read"),
             checked[MALFORMED] | "CountMalformed" >> beam.combiners.Count.Globally() | _report_count(MALFORMED)]

    sessions = (checked.clicks | "BySession" >> beam.GroupByKey()
                | "Order" >> beam.Map(_session, config))
    long_enough = sessions | "Long" >> beam.Filter(lambda s: len(s[2]) >= config.min_session_length)
    stats.append(sessions | "Short" >> beam.Filter(lambda s: len(s[2]) < config.min_session_length)
                 | "CountShort" >> beam.combiners.Count.Globally()
                 | _report_count("sessions_shorter_than_min_session_length"))
    counts = (long_enough | "Clicks" >> beam.FlatMap(lambda s: [(item, 1) for item in s[2]])
              | "PerItem" >> beam.CombinePerKey(sum))
    rare = counts | "Rare" >> beam.Filter(lambda kv: kv[1] < config.min_item_count)
    stats += [rare | "CountRare" >> beam.combiners.Count.Globally() | _report_count("items_below_min_item_count"),
              rare | "RareClicks" >> beam.Map(lambda kv: kv[1]) | "SumRare" >> beam.CombineGlobally(sum)
              | _report_count("clicks_on_those_items")]

    class ApplyItemRules(beam.DoFn):
        def process(self, s, rare_items):
            first, seconds, items = s
            kept = [i for i in items if i not in rare_items]
            if len(kept) < config.min_session_length:
                if kept:  # as the one-machine count: a session left with no click is not counted
                    yield beam.pvalue.TaggedOutput("stat", (AFTER_ITEM_FILTER, 1))
                return
            if config.max_session_length and len(kept) > config.max_session_length:
                yield beam.pvalue.TaggedOutput("stat", ("clicks_beyond_max_session_length",
                                                        len(kept) - config.max_session_length))
                yield beam.pvalue.TaggedOutput("stat", ("sessions_cut_to_max_session_length", 1))
                kept = kept[-config.max_session_length:]
            yield first, seconds, kept

    ruled = long_enough | "ItemRules" >> beam.ParDo(
        ApplyItemRules(), rare_items=beam.pvalue.AsDict(rare)).with_outputs("stat", main="sessions")
    kept = ruled.sessions
    stats.append(ruled.stat | "SumRuleStats" >> beam.CombinePerKey(sum))
    split = (kept | "Times" >> beam.Map(lambda s: s[1]) | "Latest" >> beam.CombineGlobally(max)
             | "Split" >> beam.Map(lambda latest: latest - DAY * config.test_days))
    split_side = beam.pvalue.AsSingleton(split)
    stats += [split | "SplitTime" >> beam.Map(lambda t: ("split_time", t)),
              kept | "OnSplit" >> beam.Filter(lambda s, t: s[1] == t, split_side)
              | "CountOnSplit" >> beam.combiners.Count.Globally() | _report_count("sessions_on_the_split_time"),
              kept | "Latest2" >> beam.Map(lambda s: s[1]) | "LatestTime" >> beam.CombineGlobally(max)
              | _report_count("latest_time")]
    train = kept | "Train" >> beam.Filter(lambda s, t: s[1] < t, split_side)
    test = kept | "Test" >> beam.Filter(lambda s, t: s[1] > t, split_side)

    vocabulary = (train | "FirstClicks" >> beam.FlatMap(lambda s: [(item, (s[1], s[0], k))
                                                                   for k, item in enumerate(s[2])])
                  | "FirstAppearance" >> beam.CombinePerKey(min)
                  | "AllItems" >> beam.combiners.ToList()
                  | "Number" >> beam.Map(lambda pairs: [item for item, _ in sorted(pairs, key=lambda p: p[1])]))
    numbers = beam.pvalue.AsSingleton(vocabulary | "AsMap" >> beam.Map(
        lambda items: {item: k + 1 for k, item in enumerate(items)}))

    def to_ids(s, ids, part):
        first, seconds, items = s
        known = [ids[i] for i in items if i in ids]
        if part == "test":
            yield beam.pvalue.TaggedOutput("stat", ("test_clicks_on_items_unseen_in_training",
                                                    len(items) - len(known)))
            if len(known) < config.min_session_length:
                if known:
                    yield beam.pvalue.TaggedOutput("stat", ("test_sessions_shorter_than_min_session_length_after_that",
                                                            1))
                return
        yield int(seconds // DAY), (seconds, first, known)

    shards = []
    for part, sessions_of_part in (("train", train), ("test", test)):
        by_day = sessions_of_part | f"{part}Ids" >> beam.FlatMap(to_ids, numbers, part).with_outputs(
            "stat", main="days")
        stats.append(by_day.stat | f"{part}Stats" >> beam.CombinePerKey(sum))
        day_counts = beam.pvalue.AsDict(by_day.days | f"{part}Days" >> beam.Map(lambda kv: (kv[0], 1))
                                        | f"{part}PerDay" >> beam.CombinePerKey(sum))

        def write_day(element, counts, part=part):
            day, rows = element
            rows = sorted(rows)  # (time, first position): the one-machine order
            first_session = sum(n for d, n in counts.items() if d < day)
            writer = session_shards.ShardWriter(stage, part, shard_sessions, name_prefix=f"{part}-{day:07d}",
                                                first_session=first_session)
            import numpy as np

            lengths = np.array([len(r[2]) for r in rows], np.int64)
            splits = np.zeros(len(rows) + 1, np.int64)
            np.cumsum(lengths, out=splits[1:])
            writer.add(np.array([i for r in rows for i in r[2]], np.int64), splits,
                       np.array([r[0] for r in rows], np.float64))
            for info in writer.close():
                yield part, day, dataclasses.asdict(info)

        shards.append(by_day.days | f"{part}ByDay" >> beam.GroupByKey()
                      | f"{part}Write" >> beam.FlatMap(write_day, day_counts))
    return {"stats": stats, "items": vocabulary, "shards": shards}


class _Collect(beam.DoFn):
    """Appends each element as a JSON line to a file the launcher reads (DirectRunner and shared folders)."""

    def __init__(self, path: str):
        self.path = path

    def process(self, element):
        with open(self.path, "a") as f:
            f.write(json.dumps(element) + "\n")


def local_runner_advice(path: str, runner: Optional[str]) -> Optional[str]:
    """A warning when a log of more than `LOCAL_RUNNER_WARN_BYTES` goes to a local runner (`runner` None is
    Beam's default, the DirectRunner), else None: those runners hold every shuffle in memory."""
    size = os.path.getsize(path)
    if runner not in LOCAL_RUNNERS or size <= LOCAL_RUNNER_WARN_BYTES:
        return None
    return (f"{path} is {size / 2**20:.0f} MB and runs on Beam's local runner "
            f"({runner or 'DirectRunner'}), which holds every shuffle in memory: a 252 MB Parquet log of 30M "
            "clicks peaked at 8.6 GB over its processes (benchmarks/README.md, PREPROCESS_ENGINES), 6x slower than "
            "`python -m trainers.preprocess --format=clicks --out_of_core`, which gives the same output in bounded "
            "memory on one machine. Use Beam with a cluster runner (--runner=FlinkRunner, DataflowRunner, ...)")


def run_beam(path: str, config: ClickLogConfig, output_dir: str, dataset: str, skip_malformed: bool = False,
             overwrite: bool = False, shard_sessions: int = 0, pipeline_args: Iterable[str] = (),
             log: Optional = print) -> BeamResult:
    """Runs the pipeline (Beam options from `pipeline_args`, e.g. `--runner=DirectRunner`) and writes
    `<output_dir>/<dataset>/`: session shards, `items.txt`, `preprocess_report.json`."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions, TypeOptions

    from tagnn_tf import run_directory
    from tagnn_tf.data import session_shards
    from tagnn_tf.data.click_log import REPORT_FILE, TINY_TEST_SHARE, _utc, check_time_format
    from tagnn_tf.data.dataset_folder import check_output_dir, items_text, write_dataset_files

    check_time_format(config.time_format)
    check_output_dir(output_dir)
    if not os.path.isfile(path):
        raise DataFileError(f"{path}: file not found")
    folder = os.path.join(output_dir, dataset)
    stage = session_shards.stage_folder(folder)
    collected = os.path.join(stage, "collected.jsonl")
    shard_sessions = shard_sessions or session_shards.DEFAULT_SHARD_SESSIONS
    options = PipelineOptions(list(pipeline_args))
    advice = local_runner_advice(path, options.view_as(StandardOptions).runner)
    if advice and log:
        log(f"WARNING: {advice}")
    # Beam infers element types from the Python functions; those with tagged outputs (the counts) infer wrongly.
    options.view_as(TypeOptions).pipeline_type_check = False
    with beam.Pipeline(options=options) as pipeline:
        out = build_pipeline(pipeline, path, config, stage, shard_sessions, skip_malformed)
        tagged = ([s | f"TagStat{k}" >> beam.Map(lambda kv: ["stat", kv]) for k, s in enumerate(out["stats"])]
                  + [out["items"] | "TagItems" >> beam.Map(lambda items: ["items", items])]
                  + [s | f"TagShards{k}" >> beam.Map(lambda x: ["shard", list(x)])
                     for k, s in enumerate(out["shards"])])
        _ = tagged | "All" >> beam.Flatten() | "Collect" >> beam.ParDo(_Collect(collected))
    stats: Dict[str, float] = {}
    items: List[str] = []
    shards = {"train": [], "test": []}
    with open(collected) as f:
        for line in f:
            kind, value = json.loads(line)
            if kind == "stat":
                stats[value[0]] = stats.get(value[0], 0) + value[1]
            elif kind == "items":
                items = value
            else:
                part, day, info = value
                shards[part].append((day, info["file"], session_shards.ShardInfo(**info)))
    os.remove(collected)
    written = {p: [info for _, _, info in sorted(v)] for p, v in shards.items()}
    if not items or not written["train"]:
        raise DataFileError(f"{path}: no training session survives the rules: {stats}")
    if not written["test"]:
        raise DataFileError(f"{path}: no test session survives (test_days={config.test_days}); use a longer "
                            "--test_days")
    order = ["sessions_shorter_than_min_session_length", "items_below_min_item_count", "clicks_on_those_items",
             "sessions_shorter_than_min_session_length_after_item_filter"]
    if config.max_session_length:
        order += ["clicks_beyond_max_session_length", "sessions_cut_to_max_session_length"]
    order += ["sessions_on_the_split_time", "test_clicks_on_items_unseen_in_training",
              "test_sessions_shorter_than_min_session_length_after_that"]
    dropped = {k: int(stats.get(k, 0)) for k in order}
    num_train = sum(s.sessions for s in written["train"])
    num_test = sum(s.sessions for s in written["test"])
    warnings = []
    if num_test < TINY_TEST_SHARE * (num_train + num_test):
        warnings.append(f"the test window holds only {num_test} of {num_train + num_test} sessions "
                        f"({100.0 * num_test / (num_train + num_test):.2f}%): the last click is at "
                        f"{_utc(stats['latest_time'])}; is a click dated far ahead, or --test_days too short?")
    report = {"input": os.path.basename(path), "clicks_read": int(stats["clicks_read"]),
              "malformed_rows_skipped": int(stats.get(MALFORMED, 0)), "dropped": dropped,
              "split_time_utc": _utc(stats["split_time"]), "train_sessions": num_train, "test_sessions": num_test,
              "items": len(items), "train_clicks": sum(s.clicks for s in written["train"]),
              "test_clicks": sum(s.clicks for s in written["test"]), "warnings": warnings,
              "config": dataclasses.asdict(config)}
    manifest = session_shards.finish_shards(folder, stage, written, len(items))
    write_dataset_files(folder, {session_shards.MANIFEST: manifest, "items.txt": items_text(items)}, overwrite)
    run_directory.write_json_atomic(os.path.join(folder, REPORT_FILE), report)
    if log:
        log(f"{report['clicks_read']} clicks read; {num_train} training sessions, {num_test} test sessions, "
            f"{len(items)} items; dropped: {dropped}")
        log(f"wrote {folder}")
    return BeamResult(report, folder)
