"""The stage contract (transformers_ir/core/stage.py), checked over every class a config can name: each keeps it
— repr, config and fingerprint derived from its declared parameters, a YAML round trip to an equal fingerprint,
validation of every annotated parameter — and the registry takes our names, dotted paths and plugins."""
import inspect
import sys
import tempfile
import textwrap
import typing
from pathlib import Path

import pytest

import transformers_ir as tir
from transformers_ir.config import ConfigError
from transformers_ir.core.fingerprint import stage_fingerprint
from transformers_ir.core.stage import ParameterError, Stage
from transformers_ir.encoders import bundled_minilm
from transformers_ir.registry import ENTRY_POINTS, Registry, stage_registry
from transformers_ir.runner import run_config

from .conftest import needs_data

pytestmark = needs_data("adi")
MODEL = str(bundled_minilm())
ADI_RUN = Path(tempfile.mkdtemp(prefix="tir-contract-")) / "adi.run"  # RunFile's example reads a run file
ADI_RUN.write_text("1 Q0 1 1 2.5 example\n1 Q0 7 2 1.5 example\n2 Q0 3 1 0.5 example\n")

# One construction per stage class a config can name; a class without one fails the test below.
EXAMPLES = {
    "BM25": lambda: tir.BM25("adi", k1=1.2, b=0.75, stemmer="porter", num_results=50),
    "LuceneBM25": lambda: tir.LuceneBM25("adi", k1=0.8, num_results=20),
    "TextLoader": lambda: tir.TextLoader("adi", fields=("title", "text")),
    "Dense": lambda: tir.Dense("adi", model=MODEL, index_type="hnsw", num_results=30),
    "DenseScorer": lambda: tir.DenseScorer("adi", model=MODEL, max_length=128),
    "CrossEncoder": lambda: tir.CrossEncoder(MODEL, max_length=64),
    "ColBERT": lambda: tir.ColBERT("adi", MODEL, pool_factor=2.0, dim=64),
    "SPLADE": lambda: tir.SPLADE("adi", MODEL, doc_top_k=64, scale=50.0, mode="rescore"),
    "UniCOIL": lambda: tir.UniCOIL("adi", MODEL, scale=20.0),
    "DSI": lambda: tir.DSI("adi", docids="semantic", leaf_size=20, epochs=5, learning_rate=5e-4),
    "RM3": lambda: tir.RM3("adi", fb_docs=5, fb_terms=20, fb_lambda=0.6),
    "RunFile": lambda: tir.RunFile("adi", ADI_RUN),
}


@pytest.fixture(scope="module")
def registry():
    return stage_registry()


def test_every_registered_stage_has_an_example_and_keeps_the_contract(registry):
    assert set(registry) == set(EXAMPLES), "add an example for each new stage class"
    for name in registry:
        stage = EXAMPLES[name]()
        assert isinstance(stage, Stage), name
        params = type(stage).parameters()
        hints = typing.get_type_hints(inspect.unwrap(type(stage).__init__), include_extras=True)
        assert set(params) <= set(hints), f"{name}: every parameter is annotated"
        config = stage.to_config()
        assert set(config) <= set(params), name
        assert repr(stage).startswith(f"{name}(") and "<" not in repr(stage), repr(stage)
        fingerprint = stage.fingerprint()
        assert not set(fingerprint) & type(stage).runtime_params, f"{name}: runtime parameters stay out"


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_yaml_round_trip_gives_an_equal_fingerprint(name):
    stage = EXAMPLES[name]()
    pipeline = stage >> tir.TextLoader("adi") if name != "TextLoader" else stage
    text = tir.to_yaml({"p": pipeline})
    again = tir.from_yaml(text)["p"]
    assert stage_fingerprint(again) == stage_fingerprint(pipeline), text
    assert tir.to_yaml({"p": again}) == text


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_changing_any_parameter_changes_the_fingerprint_or_is_runtime(name):
    stage = EXAMPLES[name]()
    for param in type(stage).parameters():
        if param in type(stage).runtime_params or param in ("dataset", "index", "backend"):
            continue
        value = stage._value(param)
        other = _another_value(stage, param, value)
        if other is None:
            continue
        try:
            changed = stage.replace(**{param: other})
        except (ParameterError, ValueError):
            continue  # the other value is not valid together with the rest
        assert changed.fingerprint() != stage.fingerprint(), f"{name}.{param}: {value!r} -> {other!r}"


# Settings that say how a stage runs, never what it returns: the only parameters a fingerprint may leave out.
RUNTIME = {"device", "threads", "batch_size", "encode_batch", "verbose"}
RUNTIME_ALSO = {"SPLADE": {"bf16"}}  # bf16 candidates re-checked in float32: the same vectors (test_splade)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_only_settings_that_cannot_change_a_result_are_runtime(name):
    stage = EXAMPLES[name]()
    runtime = set(type(stage).runtime_params) & set(type(stage).parameters())
    assert runtime <= RUNTIME | RUNTIME_ALSO.get(name, set()), f"{name}: {sorted(runtime)}"


