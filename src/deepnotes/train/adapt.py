"""Fit an image classifier from ``deepnotes.models`` and an image data set to each other.

The zoo's constructors keep torchvision's signatures, so the data is adapted to the model, as a
torchvision user would do it:

* channels: every torchvision architecture reads 3-channel images, so grey images (digits, MNIST) are
  repeated to 3 identical channels (what ``Grayscale(num_output_channels=3)`` does).  LeNet-5 is built
  for the data's own channel count (its ``in_channels``).
* size: LeNet-5 takes exactly 32x32 (MNIST's 28x28 are zero-padded by 2 pixels, as LeCun et al. did).
  Other architectures take the data's own side (digits: 8x8 upsampled to 32x32, MNIST 28, CIFAR-10 32),
  raised to the smallest side the architecture accepts (``MIN_INPUT_SIDE``): the bundled digits are
  built at that side with ``Digits(size=...)``, local images are resized by bilinear interpolation.
* auxiliary heads: googlenet and inception_v3 return their auxiliary logits in training mode;
  :class:`AuxiliaryLoss` turns the output back into the main logits and adds the auxiliary losses.
  Inception v3's auxiliary head reads a 17x17 map and so runs only on inputs of at least 299x299
  (``AUX_MIN_SIDE``); below that the model is built with ``aux_logits=False`` (torchvision's switch)
  and takes inputs down to 75x75.

A combination that cannot work (an ``image_size`` below the architecture's minimum, LeNet-5 at a side
other than 32) raises :class:`IncompatibleInput`.
"""

import collections

import numpy as np

from ..autograd import no_grad
from ..data.dataset import Dataset
from ..nn import functional as F
from ..tensor import Tensor

__all__ = [
    "MIN_INPUT_SIDE",
    "AUX_MIN_SIDE",
    "AUX_WEIGHTS",
    "IMAGE_DATASETS",
    "IncompatibleInput",
    "AuxiliaryLoss",
    "FittedImages",
    "input_for",
    "build_classifier",
    "image_datasets",
    "prepare_image_classification",
    "ImageClassification",
]

