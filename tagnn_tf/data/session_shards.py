"""The session-level columnar dataset format: sharded Parquet, one row per session.

A dataset folder written by `trainers.preprocess` holds::

  shards.json                    the manifest (written last: it is what makes the shards a dataset)
  sessions-<hash>/train-00000.parquet, ...   training sessions, in time order
  sessions-<hash>/test-00000.parquet, ...    test sessions, in time order
  items.txt, preprocess_report.json

Each shard has one row per session with the columns `session` (int64: the
session's number in its part, 0-based, in time order), `items` (list of
int32 item numbers, the clicks in order), `length` (int32, the number of
clicks; lets a reader plan an epoch without reading the items) and `time`
(float64 unix seconds of the session, null where the source had none, as the
SR-GNN pickles). A shard holds `shard_sessions` consecutive sessions, so the
concatenation of a part's shards in order is the part.

The manifest lists every shard with its sessions, clicks, examples
(`sum(length - 1)`), longest session and SHA-256, so a reader plans an epoch
(how many batches each shard gives) from the manifest and the `length`
columns alone, and two outputs are equal when their manifests are. The shard
folder's name is a hash of its content: a new dataset's shards are written
beside the old ones and the manifest switched atomically, so a crash never
leaves a manifest that names missing or half-written shards.

`convert_srgnn_folder` writes the shards of a folder of SR-GNN pickles (the
test sessions are recovered from `test.txt`'s examples).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from tagnn_tf import item_ids, run_directory
from tagnn_tf.errors import DataFileError, InputError

MANIFEST = "shards.json"
FORMAT = "tagnn-session-shards"
VERSION = 1
PARTS = ("train", "test")
SHARD_PREFIX = "sessions-"
DEFAULT_SHARD_SESSIONS = 100_000


@dataclasses.dataclass(frozen=True)
class ShardInfo:
    """One shard as the manifest lists it (`file` relative to the dataset folder)."""

    file: str
    first_session: int  # the part's number of its first session
    sessions: int
    clicks: int
    examples: int
    max_length: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    """A sharded dataset: its parts' shards in order, and the catalogue size."""

    folder: str
    num_items: int
    parts: Dict[str, Tuple[ShardInfo, ...]]

    def shards(self, part: str) -> Tuple[ShardInfo, ...]:
        return self.parts[part]

    def count(self, part: str, what: str) -> int:
        """Sum of a `ShardInfo` count (`sessions`, `clicks`, `examples`) over a part."""
        return sum(getattr(s, what) for s in self.parts[part])

    def to_json(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "num_items": self.num_items,
                "parts": {p: [dataclasses.asdict(s) for s in shards] for p, shards in self.parts.items()}}


def _check_sessions(values: np.ndarray, row_splits: np.ndarray, what: str) -> None:
    lengths = np.diff(row_splits)
    if lengths.size and lengths.min() < 1:
        raise InputError(f"{what}: session {int(np.argmin(lengths))} is empty")
    if values.size and (values.min() < item_ids.FIRST_ITEM_ID or values.max() > item_ids.MAX_ITEM_ID):
        bad = values[(values < item_ids.FIRST_ITEM_ID) | (values > item_ids.MAX_ITEM_ID)][0]
        raise InputError(f"{what}: item number {int(bad)} is outside [1, {item_ids.MAX_ITEM_ID}]")


