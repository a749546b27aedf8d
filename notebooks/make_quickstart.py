"""Writes notebooks/quickstart.ipynb (outputs stripped). Edit the cells here, then run this script."""
from pathlib import Path

import nbformat

CELLS = [
    ("markdown", "# transformers-ir quickstart\nBM25 on Vaswani, two pipeline expressions, one experiment."),
    ("code", "import transformers_ir as tir\n\nvaswani = tir.load_dataset(\"vaswani\")  # found on $TIR_DATA_PATH\n"
             "topics, qrels = vaswani.topics(), vaswani.qrels()\nlen(topics), len(qrels)"),
    ("code", "bm25 = tir.BM25(vaswani, k1=0.9, b=0.4)  # PISA index built on first use, then reused\n"
             "pipelines = {\n    \"BM25\": bm25 % 1000,\n"
             "    \"BM25 top-10 + text\": bm25 % 10 >> vaswani.text_loader(),\n}"),
    ("code", "result = tir.Experiment(pipelines, topics, qrels, [\"AP\", \"nDCG@10\"], baseline=\"BM25\")\nresult"),
    ("code", "result.stages  # wall time of each stage of each pipeline"),
]


def build() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
                for kind, src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    nbformat.write(build(), Path(__file__).with_name("quickstart.ipynb"))
