"""What ``tir.Experiment`` returns: ``pt.Experiment``'s DataFrame, with our figures reachable from it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from .cost import Cost


@dataclass
class ExperimentInfo:
    """What one experiment measured beyond ``pt.Experiment``'s table, shared by its averages and per-query frames."""

    metrics: list[str]
    stages: pd.DataFrame
    runs: dict[str, pd.DataFrame] = field(repr=False)
    perquery: "pd.DataFrame | None" = None
    averages: "pd.DataFrame | None" = None
    baseline: str | None = None
    test: "str | Callable" = "t"
    correction: str | None = None
    alpha: float = 0.05
    cost: Cost = field(default_factory=Cost)
    cache: dict[str, int] = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    latency_queries: int = 0
    hardware: dict = field(default_factory=dict)


class ExperimentFrame(pd.DataFrame):
    """``pt.Experiment``'s frame (same columns, same values) plus our figures as extra columns (``mrt_ms``,
    ``qps``, ``usd_per_1m_queries`` with their spreads, ``peak_rss_mb``, latency percentiles when sampled, ...),
    with ``.stages`` (per-stage times), ``.runs`` (each pipeline's results), ``.perquery`` (pt's per-query frame),
    ``.to_latex()`` / ``.table(fmt, **options)`` (the paper table), ``.pareto()`` (an SVG of effectiveness against
    latency and cost) and a notebook view (``notebook.render_html``). Filtering, sorting or selecting keeps all of
    these."""

    _metadata = ["_tir"]
    _tir: ExperimentInfo | None = None

    @property
    def _constructor(self):
        return ExperimentFrame

    def _info(self) -> ExperimentInfo:
        if self._tir is None:
            raise AttributeError("this frame does not come from tir.Experiment (it has no experiment attached)")
        return self._tir

    def _names(self) -> "list[str] | None":
        return list(dict.fromkeys(self["name"])) if "name" in self.columns else None

    @property
    def stages(self) -> pd.DataFrame:
        """One row per pipeline x stage: wall time (``cached`` if read from the stage cache), rows out, peak RSS,
        device, and latency percentiles and QPS when sampled."""
        stages, names = self._info().stages, self._names()
        return stages if names is None or not len(stages) else stages[stages["name"].isin(names)].reset_index(drop=True)

    @property
    def runs(self) -> dict[str, pd.DataFrame]:
        """Each pipeline's results (``qid, docno, score, rank``) by name."""
        names = self._names()
        return {n: r for n, r in self._info().runs.items() if names is None or n in names}

    @property
    def perquery(self) -> pd.DataFrame:
        """``pt.Experiment(..., perquery=True)``'s frame: ``name, qid, measure, value``."""
        return self._info().perquery

    @property
    def results(self) -> pd.DataFrame:
        """The averages table with our figures, as a plain DataFrame."""
        averages = self._info().averages
        return pd.DataFrame(self if averages is None or "measure" not in self.columns else averages)

    def _report(self) -> tuple[pd.DataFrame, dict]:
        """This table and a manifest in the form of the runner's ``results.csv`` / ``manifest.json`` (one baseline):
        pt's ``M reject`` / ``M p-value`` / ``M p-value corrected`` / ``M +`` / ``M -`` as ``M significant vs B``,
        ``M p_value vs B``, ``M p_corrected vs B``, ``M + vs B``, ``M - vs B``."""
        info = self._info()
        frame = pd.DataFrame(self.results).copy()
        metrics = [m for m in info.metrics if m in frame]  # a selection of columns may have left some out
        baselines = [info.baseline] if info.baseline is not None and info.baseline in set(frame["name"]) else []
        for base in baselines:
            other = frame["name"] != base
            for m in metrics:
                if f"{m} reject" in frame:
                    significant = frame[f"{m} reject"].astype(bool)
                elif f"{m} p-value" in frame:
                    significant = frame[f"{m} p-value"] < info.alpha
                else:
                    continue
                frame[f"{m} significant vs {base}"] = significant & other
                for theirs, ours in (("p-value", "p_value"), ("p-value corrected", "p_corrected"), ("+", "+"),
                                     ("-", "-")):
                    if f"{m} {theirs}" in frame:
                        frame[f"{m} {ours} vs {base}"] = frame[f"{m} {theirs}"].where(other)
        test = info.test if isinstance(info.test, str) else getattr(info.test, "__name__", "custom test")
        manifest = {"metrics": metrics, "baselines": baselines,
                    "significance": {"test": test, "correction": info.correction, "alpha": info.alpha},
                    "cost": {"hardware": info.cost.hardware, "usd_per_hour": info.cost.usd_per_hour},
                    "timing": info.timing, "latency": {"queries": info.latency_queries}, "hardware": info.hardware}
        return frame.assign(dataset=""), manifest

    def table(self, fmt: str = "latex", **options) -> str:
        """The paper table of this experiment, as ``tir table`` writes it (``fmt``: ``latex``, ``markdown`` or
        ``text``); ``options`` as a config's ``table:`` section (``columns``, ``digits``, ``names``, ``pipelines``,
        ``width``, ``caption``, ``label``)."""
        from .report import render
        frame, manifest = self._report()
        return render(frame, manifest, fmt, options)

    def to_latex(self, *args, **kwargs) -> str:
        """The paper table (booktabs, ▲/▼ against the baseline, best per column in bold, latency, QPS and $), as
        ``tir table`` writes; :meth:`table` takes options. With arguments: pandas' ``to_latex``."""
        if args or kwargs:
            return super().to_latex(*args, **kwargs)
        return self.table("latex")

    def to_markdown(self, *args, **kwargs) -> str:
        """The same table as :meth:`to_latex`, in Markdown. With arguments: pandas' ``to_markdown``."""
        if args or kwargs:
            return super().to_markdown(*args, **kwargs)
        return self.table("markdown")

    def pareto(self, metric: str | None = None):
        """An SVG figure (shown by notebooks; ``.save(path)``): ``metric`` (default: the first) against batch-1
        latency and against $ per 1M queries, with spreads and the Pareto frontier."""
        from .plots import SVGFigure, pareto_svg
        frame, manifest = self._report()
        return SVGFigure(pareto_svg(frame, manifest, metric or self._info().metrics[0]))

    def _repr_html_(self) -> str | None:
        if self._tir is None:
            return super()._repr_html_()
        from .notebook import render_html, render_selection
        averages = self._info().averages
        if averages is not None and list(self.columns) != list(averages.columns):  # columns the user selected
            return render_selection(pd.DataFrame(self), self.stages)
        frame, manifest = self._report()
        return render_html(frame, self.stages, manifest["metrics"], manifest["baselines"], manifest)
