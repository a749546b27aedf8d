"""Published checkpoint layouts: tiny random checkpoints written with the exact files, weight names and config of
cross-encoder/ms-marco-MiniLM-L-6-v2, naver/splade-cocondenser-ensembledistil (and the DistilBERT SPLADE layout),
colbert-ir/colbertv2.0, castorini/unicoil-msmarco-passage and a T5 (t5-small) for DSI load by path through our
stages and score as the reference implementation does on the same weights."""
import json
import shutil
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import transformers_ir as tir
from transformers_ir.encoders import bundled_minilm

from .conftest import needs_data

QUERIES = ["what causes fever in children", "white matter of the newborn brain", "ACE2 receptor binding"]
PASSAGES = ["Infections are the most common cause of fever in young children.",
            "Diffusion tensor imaging shows the microstructure of cerebral white matter in newborns.",
            "The spike protein binds the ACE2 receptor; punctuation, commas & symbols!",
            "Stock markets fell sharply on Monday.", ""]
TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 max_position_embeddings=512, vocab_size=30522, type_vocab_size=2, pad_token_id=0)


def pairs_frame() -> pd.DataFrame:
    rows = [(str(q), query, f"d{d}", text) for q, query in enumerate(QUERIES) for d, text in enumerate(PASSAGES)]
    return pd.DataFrame(rows, columns=["qid", "query", "docno", "text"])


def write_bert_tokenizer(folder: Path, tokenizer_json: bool = True) -> None:
    """The uncased BERT WordPiece files these checkpoints ship (vocab.txt, tokenizer_config.json,
    special_tokens_map.json, and tokenizer.json where the repository has one), from the bundled MiniLM."""
    minilm = bundled_minilm()
    for name in ("vocab.txt", "special_tokens_map.json", "tokenizer_config.json") + (("tokenizer.json",) *
                                                                                     tokenizer_json):
        shutil.copy(minilm / name, folder / name)


def config_json(folder: Path, architectures: list[str], **extra) -> dict:
    config = {"architectures": architectures, "model_type": "bert", "hidden_act": "gelu", "layer_norm_eps": 1e-12,
              "position_embedding_type": "absolute", "initializer_range": 0.02, "attention_probs_dropout_prob": 0.1,
              "hidden_dropout_prob": 0.1, "classifier_dropout": None, "gradient_checkpointing": False,
              "use_cache": True, "transformers_version": "4.10.0", **TINY_BERT, **extra}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return config


def random_state(model_cls, config: dict, seed: int) -> dict:
    """The state dict of a randomly initialised ``model_cls`` (std 0.5, so the outputs spread) for ``config``."""
    from transformers import BertConfig
    torch.manual_seed(seed)
    model = model_cls(BertConfig(**{**{k: v for k, v in config.items() if k != "architectures"},
                                    "initializer_range": 0.5}))
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


# --- cross-encoder/ms-marco-MiniLM-L-6-v2 ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ms_marco_cross_encoder(tmp_path_factory) -> Path:
    """BertForSequenceClassification with one label, pytorch_model.bin, no tokenizer.json (as published in 2021)."""
    from transformers import BertForSequenceClassification
    folder = tmp_path_factory.mktemp("ms-marco-MiniLM-L-6-v2")
    config = config_json(folder, ["BertForSequenceClassification"], id2label={"0": "LABEL_0"},
                         label2id={"LABEL_0": 0},
                         sbert_ce_default_activation_function="torch.nn.modules.linear.Identity")
    torch.save(random_state(BertForSequenceClassification, {**config, "num_labels": 1}, 1),
               folder / "pytorch_model.bin")
    write_bert_tokenizer(folder, tokenizer_json=False)
    return folder


