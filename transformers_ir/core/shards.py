"""Encoding a corpus in shards that outlive an interrupted build: in this process, or as Ray tasks.

An index that encodes every document is built in two steps. First the documents are cut, as they stream past, into
shards of ``shard_size`` consecutive documents, and each shard is encoded by a :data:`ShardEncoder` into its own
folder under a work folder beside the index (``.<index>.shards/shard-000000``, ...): written under a unique
temporary name, with ``docnos.txt`` and, last, ``shard.json`` (its documents' count and content hash), then renamed
into place, so a shard folder is either whole or absent. Then the index kind merges the shards, in corpus order,
into its staging folder (:meth:`IndexFolder.staging`), and the work folder is removed once the index is installed.

A build interrupted in between (a failed shard, a killed process) leaves its finished shards; the next build with
the same key (corpus, model, shard boundaries) reuses every shard whose documents hash the same and encodes the
rest. On Ray (:mod:`.build_options`), shards run as tasks with the resources asked for; a task whose worker dies is
retried ``max_retries`` times; only a bounded number of shards' texts are in flight at once. Every node must see
the cache folder (one machine, or a shared file system).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .atomic import atomic_write_text
from .build_options import BuildOptions, current_build_options, forwarded_env, init_ray
from .errors import IndexBuildError
from .progress import show_progress
from .hashing import value_sha256

SHARD_INFO = "shard.json"
SHARD_DOCNOS = "docnos.txt"
KEY_FILE = "key.json"

ShardEncoder = Callable[[list[str], Path], dict]
"""Encodes a shard's texts into files in the (existing, empty) folder it is given; returns a small JSON-able dict
(e.g. ``{"dims": 384}``) kept in ``shard.json``. It must be picklable to run on Ray (a top-level function, or a
``functools.partial`` of one over picklable arguments)."""


class ShardError(IndexBuildError):
    """A shard that could not be encoded (after Ray's retries); names the shard and its first document."""


@dataclass
class Shard:
    """A finished shard: its folder, position and what its ``shard.json`` says."""

    folder: Path
    number: int
    count: int
    info: dict

    def docnos(self) -> list[str]:
        return (self.folder / SHARD_DOCNOS).read_text(encoding="utf-8").splitlines()


@dataclass
class ShardedBuild:
    """The shards of a corpus, in order, and how they were made (what a manifest records)."""

    shards: list[Shard]
    encoded: int = 0
    reused: int = 0
    seconds: float = 0.0
    options: dict = field(default_factory=dict)

    @property
    def doc_count(self) -> int:
        return sum(s.count for s in self.shards)

    def docnos(self) -> Iterator[str]:
        for shard in self.shards:
            yield from shard.docnos()

    def summary(self) -> dict:
        """For the manifest: how the build ran (not part of the index's identity)."""
        return {**self.options, "shards": len(self.shards), "shards_encoded": self.encoded,
                "shards_reused": self.reused, "encode_seconds": round(self.seconds, 3)}


def work_folder(index_path: Path) -> Path:
    """Where the shards of the index at ``index_path`` are kept while it is built."""
    return index_path.with_name(f".{index_path.name}.shards")


def encode_in_shards(work: Path, key: dict, texts: Iterable[tuple[str, str]], encode: ShardEncoder, desc: str,
                     fresh: bool = False, progress: bool | None = None, options: BuildOptions | None = None) -> ShardedBuild:
    """Encode ``(docno, text)`` pairs with ``encode`` in shards under ``work`` (see the module), reusing the
    finished shards of an earlier build of the same ``key`` unless ``fresh``; return the shards in corpus order.

    ``texts`` is read once, as a stream; an error it raises (a bad corpus line) ends the build at once, a shard
    that fails (:class:`ShardError`) once the shards in flight have finished; finished shards are kept.
    ``progress`` (see :func:`~transformers_ir.core.progress.show_progress`) shows a bar counting encoded documents; ``options`` default to :func:`current_build_options`.
    """
    from tqdm import tqdm  # (tqdm.auto warns in a notebook without ipywidgets)
    options = options or current_build_options()
    _open_work(work, {**key, "shard_size": options.shard_size}, fresh)
    runner = _RayRunner(options, desc) if options.executor == "ray" else _LocalRunner(desc)
    start = time.perf_counter()
    finished: dict[int, Shard] = {}
    reused = 0
    bar = tqdm(desc=desc, unit="doc", disable=not show_progress(progress))

    def add(shards: list[Shard]) -> None:
        for shard in shards:
            finished[shard.number] = shard
            bar.update(shard.count)

    try:
        stream = iter(texts)
        for number in itertools.count():
            batch = list(itertools.islice(stream, options.shard_size))
            if not batch:
                break
            docnos, shard_texts = [d for d, _ in batch], [t for _, t in batch]
            digest = _content_sha256(docnos, shard_texts)
            done = _finished(work, number, digest)
            if done is not None:
                reused += 1
                add([done])
            else:
                add(runner.submit(encode, docnos, shard_texts, work, number, digest))
        add(runner.drain())
    except ShardError:
        runner.settle()
        raise
    except BaseException:
        runner.cancel()
        raise
    finally:
        bar.close()
    shards = [finished[n] for n in sorted(finished)]
    if not shards:
        raise IndexBuildError(f"{desc}: no documents to encode")
    summary = {"executor": options.executor, "shard_size": options.shard_size}
    if options.executor == "ray":
        summary.update(num_cpus=options.num_cpus, num_gpus=options.num_gpus, max_retries=options.max_retries)
    return ShardedBuild(shards, len(shards) - reused, reused, time.perf_counter() - start, summary)


def concatenate_npy(path: Path, dtype, shape: tuple[int, ...], parts: Iterable[Path]) -> None:
    """Write the ``.npy`` file of an array of ``shape`` whose rows are the raw bytes of ``parts``, one after
    another, copied a block at a time (nothing is held or memory-mapped)."""
    import numpy as np
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
    with open(path, "wb") as out:
        np.lib.format.write_array_header_1_0(out, header)
        start = out.tell()
        for part in parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
        written = out.tell() - start
    expected = np.dtype(dtype).itemsize * int(np.prod(shape))
    if written != expected:
        raise IndexBuildError(f"{path}: the shards hold {written} bytes, not the {expected} of a {shape} "
                              f"{np.dtype(dtype).name} array")


def remove_work(work: Path) -> None:
    """Remove a work folder once its index is installed."""
    shutil.rmtree(work, ignore_errors=True)


def encode_shard(encode: ShardEncoder, docnos: list[str], texts: list[str], work: str, number: int,
                 digest: str) -> Shard:
    """Encode one shard into ``work/shard-<number>`` (a temporary folder renamed into place once whole)."""
    work_path = Path(work)
    final = work_path / _name(number)
    tmp = work_path / f".{_name(number)}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        info = encode(texts, tmp) or {}
        (tmp / SHARD_DOCNOS).write_text("".join(f"{d}\n" for d in docnos), encoding="utf-8")
        atomic_write_text(tmp / SHARD_INFO, json.dumps({"shard": number, "count": len(docnos), "sha256": digest,
                                                        "info": info}))
        try:
            os.replace(tmp, final)
        except OSError:  # another attempt of this shard finished first (a retried task): keep that one
            if _finished(work_path, number, digest) is None:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Shard(final, number, len(docnos), info)


def _shard_error(desc: str, number: int, size: int, first: str, cause: BaseException, where: str) -> ShardError:
    return ShardError(f"{desc}: shard {number} ({size} documents from {first!r}) failed{where}: "
                      f"{type(cause).__name__}: {cause}; finished shards are kept and a new build resumes from them")


def _name(number: int) -> str:
    return f"shard-{number:06d}"


def _content_sha256(docnos: list[str], texts: list[str]) -> str:
    h = hashlib.sha256()
    for docno, text in zip(docnos, texts):
        h.update(docno.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()


def _finished(work: Path, number: int, digest: str) -> Shard | None:
    """The shard ``number`` in ``work`` when it is whole and holds these documents."""
    folder = work / _name(number)
    try:
        info = json.loads((folder / SHARD_INFO).read_text())
    except (FileNotFoundError, ValueError):
        return None
    if info.get("sha256") != digest:
        return None
    return Shard(folder, number, int(info["count"]), info.get("info") or {})


def _open_work(work: Path, key: dict, fresh: bool) -> None:
    """Make ``work`` hold shards of ``key`` only: emptied when it holds another key's (or ``fresh``); leftovers of
    interrupted shards removed."""
    wanted = value_sha256(key)
    try:
        found = json.loads((work / KEY_FILE).read_text()).get("sha256")
    except (FileNotFoundError, ValueError):
        found = None
    if fresh or found != wanted:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    for leftover in work.glob(".*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    if found != wanted or fresh:
        atomic_write_text(work / KEY_FILE, json.dumps({"sha256": wanted, "key": key}, indent=2, default=str))


class _LocalRunner:
    """Shards encoded one after another in this process."""

    def __init__(self, desc: str):
        self.desc = desc

    def submit(self, encode, docnos, texts, work, number, digest) -> list[Shard]:
        try:
            return [encode_shard(encode, docnos, texts, str(work), number, digest)]
        except Exception as e:
            raise _shard_error(self.desc, number, len(docnos), docnos[0], e, "") from e

    def drain(self) -> list[Shard]:
        return []

    def settle(self) -> None:
        pass

    def cancel(self) -> None:
        pass


class _RayRunner:
    """Shards as Ray tasks; at most ``2 x`` the tasks the cluster can run at once are in flight (their texts in
    Ray's object store), so the driver never holds more than that much of the corpus."""

    def __init__(self, options: BuildOptions, desc: str):
        self.ray = init_ray(options.ray_address, forwarded_env(options.ray_env))
        self.desc = desc
        self.task = self.ray.remote(_ray_encode_shard).options(
            num_cpus=options.num_cpus, num_gpus=options.num_gpus, max_retries=options.max_retries,
            retry_exceptions=False)
        resources = self.ray.cluster_resources()
        slots = (resources.get("GPU", 0) / options.num_gpus if options.num_gpus
                 else resources.get("CPU", 1) / options.num_cpus if options.num_cpus else resources.get("CPU", 1))
        self.window = max(2, 2 * int(slots))
        self.threads = str(max(1, int(options.num_cpus)))
        self.pending: dict = {}  # ObjectRef -> (number, first docno, count)
        self.encode = None

    def submit(self, encode, docnos, texts, work, number, digest) -> list[Shard]:
        if self.encode is None:  # the encoder (and whatever it holds) goes to the object store once
            self.encode = self.ray.put(encode)
        ref = self.task.remote(self.encode, docnos, texts, str(work), number, digest, self.threads)
        self.pending[ref] = (number, docnos[0], len(docnos))
        done = []
        while len(self.pending) >= self.window:
            done.append(self._wait())
        return done

    def drain(self) -> list[Shard]:
        done = []
        while self.pending:
            done.append(self._wait())
        return done

    def _wait(self) -> Shard:
        """The next shard to finish; its error (after Ray's retries) ends the build."""
        [ref], _ = self.ray.wait(list(self.pending), num_returns=1)
        number, first, size = self.pending.pop(ref)
        try:
            return self.ray.get(ref)
        except Exception as e:
            cause = getattr(e, "cause", None) or e
            raise _shard_error(self.desc, number, size, first, cause, " on Ray") from cause

    def settle(self) -> None:
        """Let the shards in flight finish (they are kept for the next build), whatever their outcome."""
        if self.pending:
            self.ray.wait(list(self.pending), num_returns=len(self.pending))
        self.pending.clear()

    def cancel(self) -> None:
        for ref in self.pending:
            self.ray.cancel(ref)
        self.pending.clear()


def _ray_encode_shard(encode, docnos, texts, work, number, digest, threads) -> Shard:
    """A Ray task: one shard, torch on the task's CPUs unless ``TIR_TORCH_THREADS`` says otherwise."""
    os.environ.setdefault("TIR_TORCH_THREADS", threads)
    return encode_shard(encode, docnos, texts, work, number, digest)
