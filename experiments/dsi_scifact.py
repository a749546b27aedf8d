"""Run configs/dsi-scifact.yaml on SciFact, or on a slice small enough to index by training on a CPU: every document
judged for a test query, the documents of the first TRAIN_TOPICS train queries, and random others up to DOCS
documents; all test queries, and those train queries. DOCS=0: the full corpus and all train queries. EPOCHS caps
the DSI training epochs; further STAGE.PARAM=VALUE arguments set stage parameters. `--prepare STAGE` only indexes
(trains) that DSI stage, so that the two DSI models can train side by side in two processes before the run.
Output recorded in experiments/dsi_scifact.md.

    TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 .venv/bin/python experiments/dsi_scifact.py [DOCS] [TRAIN_TOPICS] \
        [EPOCHS] [STAGE.PARAM=VALUE ...] [--prepare STAGE]
"""
import sys
from pathlib import Path

import numpy as np
import yaml

import transformers_ir as tir
from transformers_ir.data import write_folder
from transformers_ir.runner import run_config

args = sys.argv[1:]
prepare = args.pop(args.index("--prepare") + 1) if "--prepare" in args else None
args = [a for a in args if a != "--prepare"]
docs_n = int(args[0]) if len(args) > 0 else 600
train_n = int(args[1]) if len(args) > 1 else 150
epochs = int(args[2]) if len(args) > 2 else 30
out = Path("results") / (f"dsi-scifact-slice-{docs_n}" if docs_n else "dsi-scifact-full")
config = yaml.safe_load(Path("configs/dsi-scifact.yaml").read_text())
config.update(name=out.name, output=str(out / "results"))
for stage in ("dsi_naive", "dsi_semantic"):
    config["stages"][stage]["epochs"] = epochs
for setting in args[3:]:
    dotted, _, value = setting.partition("=")
    stage, _, param = dotted.partition(".")
    config["stages"][stage][param] = yaml.safe_load(value)

if docs_n:
    scifact = tir.load_dataset("scifact")
    folder = out / f"scifact-slice-{docs_n}"
    folder.mkdir(parents=True, exist_ok=True)
    test_qrels, train_qrels = scifact.qrels("test"), scifact.qrels("train")
    train_topics = scifact.topics("train").head(train_n)
    train_qrels = train_qrels[train_qrels["qid"].isin(train_topics["qid"])]
    keep = list(dict.fromkeys([*test_qrels["docno"], *train_qrels["docno"]]))
    corpus = {str(d["docno"]): d for d in scifact.corpus_iter()}
    others = sorted(set(corpus) - set(keep))
    keep += list(np.random.default_rng(0).choice(others, max(0, docs_n - len(keep)), replace=False))
    write_folder(folder, [corpus[d] for d in keep], scifact.topics("test"), test_qrels, split="test")
    write_folder(folder, None, train_topics, train_qrels, split="train")
    config["dataset"] = str(folder.resolve())
    print(f"slice: {len(keep)} documents ({test_qrels['docno'].nunique()} judged for test), "
          f"{train_topics['qid'].nunique()} train topics")
if prepare:
    spec = {k: v for k, v in config["stages"][prepare].items() if k != "class"}
    tir.DSI(config["dataset"], **spec).prepare()
    sys.exit(0)
out.mkdir(parents=True, exist_ok=True)
path = out / "config.yaml"
path.write_text(yaml.safe_dump(config, sort_keys=False))
run_config(path)