def test_ms_marco_cross_encoder_layout_scores_as_sentence_transformers(ms_marco_cross_encoder):
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    frame = pairs_frame()
    ours = tir.CrossEncoder(ms_marco_cross_encoder).transform(frame).set_index(["qid", "docno"])["score"]
    pairs = list(zip(frame["query"], frame["text"]))
    reference = CrossEncoder(str(ms_marco_cross_encoder)).predict(pairs, activation_fn=torch.nn.Identity())
    tokenizer = AutoTokenizer.from_pretrained(ms_marco_cross_encoder)
    model = AutoModelForSequenceClassification.from_pretrained(ms_marco_cross_encoder).eval()
    with torch.no_grad():
        logits = model(**tokenizer(*map(list, zip(*pairs)), padding=True, truncation=True,
                                   return_tensors="pt")).logits.squeeze(-1).numpy()
    got = ours.loc[list(zip(frame["qid"], frame["docno"]))].to_numpy()
    np.testing.assert_allclose(got, reference, atol=1e-5)
    np.testing.assert_allclose(got, logits, atol=1e-5)
    assert np.ptp(got) > 0.1  # the random head separates the pairs: a real comparison


# --- naver/splade-cocondenser-ensembledistil (BertForMaskedLM) and the DistilBERT SPLADE layout -------------------

def splade_folder(folder: Path, kind: str) -> Path:
    if kind == "bert":  # naver/splade-cocondenser-ensembledistil
        from transformers import BertForMaskedLM
        config = config_json(folder, ["BertForMaskedLM"], _name_or_path="Luyu/co-condenser-marco")
        torch.save(random_state(BertForMaskedLM, config, 2), folder / "pytorch_model.bin")
        write_bert_tokenizer(folder, tokenizer_json=False)
    else:  # naver/splade-v3-distilbert
        from transformers import DistilBertConfig, DistilBertForMaskedLM
        config = {"architectures": ["DistilBertForMaskedLM"], "model_type": "distilbert", "activation": "gelu",
                  "dim": 32, "hidden_dim": 64, "n_heads": 2, "n_layers": 2, "max_position_embeddings": 512,
                  "vocab_size": 30522, "pad_token_id": 0, "sinusoidal_pos_embds": False, "tie_weights_": True}
        (folder / "config.json").write_text(json.dumps(config, indent=2))
        torch.manual_seed(3)
        model = DistilBertForMaskedLM(DistilBertConfig(**{k: v for k, v in config.items() if k != "architectures"},
                                                       initializer_range=0.5))
        from safetensors.torch import save_file
        save_file({k: v.detach().clone().contiguous() for k, v in model.state_dict().items()},
                  str(folder / "model.safetensors"))
        write_bert_tokenizer(folder)
    return folder


@pytest.mark.parametrize("kind", ["bert", "distilbert"])
def test_splade_layouts_score_as_sparse_encoder(tmp_path, kind):
    """Vectors and re-scoring scores through the SPLADE stage equal sentence-transformers' SparseEncoder loading
    the same folder by itself (MLM + SPLADE max pooling), with the fast pooling in use."""
    from sentence_transformers import SparseEncoder
    folder = splade_folder(tmp_path, kind)
    stage = tir.SPLADE(None, folder, mode="rescore", max_length=64)
    assert stage.encoder.pooling is not None
    reference = SparseEncoder(str(folder), device="cpu")
    reference.max_seq_length = 64
    frame = pairs_frame()
    ours = stage.transform(frame).set_index(["qid", "docno"])["score"]
    docs = reference.encode_document(PASSAGES, convert_to_tensor=True).to_dense()
    queries = reference.encode_query(QUERIES, convert_to_tensor=True).to_dense()
    special = sorted(reference.tokenizer.all_special_ids)  # never terms in our vectors
    docs[:, special], queries[:, special] = 0, 0
    expected = (queries.double() @ docs.double().T).numpy()
    for q in range(len(QUERIES)):
        got = [ours.loc[(str(q), f"d{d}")] for d in range(len(PASSAGES))]
        np.testing.assert_allclose(got, expected[q], rtol=1e-5, atol=1e-4)
    vocab = reference.tokenizer.convert_ids_to_tokens(list(range(docs.shape[1])))
    for vector, row in zip(stage.encoder.encode_documents(PASSAGES), docs):
        assert set(vector) == {vocab[i] for i in row.nonzero().squeeze(1).tolist()}


