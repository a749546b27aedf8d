"""``include:``: recipes from pipelines/ by name, files by relative path, conflicts named with both places, errors
inside an included file named with that file and line, and every project recipe loadable and runnable."""
import textwrap

import pytest

from transformers_ir.cli import main
from transformers_ir.config import ConfigError, expand, load_config
from transformers_ir.config.include import available_recipes, load_recipe
from transformers_ir.runner import run_config

from .conftest import needs_data

BASE = """\
name: t
dataset: adi
metrics: [AP]
"""


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def points(path):
    config, doc = load_config(str(path))
    return {p.name: p.expression for p in expand(config, doc)}, config


def test_a_bare_name_includes_the_project_recipe(tmp_path):
    found, config = points(write(tmp_path, "c.yaml", BASE + "include: [rm3]\n"))
    assert found == {"BM25": "bm25 % 1000", "BM25+RM3": "bm25 % 10 >> rm3 >> bm25 % 1000"}  # rm3 includes bm25
    assert config.stages["bm25"] == {"class": "BM25", "k1": 0.9, "b": 0.4}


def test_a_relative_path_and_the_including_file_overriding_it(tmp_path):
    write(tmp_path, "recipes/mine.yaml", """\
        stages:
          first: {class: BM25, k1: 1.2}
        pipelines:
          Mine: first % 100
        """)
    found, config = points(write(tmp_path, "configs/c.yaml", BASE + "include: [../recipes/mine.yaml, bm25]\n"
                                 "stages:\n  first: {class: BM25, k1: 2.0}\n"))
    assert list(found) == ["Mine", "BM25"]  # included first, in include order
    assert config.stages["first"]["k1"] == 2.0  # the including file's own definition wins


def test_one_name_from_two_included_files_is_an_error_naming_both(tmp_path):
    write(tmp_path, "a.yaml", "stages:\n  bm25: {class: BM25, k1: 1.2}\npipelines:\n  A: bm25 % 10\n")
    with pytest.raises(ConfigError, match=r"(?s)bm25.yaml:3: key 'stages.bm25': stage 'bm25' is also defined at "
                                          r".*a.yaml:2; define it in c.yaml to choose"):
        points(write(tmp_path, "c.yaml", BASE + "include: [./a.yaml, bm25]\n"))


def test_the_same_definition_reached_twice_is_not_a_conflict(tmp_path):
    found, _ = points(write(tmp_path, "c.yaml", BASE + "include: [rm3, fastforward]\n"))  # both include bm25
    assert set(found) == {"BM25", "BM25+RM3", "FastForward"}


def test_an_error_inside_an_included_file_names_that_file_and_line(tmp_path):
    write(tmp_path, "bad.yaml", "stages:\n  x: {class: BM25, k1: -1}\npipelines:\n  X: x % 10\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: key 'stages.x.k1': BM25: parameter 'k1' should be greater"):
        run_config(write(tmp_path, "c.yaml", BASE + "include: [./bad.yaml]\n"), tmp_path / "out", echo=lambda _: None)
    write(tmp_path, "syntax.yaml", "stages:\n  x: {class: BM25\n")
    with pytest.raises(ConfigError, match=r"syntax.yaml:\d+: invalid YAML"):
        points(write(tmp_path, "c.yaml", BASE + "include: [./syntax.yaml]\n"))
    write(tmp_path, "other.yaml", "stages: {}\ngrid: {x.k1: [1]}\n")
    with pytest.raises(ConfigError, match=r"other.yaml:2: key 'grid': unknown key in a recipe"):
        points(write(tmp_path, "c.yaml", BASE + "include: [./other.yaml]\n"))


def test_unknown_recipes_and_include_cycles_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"c.yaml:4: key 'include.0': no recipe 'bm52' \(a name from bm25, "):
        points(write(tmp_path, "c.yaml", BASE + "include: [bm52]\n"))
    write(tmp_path, "loop.yaml", "include: [./loop2.yaml]\n")
    write(tmp_path, "loop2.yaml", "include: [./loop.yaml]\n")
    with pytest.raises(ConfigError, match="includes itself"):
        points(write(tmp_path, "c.yaml", BASE + "include: [./loop.yaml]\n"))


def test_every_project_recipe_loads_and_tir_pipelines_lists_it(capsys):
    recipes = available_recipes()
    assert {"bm25", "rm3", "dense", "fastforward", "cross-encoder", "colbert", "dsi"} <= set(recipes)
    for path in recipes.values():
        recipe = load_recipe(path)
        assert recipe.data.get("description") and recipe.data.get("pipelines"), path
    assert main(["pipelines"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(recipes) and listed[0].startswith("bm25 ")


@needs_data("adi")
def test_a_config_of_recipes_runs(tmp_path):
    summary = run_config(write(tmp_path, "c.yaml", BASE + "include: [rm3]\nbaseline: BM25\n"), tmp_path / "out",
                         echo=lambda _: None)
    ap = summary.results.set_index("name")["AP"]
    assert set(ap.index) == {"BM25", "BM25+RM3"} and ap["BM25"] > 0.3
