"""Devices, as far as deepnotes has them: every tensor lives in NumPy memory on the CPU.

``deepnotes.device("cpu")``, ``Tensor.device``, ``.cpu()`` and ``.to("cpu")`` work as in torch, so code
written for torch runs unchanged on the CPU; asking for any other device (``.cuda()``,
``.to("cuda")``, ``device="mps"``) raises :class:`DeviceError` saying so.
"""

from __future__ import annotations

_KNOWN_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "ipu", "hpu", "mtia", "privateuseone")


class DeviceError(RuntimeError, ValueError):
    """A device other than the CPU was requested.  A RuntimeError as torch raises for a missing
    backend, and a ValueError since it is a bad argument value."""


class device:
    """A device description like ``torch.device``: ``device("cpu")``, ``device("cuda:0")``,
    ``device("cuda", 1)``.  Describing any device is allowed; only the CPU can hold tensors."""

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device: an index cannot be given together with a device object")
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu' or 'cuda:0', got {type!r}")
        kind, sep, idx = type.strip().partition(":")
        if kind not in _KNOWN_TYPES:
            raise ValueError(
                f"device: unknown device type {kind!r} in {type!r}; expected one of {', '.join(_KNOWN_TYPES)}"
            )
        if sep:
            if index is not None:
                raise ValueError(f"device: the index is given twice, in {type!r} and as {index!r}")
            if not idx.isdigit():
                raise ValueError(f"device: invalid index {idx!r} in {type!r}; expected e.g. 'cuda:0'")
            index = int(idx)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
            raise ValueError(f"device: the index must be a non-negative int, got {index!r}")
        self.type, self.index = kind, index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"

    def __eq__(self, other):
        if isinstance(other, str):  # unlike torch, device("cpu") == "cpu" holds
            try:
                other = device(other)
            except (TypeError, ValueError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")


def check_device(dev, name):
    """``dev`` (None, a string or a device) as the CPU device; any other device raises DeviceError."""
    if dev is None:
        return CPU
    try:
        d = dev if isinstance(dev, device) else device(dev)
    except (TypeError, ValueError) as exc:
        raise DeviceError(f"{name}: {exc}") from None
    if d.type != "cpu":
        raise DeviceError(
            f"{name}: only device='cpu' (or None) is supported, got {str(d)!r}: deepnotes runs on the CPU only"
        )
    return CPU