class ShardWriter:
    """Streams the sessions of one part into numbered shards of `shard_sessions` sessions.

    `add` may be called with any number of sessions at a time; only the
    sessions of the shard being filled are held. Shards go into the staging
    folder `stage` (`write_shards` names it and moves it into place).
    """

    def __init__(self, stage: str, part: str, shard_sessions: int = DEFAULT_SHARD_SESSIONS,
                 name_prefix: str = "", first_session: int = 0):
        """`name_prefix` (default: the part) names the shard files `<prefix>-00000.parquet`, ...;
        `first_session`: the part's number of the first session added (a writer of one slice of the part)."""
        if part not in PARTS:
            raise InputError(f"`part` must be one of {PARTS}. Received: part={part!r}")
        if shard_sessions < 1:
            raise InputError(f"`shard_sessions` must be >= 1. Received: shard_sessions={shard_sessions}")
        self.stage, self.part, self.shard_sessions = stage, part, shard_sessions
        self.shards: List[ShardInfo] = []
        self._values: List[np.ndarray] = []
        self._lengths: List[np.ndarray] = []
        self._times: List[np.ndarray] = []
        self._buffered = 0
        self._written_sessions = first_session
        self._name_prefix = name_prefix or part
        os.makedirs(stage, exist_ok=True)

    def add(self, values: np.ndarray, row_splits: np.ndarray, times: Optional[np.ndarray] = None) -> None:
        """Appends sessions (`values[row_splits[j]:row_splits[j + 1]]`; `times` float64 seconds or None)."""
        values = np.asarray(values, np.int64)
        row_splits = np.asarray(row_splits, np.int64)
        _check_sessions(values, row_splits, f"{self.part} sessions")
        lengths = np.diff(row_splits)
        times = (np.full(len(lengths), np.nan) if times is None else np.asarray(times, np.float64))
        start = 0
        while start < len(lengths):
            take = min(self.shard_sessions - self._buffered, len(lengths) - start)
            self._values.append(values[row_splits[start]:row_splits[start + take]].astype(np.int32))
            self._lengths.append(lengths[start:start + take].astype(np.int32))
            self._times.append(times[start:start + take])
            self._buffered += take
            start += take
            if self._buffered == self.shard_sessions:
                self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self._buffered:
            return
        values = np.concatenate(self._values)
        lengths = np.concatenate(self._lengths)
        times = np.concatenate(self._times)
        offsets = np.zeros(len(lengths) + 1, np.int32)
        np.cumsum(lengths, out=offsets[1:])
        first = self._written_sessions
        table = pa.table({
            "session": pa.array(np.arange(first, first + len(lengths), dtype=np.int64)),
            "items": pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)),
            "length": pa.array(lengths),
            "time": pa.array(times, mask=np.isnan(times)),
        })
        name = f"{self._name_prefix}-{len(self.shards):05d}.parquet"
        path = os.path.join(self.stage, name)
        pq.write_table(table, path, compression="zstd", write_statistics=False, store_schema=False)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.shards.append(ShardInfo(file=name, first_session=first, sessions=int(len(lengths)),
                                     clicks=int(values.size), examples=int((lengths - 1).sum()),
                                     max_length=int(lengths.max()), sha256=digest))
        self._written_sessions += len(lengths)
        self._values, self._lengths, self._times, self._buffered = [], [], [], 0

    def close(self) -> List[ShardInfo]:
        self._flush()
        return self.shards


