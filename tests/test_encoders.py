"""Encoder plumbing: model resolution and its errors, device, length-sorted batching, truncation, bf16, seeds."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from transformers_ir.encoders import (BUNDLED_MINILM_NAME, ModelNotAvailableError, TextEncoder, bundled_minilm,
                                      choose_device, cpu_cores, length_batches, load_sentence_transformer,
                                      model_identity, resolve_model, seed_everything)

TEXTS = ["a short one", "", "a somewhat longer sentence about dense retrieval with transformers",
         "protein " * 40, "x", "the effect of vitamin d on bone density in adults"]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(bundled_minilm(), batch_size=2, show_progress=False)


def test_bundled_minilm_is_a_sentence_transformers_folder():
    folder = bundled_minilm()
    assert (folder / "config.json").is_file() and (folder / "modules.json").is_file()


def test_hub_name_of_the_bundled_model_resolves_offline():
    assert Path(resolve_model(BUNDLED_MINILM_NAME), "config.json").is_file()
    assert model_identity(BUNDLED_MINILM_NAME)["weights_sha256"] == model_identity(bundled_minilm())["weights_sha256"]


def test_missing_path_names_the_path(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotAvailableError, match="does not exist") as e:
        resolve_model(str(missing))
    assert str(missing) in str(e.value)
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        load_sentence_transformer("./no/such/model")


def test_unknown_hub_name_offline_says_how_to_provide_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError) as e:
        resolve_model("some-org/not-a-cached-model")
    message = str(e.value)
    assert "not available locally" in message and "HF_HUB_OFFLINE" in message and "path" in message


def test_choose_device_uses_cpu_with_one_thread_per_core(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    monkeypatch.delenv("TIR_TORCH_THREADS", raising=False)
    torch.set_num_threads(1)
    assert choose_device() == "cpu"
    assert torch.get_num_threads() == cpu_cores()


def test_tir_torch_threads_sets_the_cpu_thread_count(monkeypatch):
    monkeypatch.setenv("TIR_TORCH_THREADS", "1")
    try:
        assert choose_device("cpu") == "cpu" and torch.get_num_threads() == 1
        monkeypatch.setenv("TIR_TORCH_THREADS", "two")
        with pytest.raises(ValueError, match="TIR_TORCH_THREADS must be a positive integer, got 'two'"):
            choose_device("cpu")
    finally:
        torch.set_num_threads(cpu_cores())


def test_length_batches_sort_longest_first_and_cover_every_input_once():
    lengths = np.array([3, 9, 1, 9, 5, 2, 7])
    batches = length_batches(lengths, 3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert list(lengths[flat]) == sorted(lengths, reverse=True)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert np.concatenate(length_batches(lengths, 3, sort=False)).tolist() == list(range(len(lengths)))


def test_encode_equals_sentence_transformers_in_input_order(encoder):
    ours = encoder.encode(TEXTS)
    reference = encoder.model.encode(TEXTS, batch_size=2)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_truncation_warns_once_per_call(encoder):
    long = ["word " * 400, "other " * 300, "short"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder.encode(long)
    truncation = [w for w in caught if "truncated" in str(w.message)]
    assert len(truncation) == 1
    assert "2 of 3 inputs" in str(truncation[0].message) and "max_length=256" in str(truncation[0].message)


def test_bf16_vectors_stay_close_to_fp32(encoder):
    bf16 = TextEncoder(bundled_minilm(), batch_size=2, bf16=True, show_progress=False)
    a, b = encoder.encode(TEXTS), bf16.encode(TEXTS)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.99
    assert not np.array_equal(a, b)  # it did run in bfloat16


def test_seed_everything_repeats_random_draws():
    seed_everything(7)
    first = (torch.rand(3), np.random.rand(3))
    seed_everything(7)
    second = (torch.rand(3), np.random.rand(3))
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1])
