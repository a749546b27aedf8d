"""Writes the notebooks in this folder (outputs stripped). Edit the cells here, then run this script."""
from pathlib import Path

import nbformat

NOTEBOOKS = {
    "quickstart": [
        ("markdown", "# transformers-ir quickstart\nPyTerrier code, unchanged, run by `tir.Experiment`: BM25, BM25+RM3 "
                     "and a cached user function on Vaswani, with significance, per-stage times and cost."),
        ("code", "import pyterrier as pt\nimport transformers_ir as tir\n\n"
                 "vaswani = tir.load_dataset(\"vaswani\")  # found on $TIR_DATA_PATH; also a pt.datasets.Dataset\n"
                 "topics, qrels = vaswani.get_topics(), vaswani.get_qrels()\nlen(topics), len(qrels)"),
        ("code", "bm25 = tir.BM25(vaswani, k1=0.9, b=0.4)  # PISA index built on first use, then reused\n"
                 "rm3 = tir.RM3(vaswani, fb_docs=10, fb_terms=10, fb_lambda=0.5)\n"
                 "# a user function, cached like the stages under a key you change when the function changes\n"
                 "prior = tir.cached(pt.apply.doc_score(lambda r: r[\"score\"] + 0.05 * len(r[\"text\"].split()) ** 0.5),\n"
                 "                   key=\"length-prior-v1\")"),
        ("markdown", "The experiment exactly as a PyTerrier user writes it for `pt.Experiment` (same arguments, same "
                     "columns and values); our figures come as extra columns."),
        ("code", "result = tir.Experiment(\n"
                 "    [bm25 % 1000, bm25 % 10 >> rm3 >> bm25 % 1000, bm25 % 10 >> pt.text.get_text(vaswani, \"text\") >> prior],\n"
                 "    topics, qrels, eval_metrics=[\"map\", \"ndcg_cut_10\"],\n"
                 "    names=[\"BM25\", \"BM25+RM3\", \"BM25 top-10 + prior\"], baseline=0, correction=\"holm\")\n"
                 "result  # metrics with markers, latency (10 sampled queries), QPS, $, RSS; time per stage"),
        ("code", "result.sort_values(\"map\", ascending=False)[[\"name\", \"map\", \"map p-value corrected\", \"mrt_ms\", "
                 "\"qps\", \"usd_per_1m_queries\"]]"),
        ("code", "result.stages  # each stage's time (median, min, max of 3 runs after a warm-up), memory, cached"),
        ("code", "print(result.to_latex())  # the paper table: best in bold, ▲/▼ where Holm finds it beats/trails BM25"),
        ("code", "result.pareto()  # MAP against latency and against $ per 1M queries"),
    ],
    "grid": [
        ("markdown", "# A small grid\nBM25 swept over k1 on Vaswani with a baseline, significance and cost; "
                     "the same config format as `tir run`. Re-running the cell resumes: nothing is recomputed."),
        ("code", "import tempfile, textwrap\nfrom pathlib import Path\n"
                 "from IPython.display import SVG, Markdown\n"
                 "from transformers_ir.runner import run_config\n\n"
                 "work = Path(tempfile.mkdtemp())\n"
                 "(work / \"grid.yaml\").write_text(textwrap.dedent(\"\"\"\\\n"
                 "    name: notebook-grid\n    dataset: vaswani\n    metrics: [AP, nDCG@10]\n"
                 "    stages:\n      bm25: {class: BM25, b: 0.4}\n      base: {class: BM25}\n"
                 "    grid:\n      bm25.k1: [0.6, 1.2, 1.8]\n"
                 "    pipelines:\n      BM25: base % 1000\n      sweep: bm25 % 1000\n"
                 "    baseline: BM25\n    significance: {test: t, correction: holm}\n"
                 "    cost: {hardware: 2-core CPU VM, usd_per_hour: 0.096}\n    latency: {queries: 10}\n"
                 "\"\"\"))\n"
                 "summary = run_config(work / \"grid.yaml\", work / \"out\", echo=lambda *a: None)\n"
                 "summary  # the table, with latency spreads and each pipeline's time per stage"),
        ("code", "summary.results[[\"name\", \"AP\", \"nDCG@10\", \"latency_p50_ms\", \"usd_per_1m_queries\"]]"),
        ("code", "Markdown((work / \"out\" / \"table.md\").read_text())  # what goes into a paper (table.tex too)"),
        ("code", "SVG(filename=str(work / \"out\" / \"pareto.svg\"))  # AP (the first metric) against latency and cost"),
        ("code", "again = run_config(work / \"grid.yaml\", work / \"out\", echo=lambda *a: None)\n"
                 "again.resumed, again.cache"),
    ],
}


def build(name: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
                for kind, src in NOTEBOOKS[name]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    for name in NOTEBOOKS:
        nbformat.write(build(name), Path(__file__).with_name(f"{name}.ipynb"))
