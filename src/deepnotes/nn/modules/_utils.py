"""Small helpers shared by the layer modules: device arguments and input validation."""
from ...tensor import Tensor, as_tensor


def check_device(device, name):
    """deepnotes runs on the CPU only; accept torch's ``device`` argument when it says so."""
    if device is not None and str(device) != "cpu":
        raise ValueError(f"{name}: only device='cpu' (or None) is supported, got {device!r}")


def layer_input(input, name, floating=True):
    """``input`` as a Tensor; a TypeError naming the layer when floats are needed and it holds none."""
    if not isinstance(input, Tensor):
        try:
            input = as_tensor(input)
        except TypeError:
            raise TypeError(f"{name}: expected a Tensor, got {type(input).__name__}") from None
    if floating and input.data.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point input, got dtype {input.data.dtype} "
                        f"(convert it with .float() or .double())")
    return input