#: The smallest square side each architecture accepts, found by forward passes in training mode (the
#: layer that fails just below: alexnet's third max pool, the 32x reduction of VGG, DenseNet's last
#: transition pool, GoogLeNet's third max pool, Inception v3's 3x3/2 reduction to a 3x3 map).  Architectures not
#: listed run on any side >= 1; tests/train/test_adapt.py checks every entry on both sides of the edge.
MIN_INPUT_SIDE = {
    "alexnet": 63,
    "googlenet": 15,
    "inception_v3": 75,
    **{f"vgg{d}{bn}": 32 for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    **{f"densenet{d}": 29 for d in (121, 161, 169, 201)},
}

#: Architectures whose auxiliary head needs a larger side than the main path; built without it below.
AUX_MIN_SIDE = {"inception_v3": 299}

#: Architectures that take one fixed side and any number of input channels (``in_channels``).
_FIXED_SIDE = {"lenet5": 32, "lenet5_modern": 32}

#: name -> (channels, side of the stored images); digits are stored at 8x8 and built at any side.
IMAGE_DATASETS = {"digits": (1, 8), "mnist": (1, 28), "fashion-mnist": (1, 28), "cifar10": (3, 32)}

_DIGITS_SIDE = 32  # the side digits are upsampled to when the model leaves the choice free

# weights of the auxiliary losses: 0.3 as in the GoogLeNet paper (Szegedy et al., 2015), 0.4 as in
# the usual recipe for Inception v3 (torchvision's fine-tuning tutorial)
AUX_WEIGHTS = {"GoogLeNetOutputs": 0.3, "InceptionOutputs": 0.4}


class IncompatibleInput(ValueError):
    """A model and an input size that cannot work together."""


def _key(name):
    if not isinstance(name, str):
        raise TypeError(f"input_for: expected a model name (str), got {type(name).__name__}")
    return name.lower()


def input_for(name, channels, side, image_size=None):
    """The (channels, side) of the images to feed model ``name`` for data of ``channels`` x ``side``.

    ``image_size`` asks for a side; ``None`` takes the data's own ``side`` raised to the model's
    minimum.  Raises :class:`IncompatibleInput` when the model cannot take ``image_size``.
    """
    key = _key(name)
    if channels not in (1, 3):
        raise ValueError(f"input_for: expected 1 (grey) or 3 (RGB) image channels, got {channels}")
    if key in _FIXED_SIDE:
        fixed = _FIXED_SIDE[key]
        if image_size is not None and image_size != fixed:
            raise IncompatibleInput(f"{name} takes {fixed}x{fixed} images only, got an image size of {image_size}")
        return channels, fixed
    need = MIN_INPUT_SIDE.get(key, 1)
    if image_size is not None:
        if image_size < need:
            raise IncompatibleInput(
                f"{name} needs images of at least {need}x{need} pixels, got an image size of {image_size}"
            )
        return 3, int(image_size)
    return 3, max(int(side), need)


def build_classifier(name, num_classes, channels, side=None):
    """``get_model(name, num_classes=...)`` for ``channels`` x ``side`` inputs: LeNet-5 also gets
    ``in_channels=channels``; the other architectures keep torchvision's signature and read 3
    channels, and an auxiliary head that cannot run at ``side`` (``AUX_MIN_SIDE``) is left out with
    ``aux_logits=False``."""
    from ..models import get_model

    key = _key(name)
    if key in _FIXED_SIDE:
        return get_model(name, num_classes=num_classes, in_channels=channels)
    if key in AUX_MIN_SIDE and side is not None and side < AUX_MIN_SIDE[key]:
        return get_model(name, num_classes=num_classes, aux_logits=False)
    return get_model(name, num_classes=num_classes)


class FittedImages(Dataset):
    """``dataset``'s ``(image, label)`` samples with the image (C, H, W) brought to ``channels`` x
    ``side`` x ``side``: grey repeated to 3 channels, the side changed by zero padding (``fit='pad'``,
    centred) or bilinear interpolation (``fit='resize'``, ``align_corners=False``).  Whole batches are
    adapted at once when the inner data set can collate them (``_collated_batch``)."""

    def __init__(self, dataset, channels, side, fit="resize"):
        if fit not in ("pad", "resize"):
            raise ValueError(f"FittedImages: fit must be 'pad' or 'resize', got {fit!r}")
        if channels not in (1, 3):
            raise ValueError(f"FittedImages: channels must be 1 or 3, got {channels}")
        self.dataset, self.channels, self.side, self.fit = dataset, int(channels), int(side), fit

    def __len__(self):
        return len(self.dataset)

    def _adapt(self, batch):
        """(N, C, H, W) float array -> (N, channels, side, side)."""
        c, h, w = batch.shape[1:]
        if c not in (1, self.channels):
            raise ValueError(f"FittedImages: cannot turn {c}-channel images into {self.channels} channels")
        if (h, w) != (self.side, self.side):
            if self.fit == "pad":
                dh, dw = self.side - h, self.side - w
                if dh < 0 or dw < 0:
                    raise ValueError(f"FittedImages: cannot pad {h}x{w} images to {self.side}x{self.side}")
                batch = np.pad(batch, ((0, 0), (0, 0), (dh // 2, dh - dh // 2), (dw // 2, dw - dw // 2)))
            else:
                with no_grad():
                    batch = F.interpolate(
                        Tensor(batch), size=(self.side, self.side), mode="bilinear", align_corners=False
                    ).data
        if batch.shape[1] != self.channels:
            batch = np.repeat(batch, self.channels, axis=1)
        return np.ascontiguousarray(batch)

    def __getitem__(self, index):
        image, target = self.dataset[index]
        return self._adapt(np.asarray(image)[None])[0], target

    def _collated_batch(self, indices):
        inner = getattr(self.dataset, "_collated_batch", None)
        out = inner(indices) if inner is not None else NotImplemented
        if out is NotImplemented:
            return NotImplemented
        images, targets = out
        return [Tensor(self._adapt(images.data)), targets]

    def __repr__(self):
        return f"FittedImages({self.dataset!r}, channels={self.channels}, side={self.side}, fit={self.fit!r})"


def image_datasets(dataset, root=None, channels=None, side=None, fit="resize"):
    """(train set, test set) of ``dataset`` (a key of ``IMAGE_DATASETS``) as ``channels`` x ``side``
    images (default: as stored; digits at 32x32).  Local data sets are read from ``root``."""
    from ..data import datasets as D

    if dataset not in IMAGE_DATASETS:
        raise ValueError(f"image_datasets: unknown data set {dataset!r} (known: {', '.join(IMAGE_DATASETS)})")
    own_c, own_side = IMAGE_DATASETS[dataset]
    channels = own_c if channels is None else channels
    if dataset == "digits":
        size = side or _DIGITS_SIDE
        sets = D.Digits(train=True, size=size), D.Digits(train=False, size=size)
        own_side = size
    elif dataset == "cifar10":
        sets = D.CIFAR10(root, train=True), D.CIFAR10(root, train=False)
    else:
        cls = D.MNIST if dataset == "mnist" else D.FashionMNIST
        sets = cls(root, train=True), cls(root, train=False)
    side = own_side if side is None else side
    if (channels, side) == (own_c, own_side):
        return sets
    return tuple(FittedImages(s, channels, side, fit=fit) for s in sets)


class AuxiliaryLoss:
    """Cross entropy for models that return auxiliary logits in training mode (googlenet,
    inception_v3): ``loss = CE(logits) + w * sum_i CE(aux_i)``, ``w`` 0.3 for GoogLeNet and 0.4 for
    Inception v3 (``AUX_WEIGHTS``).

    ``AuxiliaryLoss(model)`` registers a forward hook on ``model`` that replaces the named-tuple output
    by its main logits (so a training loop, its accuracy and the LR finder see a plain tensor) and keeps
    the auxiliary logits until the next call of the loss, which adds them.  In evaluation mode the
    model returns its logits and the loss is plain cross entropy.
    """

    def __init__(self, model, loss_fn=None):
        self.loss_fn = loss_fn or F.cross_entropy
        self._aux, self._weight = [], 0.0
        self.handle = model.register_forward_hook(self._hook)

    def _hook(self, module, args, output):
        weight = AUX_WEIGHTS.get(type(output).__name__)
        if weight is None:
            self._aux = []
            return None
        self._aux = [a for a in output[1:] if a is not None]
        self._weight = weight
        return output[0]

    def __call__(self, output, target):
        loss = self.loss_fn(output, target)
        aux, self._aux = self._aux, []
        for a in aux:
            loss = loss + self._weight * self.loss_fn(a.float() if a.dtype != output.dtype else a, target)
        return loss


ImageClassification = collections.namedtuple(
    "ImageClassification", ["model", "train_set", "test_set", "loss_fn", "input_shape"]
)


def prepare_image_classification(model, dataset, root=None, image_size=None, num_classes=10):
    """Build model ``model`` (a name) and the train/test sets of ``dataset`` fitted to it.

    Returns ``ImageClassification(model, train_set, test_set, loss_fn, input_shape)``: ``loss_fn`` is
    cross entropy, with the auxiliary losses for googlenet/inception_v3 (:class:`AuxiliaryLoss`), and
    ``input_shape`` the (C, H, W) of the images fed.  Raises :class:`IncompatibleInput` when the model
    cannot take ``image_size``.
    """
    if dataset not in IMAGE_DATASETS:
        raise ValueError(
            f"prepare_image_classification: unknown data set {dataset!r} (known: {', '.join(IMAGE_DATASETS)})"
        )
    own_c, own_side = IMAGE_DATASETS[dataset]
    natural = _DIGITS_SIDE if dataset == "digits" else own_side
    channels, side = input_for(model, own_c, natural, image_size)
    net = build_classifier(model, num_classes, channels, side)
    fit = "pad" if _key(model) in _FIXED_SIDE and side > own_side and dataset != "digits" else "resize"
    train_set, test_set = image_datasets(dataset, root, channels, side, fit=fit)
    loss_fn = AuxiliaryLoss(net) if _key(model) in ("googlenet", "inception_v3") else F.cross_entropy
    return ImageClassification(net, train_set, test_set, loss_fn, (channels, side, side))
