"""The notebooks run top to bottom (executed with nbclient) and show real results."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .conftest import needs_data

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@needs_data("vaswani")
def test_quickstart_notebook_runs_and_shows_results():
    nb = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "outputs must be stripped in git"
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    html = "".join(o.get("data", {}).get("text/html", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs)
    assert "AP p_value" in html and "time per stage" in html
    text = "".join(o.get("data", {}).get("text/plain", "") for o in nb.cells[1].outputs)
    assert "(93, 2083)" in text


@pytest.mark.parametrize("name", ["quickstart"])
def test_notebook_matches_its_generator(name):
    import runpy
    built = runpy.run_path(str(NOTEBOOKS / f"make_{name}.py"))["build"]()
    stored = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert [c.source for c in stored.cells] == [c.source for c in built.cells]
