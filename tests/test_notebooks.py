"""The notebooks run top to bottom (executed with nbclient) and show real results."""
import runpy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import needs_data

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs must be stripped in git"
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def outputs(nb, mime: str) -> str:
    return "".join(o.get("data", {}).get(mime, "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


@needs_data("vaswani")
def test_quickstart_notebook_runs_and_shows_results():
    nb = execute("quickstart")
    html = outputs(nb, "text/html")
    assert "BM25+RM3" in html and "paired tests" in html and "p corrected" in html  # pt's p-values, folded
    assert "time per stage" in html and ">BM25 " in html  # bars with the stage names written out
    view = next(o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
                if "time per stage" in o.get("data", {}).get("text/html", ""))
    assert "0.0000" not in view  # p-values in scientific notation, $ per 1M queries
    assert "(93, 2083)" in "".join(o.get("data", {}).get("text/plain", "") for o in nb.cells[1].outputs)
    streams = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"]
    assert not [o.text for o in streams if o.name == "stderr"], "no warnings or progress noise in the cells"
    assert r"\toprule" in "".join(o.text for o in streams) and "Pareto frontier" in outputs(nb, "image/svg+xml")


@needs_data("vaswani")
def test_grid_notebook_runs_a_grid_and_resumes():
    nb = execute("grid")
    html = outputs(nb, "text/html")
    assert "sweep (k1=1.8)" in html and "time per stage" in html and "sweep[k1=1.8]" in html  # bars, then frame
    markdown = outputs(nb, "text/markdown")
    assert "**" in markdown and "paired t-test, Holm correction" in markdown  # bold, the test in the legend
    assert "Pareto frontier" in outputs(nb, "image/svg+xml")
    assert "(4, {'hits': 0, 'misses': 0, 'corrupt': 0})" in outputs(nb, "text/plain")


@pytest.mark.parametrize("name", ["quickstart", "grid"])
def test_notebook_matches_its_generator(name):
    built = runpy.run_path(str(NOTEBOOKS / "make_notebooks.py"))["build"](name)
    stored = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert [c.source for c in stored.cells] == [c.source for c in built.cells]
