"""Fine-tune a cross-encoder from the bundled all-MiniLM-L6-v2 on SciFact train (negatives from BM25 % 50) and
re-rank BM25 % 100 on SciFact test; prints nDCG@10 vs BM25 with a paired t-test. Output recorded in
experiments/train_cross_encoder.md.

    TIR_DATA_PATH=../shared/data HF_HUB_OFFLINE=1 .venv/bin/python experiments/train_cross_encoder.py \
        [TOPICS] [LR] [OUT] [EPOCHS] [TEST_TOPICS] [DEPTH]

The checkpoint goes to OUT (default ``models/minilm-ce-scifact``, the model ``configs/neural-scifact.yaml`` uses).
Evaluation re-ranks BM25 % DEPTH (default 100) for the first TEST_TOPICS test topics (default all 300).
"""
import sys
import time

import transformers_ir as tir

topics_n = int(sys.argv[1]) if len(sys.argv) > 1 else 809
lr = float(sys.argv[2]) if len(sys.argv) > 2 else 5e-5
out = sys.argv[3] if len(sys.argv) > 3 else "models/minilm-ce-scifact"
epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
test_n = int(sys.argv[5]) if len(sys.argv) > 5 else 300
depth = int(sys.argv[6]) if len(sys.argv) > 6 else 100
ds = tir.load_dataset("scifact")
bm25 = tir.BM25(ds, k1=0.9, b=0.4)
train = ds.topics("train").head(topics_n)
start = time.perf_counter()
ce = tir.CrossEncoder(tir.encoders.bundled_minilm(), max_length=128, batch_size=32)
ce = ce.fit(train, ds.qrels("train"), negatives=bm25 % 50, dataset=ds, output_dir=out, epochs=epochs, batch_size=16,
            num_negatives=3, learning_rate=lr)
trained = time.perf_counter() - start
res = tir.Experiment({"BM25": bm25 % depth, "BM25>>CE": bm25 % depth >> ds.text_loader(("title", "text")) >> ce},
                     ds.topics("test").head(test_n), ds.qrels("test"), ["nDCG@10", "AP"], baseline="BM25", cache=False)
print(f"train topics {topics_n}, lr {lr}, epochs {epochs}, training {trained:.0f} s; BM25 % {depth} of {test_n} test topics")
print(res.results[["name", "nDCG@10", "AP", "nDCG@10 p-value", "mrt_ms"]].to_markdown(index=False))