# --- colbert-ir/colbertv2.0 ----------------------------------------------------------------------------------------

ARTIFACT_METADATA = {  # colbert-ir/colbertv2.0's artifact.metadata (ColBERT's run config; the fields that matter
    "query_token_id": "[unused0]", "doc_token_id": "[unused1]", "query_token": "[Q]", "doc_token": "[D]",
    "ncells": None, "centroid_score_threshold": None, "ndocs": None, "index_path": None, "nbits": 2,
    "kmeans_niters": 20, "resume": False, "similarity": "cosine", "bsize": 64, "accumsteps": 1, "lr": 1e-05,
    "maxsteps": 400000, "save_every": None, "warmup": 20000, "warmup_bert": None, "relu": False, "nway": 64,
    "use_ib_negatives": True, "reranker": False, "distillation_alpha": 1.0, "ignore_scores": False,
    "model_name": None, "query_maxlen": 32, "attend_to_mask_tokens": False, "interaction": "colbert", "dim": 128,
    "doc_maxlen": 180, "mask_punctuation": True, "checkpoint": "colbert-ir/colbertv1.9",
    "triples": "/future/u/okhattab/root/unit/experiments/2021.10/downstream.distillation.round2.2_score/round2.nway6.cosine.ib/examples.64.json",
    "collection": "/future/u/okhattab/data/MSMARCO/collection.tsv",
    "queries": "/future/u/okhattab/data/MSMARCO/queries.train.tsv", "index_name": None, "overwrite": False,
    "root": "/future/u/okhattab/root/unit/experiments", "experiment": "2021.10", "index_root": None,
    "name": "kldR2.nway64.ib", "rank": 0, "nranks": 4, "amp": True, "gpus": 8,
    "meta": {"hostname": "node", "git_branch": "main", "git_hash": "", "git_commit_datetime": "", "current_datetime": "",
             "cmd": "", "version": "colbert-v0.4"}}


@pytest.fixture(scope="module")
def colbertv2(tmp_path_factory) -> Path:
    """An HF_ColBERT folder: BERT under ``bert.`` and the 128-d projection as ``linear.weight`` (no bias) in
    pytorch_model.bin, artifact.metadata, the BERT tokenizer files."""
    from transformers import BertModel
    folder = tmp_path_factory.mktemp("colbertv2.0")
    config = config_json(folder, ["HF_ColBERT"])
    state = {f"bert.{k}": v for k, v in random_state(BertModel, config, 4).items()}
    torch.manual_seed(5)
    state["linear.weight"] = torch.randn(128, TINY_BERT["hidden_size"]) * 0.2
    torch.save(state, folder / "pytorch_model.bin")
    (folder / "artifact.metadata").write_text(json.dumps(ARTIFACT_METADATA, indent=4))
    write_bert_tokenizer(folder)
    return folder


def colbert_reference(folder: Path, query: str, passages: list[str]) -> np.ndarray:
    """ColBERTv2 as its own code computes it (colbert/modeling): ``[CLS] [unused0] query [SEP]`` padded with [MASK]
    to 32 tokens that are not attended to, ``[CLS] [unused1] passage [SEP]`` with punctuation masked out, linear
    projection, L2 normalisation, sum over query tokens of the max over passage tokens."""
    from transformers import AutoTokenizer, BertConfig, BertModel
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    bert = BertModel(BertConfig.from_pretrained(folder), add_pooling_layer=False)
    bert.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("bert.")}, strict=False)
    bert.eval()
    linear = state["linear.weight"]
    tok = AutoTokenizer.from_pretrained(folder)
    skip = {tok.encode(symbol, add_special_tokens=False)[0] for symbol in string.punctuation}
    with torch.no_grad():
        q = tok([". " + query], padding="max_length", truncation=True, max_length=32, return_tensors="pt")
        ids, mask = q["input_ids"], q["attention_mask"]
        ids[:, 1] = tok.convert_tokens_to_ids("[unused0]")
        ids[ids == tok.pad_token_id] = tok.mask_token_id
        qv = torch.nn.functional.normalize(bert(ids, attention_mask=mask).last_hidden_state[0] @ linear.T, dim=-1)
        scores = []
        for passage in passages:
            d = tok([". " + passage], truncation=True, max_length=180, return_tensors="pt")
            ids = d["input_ids"]
            ids[:, 1] = tok.convert_tokens_to_ids("[unused1]")
            dv = torch.nn.functional.normalize(bert(ids, attention_mask=d["attention_mask"]).last_hidden_state[0]
                                               @ linear.T, dim=-1)
            keep = torch.tensor([i not in skip for i in ids[0].tolist()])
            scores.append(float((qv @ dv[keep].T).max(dim=1).values.sum()))
    return np.array(scores)


