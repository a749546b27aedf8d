"""Evaluation, significance, per-stage timing and experiment outputs."""
from .cache import StageCache
from .cost import Cost, resolve_cost
from .execution import StageRecord, stage_chain
from .experiment import ExperimentResult, PipelineResult, assemble, render_html, run_pipelines
from .frame import ExperimentFrame
from .measures import parse_measure, parse_measures, perquery_values
from .pt_experiment import Experiment
from .significance import add_significance, correct, paired_pvalue

__all__ = ["Experiment", "ExperimentFrame", "ExperimentResult", "render_html", "PipelineResult", "assemble",
           "run_pipelines", "StageCache", "Cost",
           "resolve_cost", "StageRecord", "add_significance", "stage_chain", "parse_measure", "parse_measures",
           "perquery_values", "correct", "paired_pvalue"]