def stage_folder(folder: str) -> str:
    """A fresh staging folder for new shards inside the dataset folder `folder`."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise InputError(f"{folder} is a file, not a dataset folder")
    stage = os.path.join(folder, f".{SHARD_PREFIX}staging-{os.getpid()}")
    if os.path.exists(stage):
        shutil.rmtree(stage)
    os.makedirs(stage)
    return stage


def finish_shards(folder: str, stage: str, parts: Dict[str, List[ShardInfo]], num_items: int) -> bytes:
    """Moves the staged shards to `sessions-<hash>/` in `folder`; returns the manifest's bytes.

    The caller writes the manifest (`dataset_folder.write_dataset_files`),
    which switches the dataset to the new shards, then `remove_unlisted_shards`.
    """
    for part in PARTS:
        if part not in parts:
            raise InputError(f"shards of part {part!r} missing; parts: {sorted(parts)}")
    digest = hashlib.sha256(json.dumps({p: [s.sha256 for s in parts[p]] for p in PARTS}).encode()).hexdigest()
    name = SHARD_PREFIX + digest[:16]
    final = os.path.join(folder, name)
    if os.path.isdir(final):  # the same shards are there already (a rerun)
        shutil.rmtree(stage)
    else:
        os.replace(stage, final)
    manifest = Manifest(folder=folder, num_items=num_items, parts={
        p: tuple(dataclasses.replace(s, file=f"{name}/{s.file}") for s in parts[p]) for p in PARTS})
    return (json.dumps(manifest.to_json(), indent=1, sort_keys=True) + "\n").encode()


def remove_unlisted_shards(folder: str) -> None:
    """Removes shard folders (and staging left by a crash) that the manifest does not name."""
    listed = set()
    if os.path.isfile(os.path.join(folder, MANIFEST)):
        listed = {s.file.split("/")[0] for p in PARTS for s in read_manifest(folder).shards(p)}
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if not os.path.isdir(path):
            continue
        if name.startswith(SHARD_PREFIX) and name not in listed:
            shutil.rmtree(path, ignore_errors=True)
        elif name.startswith(f".{SHARD_PREFIX}staging-") and not _pid_alive(name):  # left by a crash
            shutil.rmtree(path, ignore_errors=True)


def _pid_alive(name: str) -> bool:
    try:
        pid = int(name.rsplit("-", 1)[1])
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stage_sessions(folder: str, parts: Dict[str, Tuple[np.ndarray, np.ndarray]], num_items: int,
                   shard_sessions: int = DEFAULT_SHARD_SESSIONS,
                   times: Optional[Dict[str, np.ndarray]] = None) -> bytes:
    """Writes in-memory sessions (`part -> (values, row_splits)`) as staged shards; returns the manifest bytes."""
    stage = stage_folder(folder)
    written = {}
    for part in PARTS:
        writer = ShardWriter(stage, part, shard_sessions)
        values, row_splits = parts[part]
        writer.add(values, row_splits, (times or {}).get(part))
        written[part] = writer.close()
    return finish_shards(folder, stage, written, num_items)


def sessions_to_arrays(sessions: Sequence[Sequence[int]]) -> Tuple[np.ndarray, np.ndarray]:
    """Python lists of item numbers -> `(values, row_splits)`."""
    lengths = np.fromiter((len(s) for s in sessions), np.int64, count=len(sessions))
    row_splits = np.zeros(len(sessions) + 1, np.int64)
    np.cumsum(lengths, out=row_splits[1:])
    values = np.fromiter((v for s in sessions for v in s), np.int64, count=int(row_splits[-1]))
    return values, row_splits


def read_manifest(folder: str) -> Optional[Manifest]:
    """The folder's manifest, or None when it has none.

    Raises:
      DataFileError: a manifest that is not this format, or names a shard that is missing.
    """
    path = os.path.join(folder, MANIFEST)
    if not os.path.isfile(path):
        return None
    try:
        raw = run_directory.read_json(path)
        if raw.get("format") != FORMAT:
            raise ValueError(f"format {raw.get('format')!r}, expected {FORMAT!r}")
        if raw.get("version") != VERSION:
            raise ValueError(f"version {raw.get('version')!r}; this code reads version {VERSION}")
        parts = {p: tuple(ShardInfo(**s) for s in raw["parts"][p]) for p in PARTS}
        manifest = Manifest(folder=folder, num_items=int(raw["num_items"]), parts=parts)
    except (ValueError, KeyError, TypeError) as e:
        raise DataFileError(f"{path}: not a session-shards manifest ({e})") from None
    for part in PARTS:
        for shard in manifest.shards(part):
            if not os.path.isfile(os.path.join(folder, shard.file)):
                raise DataFileError(f"{path}: names {shard.file}, which is missing")
    return manifest


def read_shard(manifest: Manifest, shard: ShardInfo) -> Tuple[np.ndarray, np.ndarray]:
    """`(values int32, row_splits int64)` of one shard's sessions.

    Raises:
      DataFileError: the shard cannot be read or does not hold what the manifest says.
    """
    import pyarrow.parquet as pq

    path = os.path.join(manifest.folder, shard.file)
    try:
        column = pq.read_table(path, columns=["items"]).column("items").combine_chunks()
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise DataFileError(f"{path}: cannot be read as a session shard ({str(e).splitlines()[0]})") from None
    values = column.values.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    offsets = column.offsets.to_numpy().astype(np.int64)
    row_splits = offsets - offsets[0]
    values = values[offsets[0]:offsets[-1]]
    if len(row_splits) - 1 != shard.sessions or values.size != shard.clicks:
        raise DataFileError(f"{path}: holds {len(row_splits) - 1} sessions / {values.size} clicks, the manifest "
                            f"says {shard.sessions} / {shard.clicks} (a shard from another dataset?)")
    return values, row_splits


def read_lengths(manifest: Manifest, shard: ShardInfo) -> np.ndarray:
    """int64 `[sessions]`: the session lengths of one shard (its `length` column only)."""
    import pyarrow.parquet as pq

    path = os.path.join(manifest.folder, shard.file)
    try:
        lengths = pq.read_table(path, columns=["length"]).column("length").to_numpy()
    except Exception as e:
        raise DataFileError(f"{path}: cannot be read as a session shard ({str(e).splitlines()[0]})") from None
    if len(lengths) != shard.sessions:
        raise DataFileError(f"{path}: holds {len(lengths)} sessions, the manifest says {shard.sessions}")
    return lengths.astype(np.int64)


def iter_part(manifest: Manifest, part: str) -> Iterator[Tuple[ShardInfo, np.ndarray, np.ndarray]]:
    """`(shard, values, row_splits)` of each shard of `part`, in order."""
    for shard in manifest.shards(part):
        values, row_splits = read_shard(manifest, shard)
        yield shard, values, row_splits


def read_part(manifest: Manifest, part: str) -> Tuple[np.ndarray, np.ndarray]:
    """All sessions of `part` in memory: `(values, row_splits)`."""
    values, lengths = [], []
    for _, v, splits in iter_part(manifest, part):
        values.append(v)
        lengths.append(np.diff(splits))
    lengths = np.concatenate(lengths) if lengths else np.zeros([0], np.int64)
    row_splits = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=row_splits[1:])
    return (np.concatenate(values) if values else np.zeros([0], np.int32)), row_splits