def _another_value(stage, param, value):
    annotation = type(stage).parameters()[param].annotation
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2 if value else 0.5
    options = [a for a in typing.get_args(annotation) if isinstance(a, str)]
    if typing.get_origin(annotation) is typing.Literal:
        return next((o for o in options if o != value), None)
    if value is None:
        return 2 if "int" in str(annotation) else 0.5 if "float" in str(annotation) else None
    return None


@pytest.mark.parametrize("name, param, value", [
    ("BM25", "k1", -1), ("BM25", "b", 1.5), ("BM25", "num_results", 0), ("Dense", "index_type", "ivf"),
    ("ColBERT", "pool_factor", 0.5), ("SPLADE", "scale", 0), ("SPLADE", "query_encoder", "bm25"),
    ("DSI", "target_accuracy", 2.0), ("DSI", "branches", 1), ("TextLoader", "fields", ["body"]),
    ("RM3", "fb_lambda", 1.5), ("RM3", "max_df", 0), ("BM25", "dataset", 5),
])
def test_bad_values_are_refused_by_python_and_yaml_alike(tmp_path, name, param, value):
    stage = EXAMPLES[name]()
    with pytest.raises(ParameterError, match=f"{name}: parameter '{param}'"):
        stage.replace(**{param: value})
    config = tmp_path / "c.yaml"
    config.write_text(f"name: t\ndataset: adi\nmetrics: [AP]\nstages:\n  s: {{class: {name}, {param}: {value!r}}}\n"
                      f"pipelines:\n  p: s\n")
    with pytest.raises(ConfigError, match=rf"c.yaml:5: key 'stages.s.{param}': {name}: parameter '{param}'"):
        run_config(config, tmp_path / "out", echo=lambda _: None)


# --- the open registry ----------------------------------------------------------------------------------------

def test_a_dotted_class_path_runs_in_a_config_and_to_yaml_writes_it(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: t\ndataset: adi\nmetrics: [AP]\nstages:\n  bm25: {class: BM25}\n"
                      "  nap: {class: tests.stages.Sleepy, seconds: 0.0}\npipelines:\n  p: bm25 % 10 >> nap\n")
    summary = run_config(config, tmp_path / "out", echo=lambda _: None)
    assert summary.results["AP"].iloc[0] > 0
    from tests.stages import Sleepy
    text = tir.to_yaml(tir.BM25("adi") >> Sleepy(0.5))
    assert "class: tests.stages.Sleepy" in text and "seconds: 0.5" in text
    assert stage_fingerprint(tir.from_yaml(text)["pipeline"]) == stage_fingerprint(tir.BM25("adi") >> Sleepy(0.5))


def test_a_dotted_path_that_does_not_import_is_named(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("name: t\ndataset: adi\nmetrics: [AP]\nstages:\n  x: {class: nopkg.mod.Thing}\npipelines:\n  p: x\n")
    with pytest.raises(ConfigError, match=r"c.yaml:5: key 'stages.x.class': stage class 'nopkg.mod.Thing' cannot be "
                                          r"imported: No module named 'nopkg'"):
        run_config(config, tmp_path / "out", echo=lambda _: None)
    config.write_text(config.read_text().replace("nopkg.mod.Thing", "os.path"))
    with pytest.raises(ConfigError, match=r"'os.path' is not a PyTerrier transformer class"):
        run_config(config, tmp_path / "out", echo=lambda _: None)


def test_an_entry_point_plugin_is_named_in_configs(tmp_path, monkeypatch):
    (tmp_path / "myplugin.py").write_text(textwrap.dedent("""
        from transformers_ir.core.stage import Stage

        class Reverse(Stage):
            def __init__(self, depth: int = 3):
                self.depth = depth
            def transform(self, df):
                return df.assign(score=-df["score"]).sort_values(["qid", "score"], ascending=[True, False])
    """))
    info = tmp_path / "myplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINTS}]\nReverse = myplugin:Reverse\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    assert "Reverse" in list(registry) and registry["Reverse"].__name__ == "Reverse"
    assert registry.name_of(registry["Reverse"]) == "Reverse"
    config = tmp_path / "c.yaml"
    config.write_text("name: t\ndataset: adi\nmetrics: [AP]\nstages:\n  bm25: {class: BM25}\n"
                      "  rev: {class: Reverse, depth: 2}\npipelines:\n  p: bm25 % 10 >> rev\n  b: bm25 % 10\n")
    summary = run_config(config, tmp_path / "out", echo=lambda _: None)
    ap = summary.results.set_index("name")["AP"]
    assert ap["p"] < ap["b"]  # reversing BM25's order hurts
    sys.modules.pop("myplugin", None)


def test_dsi_fingerprint_trains_nothing():
    dsi = EXAMPLES["DSI"]()
    before = dsi.index.built()
    dsi.fingerprint()
    assert dsi.index.built() == before and dsi._loaded is None
