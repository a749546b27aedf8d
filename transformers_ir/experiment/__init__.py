"""Evaluation, significance, per-stage timing and experiment outputs."""
from .execution import StageTiming, stage_chain
from .experiment import Experiment, ExperimentResult
from .measures import parse_measure, parse_measures, perquery_values
from .outputs import markdown_table, run_path, write_outputs
from .significance import correct, paired_pvalue

__all__ = ["Experiment", "ExperimentResult", "StageTiming", "stage_chain", "parse_measure", "parse_measures",
           "perquery_values", "markdown_table", "run_path", "write_outputs", "correct", "paired_pvalue"]
