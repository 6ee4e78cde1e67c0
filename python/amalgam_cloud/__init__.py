"""amalgam's cloud runtime in PyTorch.

Trains an amalgam bundle where clouds already train: rebuilds the augmented network of
``model.json`` as a ``torch.nn.Module`` (every branch's input filter, input stage and network,
tensors named as in ``init.safetensors``), reads ``data.safetensors`` memory-mapped, and
reproduces ``train.json``'s semantics exactly: the batch order, crops and flips, learning-rate
schedule and optimizer. It holds nothing secret and reads only the bundle.

Building blocks for your own loop: :class:`Bundle`, :class:`BundleDataset`,
:class:`BatchOrderSampler`, :func:`save_trained`; the owner's side: :func:`load_model`.
"""

from .augmented import AugmentedNetwork, CropFlip, InputFilter
from .bundle import FINGERPRINT_KEY, BatchOrderSampler, Bundle, BundleDataset
from .errors import BundleError
from .model_dir import load_model
from .networks import build_network
from .training import train_bundle, train_epochs
from .weights import save_trained

__all__ = [
    "AugmentedNetwork",
    "BatchOrderSampler",
    "Bundle",
    "BundleDataset",
    "BundleError",
    "CropFlip",
    "FINGERPRINT_KEY",
    "InputFilter",
    "build_network",
    "load_model",
    "save_trained",
    "train_bundle",
    "train_epochs",
]
