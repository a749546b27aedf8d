"""Training examples from qrels and a retrieval run: the one hard-negative miner every trainable stage uses."""
from __future__ import annotations

import random

import pandas as pd

from ..core import require_columns


def mine_pairs(topics: pd.DataFrame, qrels: pd.DataFrame, run: pd.DataFrame,
               num_negatives: int | None) -> pd.DataFrame:
    """``qid, query, docno, label``: each judged-relevant document (label 1) and the ``num_negatives`` best-ranked
    documents of ``run`` that are not judged relevant (label 0; ``None``: all of them, in rank order), for the
    topics with at least one relevant document."""
    require_columns("training topics", topics.columns, ["qid", "query"])
    require_columns("training qrels", qrels.columns, ["qid", "docno", "label"])
    positives = qrels[qrels["label"] > 0][["qid", "docno"]].astype(str).assign(label=1.0)
    run = run.assign(qid=run["qid"].astype(str), docno=run["docno"].astype(str)).sort_values(["qid", "rank"],
                                                                                             kind="stable")
    negatives = run.merge(positives[["qid", "docno"]], how="left", indicator=True)
    negatives = negatives[negatives["_merge"] == "left_only"].groupby("qid", sort=False)
    negatives = negatives.head(num_negatives) if num_negatives is not None else negatives.head(len(run))
    pairs = pd.concat([positives, negatives[["qid", "docno"]].assign(label=0.0)], ignore_index=True)
    pairs = pairs[pairs["qid"].isin(positives["qid"])]
    queries = topics.assign(qid=topics["qid"].astype(str))[["qid", "query"]]
    return pairs.merge(queries, on="qid")[["qid", "query", "docno", "label"]]


def mine_triples(pairs: pd.DataFrame, num_negatives: int = 1, seed: int | None = None) -> pd.DataFrame:
    """``qid, query, positive, negative`` docnos from :func:`mine_pairs`' output: per topic (by qid) and relevant
    document (by docno), its topic's first ``num_negatives`` negatives in rank order — or, with ``seed``,
    ``num_negatives`` drawn at random. Topics without a negative give no triple."""
    rng = random.Random(seed) if seed is not None else None
    rows = []
    for qid, group in pairs.groupby("qid", sort=True):
        negatives = group.loc[group["label"] <= 0, "docno"].tolist()
        if not negatives:
            continue
        query = group["query"].iloc[0]
        for positive in sorted(group.loc[group["label"] > 0, "docno"]):
            chosen = ([rng.choice(negatives) for _ in range(num_negatives)] if rng is not None
                      else negatives[:num_negatives])
            rows += [(qid, query, positive, negative) for negative in chosen]
    return pd.DataFrame(rows, columns=["qid", "query", "positive", "negative"])
