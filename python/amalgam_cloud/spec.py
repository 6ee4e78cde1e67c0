"""Model specs (``model.json`` of a bundle, of a model directory): checked before anything is
built, since a bundle comes from the other side of the trust boundary."""

from __future__ import annotations

from .errors import BundleError

SPEC_FORMAT_VERSION = 1
#: Most values one sample may have (a 3 x 4096 x 4096 image is 2^25.6).
MAX_SAMPLE_VALUES = 1 << 27
#: Most branches of an augmented network.
MAX_BRANCHES = 256
#: Largest vocabulary.
MAX_VOCABULARY = 1 << 24


def _positive(value, name: str, path, limit: int = 1 << 31) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= limit:
        raise BundleError(path, f"`{name}` must be an integer in [1, {limit}], got {value!r}")
    return value


def input_values(shape: dict, path) -> int:
    """Values per sample of an input shape (``{"kind": "image", ...}`` or tokens), checked."""
    if not isinstance(shape, dict) or shape.get("kind") not in ("image", "tokens"):
        raise BundleError(path, f"unknown input shape {shape!r}")
    if shape["kind"] == "image":
        values = 1
        for name in ("channels", "height", "width"):
            values *= _positive(shape.get(name), f"input.{name}", path, MAX_SAMPLE_VALUES)
    else:
        values = _positive(shape.get("length"), "input.length", path, MAX_SAMPLE_VALUES)
        _positive(shape.get("vocab_size"), "input.vocab_size", path, MAX_VOCABULARY)
        if shape["vocab_size"] < 2:
            raise BundleError(path, "a text model needs a vocabulary of at least 2 tokens")
    if values > MAX_SAMPLE_VALUES:
        raise BundleError(path, f"a sample of {values} values is larger than the {MAX_SAMPLE_VALUES} supported")
    return values


def positions(shape: dict) -> int:
    """Positions per channel: ``H * W`` or ``L``."""
    return shape["height"] * shape["width"] if shape["kind"] == "image" else shape["length"]


def channels(shape: dict) -> int:
    return shape["channels"] if shape["kind"] == "image" else 1


def check_model_spec(spec, path) -> dict:
    """A model spec's format, input, classes and architecture kind; the architecture's sizes
    are checked when it is built (on PyTorch's meta device, allocating nothing) and its
    tensors compared with the weights file."""
    if not isinstance(spec, dict) or spec.get("format_version") != SPEC_FORMAT_VERSION:
        raise BundleError(path, f"is not a model spec of format version {SPEC_FORMAT_VERSION}")
    input_values(spec.get("input"), path)
    classes = spec.get("classes")
    if not isinstance(classes, int) or not 2 <= classes <= 256:
        raise BundleError(path, f"`classes` must be in [2, 256] (labels are bytes), got {classes!r}")
    if not isinstance(spec.get("architecture"), dict):
        raise BundleError(path, "has no architecture")
    split = spec.get("split")
    if split is not None and (
        spec["architecture"].get("kind") not in ("lenet", "resnet", "vgg") or spec["input"]["kind"] != "image"
    ):
        raise BundleError(path, "only LeNet, ResNet and VGG image networks can be split")
    norm = spec.get("normalization")
    if norm is not None:
        ok = (
            isinstance(norm, dict)
            and spec["input"]["kind"] == "image"
            and all(isinstance(norm.get(k), list) and len(norm[k]) == channels(spec["input"]) for k in ("mean", "std"))
            and all(isinstance(s, (int, float)) and s > 0 for s in norm["std"])
            and all(isinstance(m, (int, float)) for m in norm["mean"])
        )
        if not ok:
            raise BundleError(path, "normalisation needs one mean and one positive std per image channel")
    return spec


def check_augmented_spec(spec, path) -> dict:
    """An augmented spec: its input, and per branch a network spec of the same kind and
    classes and an input filter of sorted, distinct, in-range keep indices."""
    if not isinstance(spec, dict) or spec.get("format_version") != SPEC_FORMAT_VERSION:
        raise BundleError(path, f"is not an augmented model spec of format version {SPEC_FORMAT_VERSION}")
    augmented = spec.get("input")
    input_values(augmented, path)
    branches = spec.get("branches")
    if not isinstance(branches, list) or not 1 <= len(branches) <= MAX_BRANCHES:
        raise BundleError(path, f"needs 1 to {MAX_BRANCHES} branches")
    precision = spec.get("precision", "f32")
    if precision not in ("f32", "f16") or (precision == "f16" and augmented["kind"] != "image"):
        raise BundleError(path, f"`precision` must be f32, or f16 for images; got {precision!r}")
    grid = positions(augmented)
    for i, branch in enumerate(branches):
        if not isinstance(branch, dict):
            raise BundleError(path, f"branch {i} is not an object")
        net = check_model_spec(branch.get("network"), path)
        split = net.get("split")
        if split is not None and (not isinstance(split, dict) or not isinstance(split.get("part"), dict) or split["part"].get("kind") != "cloud"):
            raise BundleError(path, f"branch {i}: a bundle trains whole networks or the cloud parts of split ones")
        shape = net["input"]
        same_kind = shape["kind"] == augmented["kind"] and (
            shape["channels"] == augmented["channels"] if shape["kind"] == "image" else shape["vocab_size"] == augmented["vocab_size"]
        )
        keep = branch.get("keep_indices")
        fits = same_kind and net["classes"] == spec.get("classes") and isinstance(keep, list) and len(keep) == channels(augmented)
        if fits:
            for row in keep:
                fits = fits and isinstance(row, list) and len(row) == positions(shape)
                fits = fits and all(isinstance(k, int) and 0 <= k < grid for k in row)
                fits = fits and all(a < b for a, b in zip(row, row[1:]))
        if not fits:
            raise BundleError(path, f"branch {i}: its input filter does not map the augmented input onto its network's input")
    return spec
