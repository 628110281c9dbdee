"""Small helpers shared by the layer modules: device arguments and input validation."""

import numpy as np

from ...devices import check_device  # noqa: F401 - deepnotes runs on the CPU only
from ...tensor import Tensor, as_tensor
from ..parameter import Parameter


def layer_input(input, name, floating=True):
    """``input`` as a Tensor; a TypeError naming the layer when floats are needed and it holds none."""
    if not isinstance(input, Tensor):
        try:
            input = as_tensor(input)
        except TypeError:
            raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}") from None
    if floating and input.data.dtype.kind != "f":
        raise TypeError(
            f"{name}: expected a floating-point input, got dtype {input.data.dtype} "
            f"(convert it with .float() or .double())"
        )
    return input


def init_affine(module, shape, affine, bias, dtype):
    """Register a normalisation layer's per-feature ``weight`` (ones) and ``bias`` (zeros), or None
    slots for the ones it does not learn, so state_dict keys match torch's either way."""
    module.register_parameter("weight", Parameter(np.ones(shape, dtype=dtype)) if affine else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype=dtype)) if affine and bias else None)


def reset_affine(module):
    """Weight back to ones and bias back to zeros (whichever of them exist)."""
    if module.weight is not None:
        module.weight.data[...] = 1
    if module.bias is not None:
        module.bias.data[...] = 0
