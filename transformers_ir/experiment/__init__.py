"""Evaluation, significance, per-stage timing and memory, and experiment outputs (tables, plots, notebook view)."""
from .cache import StageCache
from .cost import Cost, resolve_cost
from .execution import StageRecord, stage_chain
from .experiment import ExperimentResult, PipelineResult, assemble, run_pipelines
from .frame import ExperimentFrame
from .measures import parse_measure, parse_measures, perquery_values
from .notebook import render_html
from .pt_experiment import Experiment
from .significance import add_significance, correct, paired_pvalue
from .timing import TimingPlan, hardware

__all__ = ["Experiment", "ExperimentFrame", "ExperimentResult", "render_html", "PipelineResult", "assemble",
           "run_pipelines", "StageCache", "Cost", "resolve_cost", "StageRecord", "add_significance", "stage_chain",
           "parse_measure", "parse_measures", "perquery_values", "correct", "paired_pvalue", "TimingPlan", "hardware"]