def test_colbertv2_layout_scores_as_direct_maxsim(colbertv2):
    frame = pairs_frame()
    ours = tir.ColBERT(mode="on_the_fly", model=colbertv2).transform(frame).set_index(["qid", "docno"])["score"]
    for q, query in enumerate(QUERIES):
        expected = colbert_reference(colbertv2, query, PASSAGES)
        got = np.array([ours.loc[(str(q), f"d{d}")] for d in range(len(PASSAGES))])
        # the stage scores float16 document vectors (both modes): ~1e-3 on scores of ~20 (32 query tokens)
        np.testing.assert_allclose(got, expected, atol=5e-3)
        assert list(np.argsort(-got)) == list(np.argsort(-expected))


# --- castorini/unicoil-msmarco-passage --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def unicoil(tmp_path_factory) -> Path:
    """Pyserini's UniCoilEncoder saved: BertModel (with pooler) under ``coil_encoder.bert.`` and the 1-d head as
    ``coil_encoder.tok_proj.{weight,bias}`` in pytorch_model.bin, BERT tokenizer files."""
    from transformers import BertModel
    folder = tmp_path_factory.mktemp("unicoil-msmarco-passage")
    config = config_json(folder, ["UniCoilEncoder"])
    state = {f"coil_encoder.bert.{k}": v for k, v in random_state(BertModel, config, 6).items()}
    torch.manual_seed(7)
    state["coil_encoder.tok_proj.weight"] = torch.randn(1, TINY_BERT["hidden_size"]) * 0.1
    state["coil_encoder.tok_proj.bias"] = torch.tensor([0.3])
    torch.save(state, folder / "pytorch_model.bin")
    write_bert_tokenizer(folder, tokenizer_json=False)
    return folder


def pyserini_unicoil(folder: Path):
    """Pyserini's own uniCOIL document and query encoders on the checkpoint (its weighting code, run as is)."""
    pytest.importorskip("pyserini")
    from transformers_ir.sparse.lucene import start_jvm
    start_jvm()  # importing pyserini.encode starts Anserini's JVM
    from pyserini.encode._unicoil import UniCoilDocumentEncoder, UniCoilEncoder, UniCoilQueryEncoder
    from transformers import BertConfig, BertTokenizer
    model = UniCoilEncoder(BertConfig.from_pretrained(folder))
    state = torch.load(folder / "pytorch_model.bin", weights_only=True)
    model.load_state_dict({k.removeprefix("coil_encoder."): v for k, v in state.items()})
    model.eval()
    encoders = []
    for cls in (UniCoilDocumentEncoder, UniCoilQueryEncoder):
        encoder = cls.__new__(cls)
        encoder.device, encoder.model, encoder.tokenizer = "cpu", model, BertTokenizer.from_pretrained(folder)
        encoders.append(encoder)
    return encoders


