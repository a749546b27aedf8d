"""A fast, talkative `tir`: help and table rendering load no heavy library; long work shows progress on a
terminal only; --quiet silences it."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from transformers_ir.cli import main
from transformers_ir.core.progress import show_progress

from .test_report import write_fixture

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "sentence_transformers", "pyterrier", "pandas", "scipy", "matplotlib")


def modules_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has imported after running ``code``."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_imports_no_library():
    loaded = modules_after("from transformers_ir.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n"
                           "    pass")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert not loaded & {"numpy", "yaml"}


def test_table_does_not_import_torch(tmp_path):
    out = write_fixture(tmp_path / "out")
    loaded = modules_after(f"from transformers_ir.cli import main\nassert main(['table', {str(out)!r}]) == 0")
    assert "pandas" in loaded  # it did render
    assert not loaded & {"torch", "transformers", "sentence_transformers", "matplotlib"}


def test_table_options_on_the_command_line(tmp_path, capsys):
    out = write_fixture(tmp_path / "out")
    assert main(["table", str(out), "--format", "latex", "--columns", "AP", "qps", "--width", "page"]) == 0
    latex = capsys.readouterr().out
    assert r"Pipeline & AP & QPS & AP & QPS \\" in latex and r"\begin{table*}" in latex
    assert main(["table", str(out), "--columns", "MAP"]) == 2
    assert "table.columns.0: unknown column 'MAP'" in capsys.readouterr().err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only(monkeypatch):
    monkeypatch.delenv("TIR_PROGRESS", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not show_progress() and show_progress(verbose=True)
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert show_progress()
    monkeypatch.setenv("TIR_PROGRESS", "0")
    assert not show_progress() and not show_progress(verbose=True)
    monkeypatch.setenv("TIR_PROGRESS", "1")
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert show_progress()


def test_index_building_shows_a_bar_on_a_terminal(monkeypatch, tmp_path):
    from transformers_ir.sparse import PisaTextIndex
    monkeypatch.delenv("TIR_PROGRESS", raising=False)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    docs = [{"docno": f"d{i}", "text": f"document number {i} about retrieval"} for i in range(50)]
    PisaTextIndex(tmp_path / "index").build(docs)
    assert "PISA: indexing iterable" in terminal.getvalue() and "50doc" in terminal.getvalue().replace(" ", "")
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    monkeypatch.setenv("TIR_PROGRESS", "0")
    PisaTextIndex(tmp_path / "index2").build(docs)
    assert quiet.getvalue() == ""


def test_quiet_turns_progress_off(monkeypatch, tmp_path):
    monkeypatch.delenv("TIR_PROGRESS", raising=False)
    assert main(["run", str(tmp_path / "missing.yaml"), "--quiet"]) == 2
    assert os.environ["TIR_PROGRESS"] == "0"
    monkeypatch.delenv("TIR_PROGRESS")


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["table", "--help"]])
def test_help_runs(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0 and "usage: tir" in capsys.readouterr().out
