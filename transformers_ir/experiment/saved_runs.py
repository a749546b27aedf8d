"""``pt.Experiment``'s ``save_dir``: each system's results in ``<save_dir>/<name>.<ext>``, reused or overwritten
by ``save_mode``, and ``aggregated.csv`` / ``perquery.csv`` accumulated across calls."""
from __future__ import annotations

import os
import types
import warnings
from typing import Sequence

import pandas as pd
import pyterrier as pt

SAVE_MODES = ("reuse", "overwrite", "warn", "error")


class SavedRuns:
    """The files of one ``save_dir`` with pt's ``save_mode`` (``reuse``, ``overwrite``, ``warn``, ``error``) and
    ``save_format`` (``'trec'``, a module with ``dump``/``load`` such as ``pickle``, or a ``(read, write)`` pair)."""

    def __init__(self, save_dir: str, save_mode: str, save_format, names: Sequence[str]):
        if not os.path.exists(save_dir):
            raise ValueError("save_dir %s does not exist" % save_dir)
        if not os.path.isdir(save_dir):
            raise ValueError("save_dir %s is not a directory" % save_dir)
        for n in names:
            if not pt.io.ok_filename(n):
                raise ValueError("Name contains bad characters and save_dir is set, name is %s" % n)
        if len(set(names)) < len(names):
            raise ValueError("save_dir is set, but names are not unique. Use names= to set unique names")
        if save_mode not in SAVE_MODES:
            raise ValueError(f"Unknown save_mode argument {save_mode!r}, valid options are {', '.join(SAVE_MODES)}.")
        if save_format == "trec":
            ext = "res.gz"
        elif isinstance(save_format, types.ModuleType):
            ext = "mod"
        elif isinstance(save_format, tuple) and len(save_format) == 2:
            ext = "custom"
        else:
            raise ValueError("Unrecognised save_format %s" % str(save_format))
        self.dir, self.mode, self.format, self.ext = save_dir, save_mode, save_format, ext

    def path(self, name: str) -> str:
        return os.path.join(self.dir, f"{name}.{self.ext}")

    def existing(self, name: str) -> pd.DataFrame | None:
        """The saved results of ``name`` when ``save_mode='reuse'`` and its file exists; otherwise ``None``, after
        removing (``overwrite``), warning about (``warn``) or refusing (``error``) an existing file."""
        path = self.path(name)
        if not os.path.exists(path):
            return None
        if self.mode == "reuse":
            if self.format == "trec":
                return pt.io.read_results(path)
            with pt.io.autoopen(path, "rb") as f:
                return self.format.load(f) if self.ext == "mod" else self.format[0](f)
        hint = (f"save_dir is set, but the file '{path}' already exists. If you are aware of are happy to reuse this "
                "file to speed up evaluation, set save_mode='reuse'; if you want to overwrite it, set "
                "save_mode='overwrite'.")
        if self.mode == "overwrite":
            os.remove(path)
        elif self.mode == "warn":
            warnings.warn(hint + " To make this condition an error, use save_mode='error'.", stacklevel=3)
        else:
            raise ValueError(hint + " To make this condition a warning, use save_mode='warn'.")
        return None

    def write(self, name: str, results: pd.DataFrame) -> None:
        """Save a transformer's full output (its ``qid, docno, score, rank`` for ``'trec'``)."""
        path = self.path(name)
        if self.format == "trec":
            missing = [c for c in ("qid", "docno", "score", "rank") if c not in results.columns]
            if missing:
                raise TypeError(f"save_dir was set, but results dont look like R (missing {missing}). You probably "
                                "need to set save_format kwarg, e.g. save_format=pickle")
            pt.io.write_results(results, path)
            return
        with pt.io.autoopen(path, "wb") as f:
            self.format.dump(results, f) if self.ext == "mod" else self.format[1](results, f)

    def write_summaries(self, averages: pd.DataFrame, perquery: pd.DataFrame, names: Sequence[str]) -> None:
        """``aggregated.csv`` and ``perquery.csv``, keeping the rows of systems not in this experiment."""
        for file, frame in (("aggregated.csv", averages), ("perquery.csv", perquery)):
            path = os.path.join(self.dir, file)
            if os.path.exists(path):
                old = pd.read_csv(path)
                if file == "aggregated.csv" and set(old.columns) != set(frame.columns):
                    warnings.warn(f"Evaluation measures differ between the existing '{path}' (columns: "
                                  f"{', '.join(sorted(old.columns))}) and the current run (columns: "
                                  f"{', '.join(sorted(frame.columns))}). Missing values will be filled with NaN.",
                                  stacklevel=3)
                old = old[~old["name"].isin(set(names))]
                if not old.empty:
                    frame = pd.concat([frame, old], ignore_index=True)
            frame.to_csv(path, index=False)
