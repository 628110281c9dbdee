"""``Parameter``: a leaf tensor that a Module registers as learnable."""

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that requires gradients by default and is registered when assigned to a Module."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.zeros((0,), dtype=np.float32)
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
