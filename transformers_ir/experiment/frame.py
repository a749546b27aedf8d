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


class ExperimentFrame(pd.DataFrame):
    """``pt.Experiment``'s frame (same columns, same values) plus our figures as extra columns (``mrt_ms``,
    ``qps``, ``usd_per_1k_queries``, ``peak_rss_mb``, latency percentiles when sampled, ...), with
    ``.stages`` (per-stage times), ``.runs`` (each pipeline's results), ``.perquery`` (pt's per-query frame),
    ``.to_latex()`` (a paper table), ``.pareto()`` (effectiveness against latency and cost) and a notebook view
    with per-stage time bars. Filtering, sorting or selecting keeps all of these."""

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

    def _report(self) -> tuple[pd.DataFrame, dict, list]:
        """This table, a manifest in the form of the runner's ``results.csv`` / ``manifest.json`` (one baseline), and
        the efficiency columns: latency p50 when sampled, else the mean response time."""
        info = self._info()
        frame = pd.DataFrame(self.results).copy()
        baselines = [info.baseline] if info.baseline is not None and info.baseline in set(frame["name"]) else []
        for base in baselines:
            for m in info.metrics:
                reject = frame.get(f"{m} reject")
                significant = reject.astype(bool) if reject is not None else frame[f"{m} p-value"] < info.alpha
                frame[f"{m} significant vs {base}"] = significant & (frame["name"] != base)
        test = info.test if isinstance(info.test, str) else getattr(info.test, "__name__", "custom test")
        manifest = {"metrics": info.metrics, "baselines": baselines,
                    "significance": {"test": test, "correction": info.correction, "alpha": info.alpha},
                    "cost": {"hardware": info.cost.hardware, "usd_per_hour": info.cost.usd_per_hour}}
        from .report import EFFICIENCY
        efficiency = EFFICIENCY if self._latency_sampled() else \
            [("mrt_ms", "Mean latency (ms)", False, 2)] + [e for e in EFFICIENCY if e[0] != "latency_p50_ms"]
        return frame, manifest, efficiency

    def _latency_sampled(self) -> bool:
        frame = self.results
        return "latency_p50_ms" in frame and bool(frame["latency_p50_ms"].notna().any())

    def to_latex(self, *args, **kwargs) -> str:
        """A paper table (booktabs; best per column in bold; a dagger where the corrected test says a value differs
        from the baseline; latency, QPS and $ columns), as ``tir table`` writes. With arguments: pandas'
        ``to_latex``."""
        if args or kwargs:
            return super().to_latex(*args, **kwargs)
        from .report import render_frame
        frame, manifest, efficiency = self._report()
        return render_frame(frame, manifest, "latex", efficiency)

    def to_markdown(self, *args, **kwargs) -> str:
        """The same table as :meth:`to_latex`, in Markdown. With arguments: pandas' ``to_markdown``."""
        if args or kwargs:
            return super().to_markdown(*args, **kwargs)
        from .report import render_frame
        frame, manifest, efficiency = self._report()
        return render_frame(frame, manifest, "markdown", efficiency)

    def pareto(self, metric: str | None = None):
        """A matplotlib figure: ``metric`` (default: the first) against latency (p50 when sampled, else the mean
        response time) and against $ per 1k queries, Pareto frontier drawn."""
        from .plots import draw_pareto, notebook_figure
        info = self._info()
        frame = self.results
        metric = metric or info.metrics[0]
        latency = ("latency_p50_ms", "Latency p50 (ms)") if self._latency_sampled() else ("mrt_ms", "Mean latency (ms)")
        panels = [latency, ("usd_per_1k_queries", "$ per 1k queries")]
        fig = notebook_figure(figsize=(11, 4), layout="constrained")
        for ax, (column, label) in zip(fig.subplots(1, 2), panels):
            draw_pareto(ax, frame, column, label, metric)
            ax.set_title(f"{metric} vs {label}", fontsize=9, parse_math=False)
        return fig

    def _repr_html_(self) -> str | None:
        if self._tir is None:
            return super()._repr_html_()
        from .experiment import render_html
        return render_html(pd.DataFrame(self), self.stages)