def test_unicoil_layout_weighs_tokens_as_pyserini(unicoil):
    documents, queries = pyserini_unicoil(unicoil)
    stage = tir.UniCOIL(None, unicoil, mode="rescore", max_length=128)
    with torch.no_grad():
        expected_docs = documents.encode(PASSAGES, max_length=128)
        raw = [queries._output_to_weight_dicts(*(lambda ids: (ids.numpy(), queries.model(ids).numpy()))(
            queries.tokenizer([q], return_tensors="pt")["input_ids"]))[0] for q in QUERIES]
    ours_docs = stage.encoder.encode_documents(PASSAGES)
    ours_queries = stage.encoder.encode_queries(QUERIES)
    for ours, theirs in zip(ours_docs + ours_queries, expected_docs + raw):
        theirs = {t: w for t, w in theirs.items() if w > 0}
        assert ours.keys() == theirs.keys()
        np.testing.assert_allclose([ours[t] for t in theirs], list(theirs.values()), rtol=1e-5, atol=1e-6)
    assert any("[SEP]" in v for v in ours_docs) and sum(map(len, ours_docs)) > 20
    scores = stage.transform(pairs_frame()).set_index(["qid", "docno"])["score"]
    for q, query in enumerate(raw):
        for d, doc in enumerate(expected_docs):
            assert scores.loc[(str(q), f"d{d}")] == pytest.approx(sum(w * doc.get(t, 0.0) for t, w in query.items()),
                                                                 rel=1e-5, abs=1e-6)


# --- a T5 seq2seq (t5-small layout) for DSI ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def t5(tmp_path_factory, adi) -> Path:
    """T5ForConditionalGeneration with t5-small's config fields (tiny sizes), model.safetensors,
    generation_config.json and a SentencePiece tokenizer (spiece.model with 100 extra ids, tokenizer.json) trained
    here on ADI's text."""
    import sentencepiece as spm
    from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast
    folder = tmp_path_factory.mktemp("t5-small")
    texts = tmp_path_factory.mktemp("spm") / "texts.txt"
    texts.write_text("\n".join(d["text"] for d in adi.corpus_iter()) + "\n" + "\n".join(adi.topics()["query"]))
    spm.SentencePieceTrainer.train(input=str(texts), model_prefix=str(folder / "spiece"), vocab_size=400,
                                   model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                   character_coverage=1.0, minloglevel=2)
    (folder / "spiece.vocab").unlink()
    tokenizer = T5TokenizerFast(vocab_file=str(folder / "spiece.model"), extra_ids=100)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(8)
    config = T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2,
                      relative_attention_num_buckets=32, dropout_rate=0.1, feed_forward_proj="relu",
                      decoder_start_token_id=0, eos_token_id=1, pad_token_id=0, n_positions=512,
                      architectures=["T5ForConditionalGeneration"])
    T5ForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def adi():
    return tir.load_dataset("adi")


@needs_data("adi")
def test_t5_layout_dsi_scores_are_the_models_log_likelihoods(t5, adi, tmp_path):
    """DSI on a T5 checkpoint: with as many beams as documents, constrained beam search is exhaustive, so the
    ranked docids and scores equal every docid's log-likelihood under the trained T5 (teacher forcing in
    transformers)."""
    from transformers import AutoModelForSeq2SeqLM
    docs = list(adi.corpus_iter())[:12]
    folder = tir.data.write_folder(tmp_path / "adi12", docs, adi.topics().head(4))
    dsi = tir.DSI(folder, t5, docids="naive", epochs=3, batch_size=8, learning_rate=1e-3, max_length=48,
                  num_results=len(docs)).prepare()
    assert dsi.index.manifest["base_model"]["decoder"] == "pretrained"
    model = AutoModelForSeq2SeqLM.from_pretrained(dsi.index.path / "model").eval()
    docid_model, _ = dsi._loaded
    mapping = dsi.index.mapping()
    topics = folder.topics()
    results = dsi.transform(topics)
    for qid, query in zip(topics["qid"], topics["query"]):
        inputs = docid_model.tokenize([query], 48)
        expected = {}
        for docno, docid in mapping.docids.items():
            labels = torch.tensor([docid_model.vocab.tokens(docid) + [docid_model.vocab.eos]])
            with torch.no_grad():
                logits = model(**inputs, labels=labels).logits.log_softmax(-1)
            expected[docno] = float(logits[0].gather(1, labels[0, :, None]).sum())
        got = results[results["qid"] == qid]
        assert len(got) == len(docs)
        np.testing.assert_allclose(got["score"], [expected[d] for d in got["docno"]], atol=1e-4)
        assert got["score"].is_monotonic_decreasing
