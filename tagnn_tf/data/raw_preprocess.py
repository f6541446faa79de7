"""Raw click logs -> SR-GNN session data (the reference preprocessing).

Follows SR-GNN's `preprocess.py` step by step, dates read in UTC:

1. Read clicks per session in file order. A session's date is the date of its
   last row (Diginetica `eventdate`, Yoochoose `timestamp` to the second).
   Diginetica clicks are then ordered by `timeframe` (stable sort).
2. Drop sessions of length 1; count item occurrences; drop items seen fewer
   than 5 times; drop sessions left shorter than 2.
3. Split by date: test = sessions dated after `maxdate - 7 days` (Diginetica)
   or `- 1 day` (Yoochoose), train = before it (a session dated exactly on the
   split is in neither, as in the reference). Both sorted by date (stable).
4. Number items from 1 in training order; drop test items unseen in training
   and test sessions shorter than 2 after that.
5. Augment `(s[:i], s[i])`. Yoochoose also gets the most recent 1/4 and 1/64
   of the training examples (and the sessions they come from).
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime
import os
from typing import Callable, Dict, List, Optional, Tuple

from tagnn_tf.arguments import DATASET_OUTPUTS, check_choice
from tagnn_tf.data.dataset_folder import pickled, session_files, write_dataset_files
from tagnn_tf.data.session_shards import DEFAULT_SHARD_SESSIONS
from tagnn_tf.data.sessions import augment_lists
from tagnn_tf.errors import DataFileError, InputError

DIGINETICA_HEADER = ("session_id", "user_id", "item_id", "timeframe", "eventdate")
YOOCHOOSE_FIELDS = 4  # session_id,timestamp,item_id,category
YOOCHOOSE_HEADER = "session_id,timestamp,item_id,category"  # optional (SR-GNN's instructions add it)
MIN_ITEM_COUNT = 5


@dataclasses.dataclass
class PreprocessResult:
    """Output of the reference preprocessing (plain lists of ints)."""

    train_sessions: List[List[int]]
    test_sessions: List[List[int]]
    train_examples: Tuple[List[List[int]], List[int]]
    test_examples: Tuple[List[List[int]], List[int]]
    num_items: int
    skipped_lines: int = 0
    fractions: Dict[str, Tuple[List[List[int]], Tuple[List[List[int]], List[int]]]] = dataclasses.field(
        default_factory=dict)
    # Yoochoose fractions left out because they would hold no example: name -> reason.
    empty_fractions: Dict[str, str] = dataclasses.field(default_factory=dict)
    # The dataset folders `run_preprocess` wrote.
    folders: List[str] = dataclasses.field(default_factory=list)


def _diginetica_date(text: str) -> float:
    return float(calendar.timegm(datetime.datetime.strptime(text, "%Y-%m-%d").timetuple()))


def _yoochoose_date(text: str) -> float:
    return float(calendar.timegm(datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").timetuple()))


def _read_clicks(path: str, fmt: str, skip_malformed: bool):
    """Returns (sess_clicks, sess_date, skipped) following the reference reader."""
    if not os.path.isfile(path):
        raise DataFileError(f"{path}: file not found")
    sess_clicks: Dict[str, list] = {}
    sess_date: Dict[str, float] = {}
    skipped = 0
    cur_id, cur_date = None, None
    parse_date: Callable[[str], float] = _diginetica_date if fmt == "diginetica" else _yoochoose_date
    with open(path, "rb") as f:  # bytes: a line that is not UTF-8 is a malformed line, named
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                if skip_malformed:
                    skipped += 1
                    continue
                raise DataFileError(f"{path}:{lineno}: malformed line (not UTF-8: byte 0x{raw[e.start]:02x} at "
                                    f"column {e.start + 1}): {raw[:120]!r}") from None
            if fmt == "diginetica" and lineno == 1:
                header = tuple(line.split(";"))
                if header != DIGINETICA_HEADER:
                    raise DataFileError(
                        f"{path}:1: expected header {';'.join(DIGINETICA_HEADER)!r}, got {line[:120]!r}")
                continue
            if not line.strip() or (fmt == "yoochoose" and lineno == 1 and line == YOOCHOOSE_HEADER):
                continue
            try:
                if fmt == "diginetica":
                    fields = line.split(";")
                    if len(fields) != 5:
                        raise ValueError(f"expected 5 ';'-separated fields, got {len(fields)}")
                    sess, _, item, timeframe, datestr = fields
                    click = (_nonempty("item_id", item), int(timeframe))
                else:
                    fields = line.split(",")
                    if len(fields) != YOOCHOOSE_FIELDS:
                        raise ValueError(f"expected 4 ','-separated fields, got {len(fields)}")
                    sess, datestr, item, _ = fields
                    click = _nonempty("item_id", item)
                _nonempty("session_id", sess)
                date = parse_date(datestr)
            except ValueError as e:
                if skip_malformed:
                    skipped += 1
                    continue
                raise DataFileError(f"{path}:{lineno}: malformed line ({e}): {line[:120]!r}") from None
            if cur_date is not None and cur_id != sess:
                sess_date[cur_id] = cur_date
            cur_id, cur_date = sess, date
            sess_clicks.setdefault(sess, []).append(click)
    if cur_id is None:
        raise DataFileError(f"{path}: no clicks found")
    sess_date[cur_id] = cur_date
    if fmt == "diginetica":
        for s, clicks in sess_clicks.items():
            sess_clicks[s] = [c[0] for c in sorted(clicks, key=lambda c: c[1])]
    return sess_clicks, sess_date, skipped


def _nonempty(name: str, text: str) -> str:
    if not text.strip():
        raise ValueError(f"empty {name}")
    return text


def preprocess(path: str, fmt: str, skip_malformed: bool = False) -> PreprocessResult:
    """Runs the reference preprocessing on a raw log.

    Args:
      path: `train-item-views.csv` (fmt `diginetica`) or `yoochoose-clicks.dat`
        (fmt `yoochoose`).
      fmt: `diginetica` or `yoochoose`.
      skip_malformed: skip (and count) malformed lines instead of failing.
    """
    if fmt not in ("diginetica", "yoochoose"):
        raise InputError(f"`fmt` must be 'diginetica' or 'yoochoose'. Received: fmt={fmt!r}")
    sess_clicks, sess_date, skipped = _read_clicks(path, fmt, skip_malformed)

    for s in [s for s, c in sess_clicks.items() if len(c) == 1]:
        del sess_clicks[s], sess_date[s]
    counts: Dict[str, int] = {}
    for seq in sess_clicks.values():
        for item in seq:
            counts[item] = counts.get(item, 0) + 1
    for s in list(sess_clicks):
        kept = [i for i in sess_clicks[s] if counts[i] >= MIN_ITEM_COUNT]
        if len(kept) < 2:
            del sess_clicks[s], sess_date[s]
        else:
            sess_clicks[s] = kept
    if not sess_date:
        raise DataFileError(f"{path}: no session survives the filters (length >= 2, items seen >= 5 times)")

    dates = list(sess_date.items())
    max_date = max(d for _, d in dates)
    split_date = max_date - 86400 * (7 if fmt == "diginetica" else 1)
    train_sess = sorted((x for x in dates if x[1] < split_date), key=lambda x: x[1])
    test_sess = sorted((x for x in dates if x[1] > split_date), key=lambda x: x[1])

    item_ids: Dict[str, int] = {}
    train_seqs = []
    for s, _ in train_sess:
        out = []
        for item in sess_clicks[s]:
            if item not in item_ids:
                item_ids[item] = len(item_ids) + 1
            out.append(item_ids[item])
        train_seqs.append(out)
    test_seqs = []
    for s, _ in test_sess:
        out = [item_ids[i] for i in sess_clicks[s] if i in item_ids]
        if len(out) >= 2:
            test_seqs.append(out)

    train_examples = augment_lists(train_seqs)
    result = PreprocessResult(
        train_sessions=train_seqs,
        test_sessions=test_seqs,
        train_examples=train_examples,
        test_examples=augment_lists(test_seqs),
        num_items=len(item_ids),
        skipped_lines=skipped,
    )
    if fmt == "yoochoose":
        # Session index of each example, to cut the session list where the
        # most recent fraction of examples starts (as the reference does).
        owner = [k for k, s in enumerate(train_seqs) for _ in range(len(s) - 1)]
        prefixes, labels = train_examples
        for name, denom in (("yoochoose1_4", 4), ("yoochoose1_64", 64)):
            n = len(prefixes) // denom
            if n == 0:
                result.empty_fractions[name] = (f"{len(prefixes)} training examples: their most recent 1/{denom} "
                                                "holds none")
                continue
            result.fractions[name] = (
                train_seqs[owner[-n]:],
                (prefixes[-n:], labels[-n:]),
            )
    return result


def write_srgnn(out_dir: str, sessions, train_examples, test_examples, overwrite: bool = False) -> None:
    """Writes `all_train_seq.txt`, `train.txt`, `test.txt` (plain-data pickles).

    Each file is written to a temporary name and renamed, so an interrupted run
    never leaves a half-written file under the final name; another dataset in
    `out_dir` is refused unless `overwrite` (`dataset_folder.write_dataset_files`).
    """
    write_dataset_files(out_dir, {"all_train_seq.txt": pickled(sessions), "train.txt": pickled(train_examples),
                                  "test.txt": pickled(test_examples)}, overwrite)


def write_result(result: PreprocessResult, out_dir: str, fmt: str, overwrite: bool = False,
                 output_format: str = "shards", shard_sessions: int = DEFAULT_SHARD_SESSIONS) -> List[str]:
    """Writes the dataset folder(s) under `out_dir`; returns the folders written.

    `output_format="pickles"`: the SR-GNN files (`write_srgnn`); `shards`:
    the session shards of the training and test sessions (a Yoochoose
    fraction's shards hold its first session whole, where the reference's
    `train.txt` starts inside it).
    """
    check_choice("output_format", output_format, DATASET_OUTPUTS)
    if fmt == "diginetica":
        parts = {"diginetica": (result.train_sessions, result.train_examples)}
    else:
        parts = dict(result.fractions)
    written = []
    for name, (seqs, examples) in sorted(parts.items()):
        folder = os.path.join(out_dir, name)
        if output_format == "pickles":
            write_srgnn(folder, seqs, examples, result.test_examples, overwrite)
        else:
            write_dataset_files(folder, session_files(folder, seqs, result.test_sessions, output_format,
                                                      shard_sessions, num_items=result.num_items), overwrite)
        written.append(folder)
    return written


def run_preprocess(path: str, fmt: str, out_dir: str, skip_malformed: bool = False,
                   log: Optional[Callable[[str], None]] = print, overwrite: bool = False,
                   output_format: str = "shards", shard_sessions: int = DEFAULT_SHARD_SESSIONS) -> PreprocessResult:
    """Preprocesses `path` and writes the dataset folder(s) under `out_dir` (`write_result`)."""
    result = preprocess(path, fmt, skip_malformed=skip_malformed)
    folders = write_result(result, out_dir, fmt, overwrite, output_format, shard_sessions)
    result.folders = folders
    if log:
        if result.skipped_lines:
            log(f"skipped {result.skipped_lines} malformed lines (--skip_malformed)")
        log(f"{len(result.train_sessions)} training sessions, {len(result.train_examples[1])} training "
            f"examples, {len(result.test_examples[1])} test examples, {result.num_items} items")
        for folder in folders:
            log(f"wrote {folder}")
        for name, reason in sorted(result.empty_fractions.items()):
            log(f"did not write {os.path.join(out_dir, name)}: {reason}")
    return result
