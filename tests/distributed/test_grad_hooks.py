"""``Tensor.register_post_accumulate_grad_hook`` (what DistributedDataParallel starts its all-reduces
from) behaves like torch's: called once per backward, after every contribution has been accumulated
into the leaf's ``.grad``; removable; refused on non-leaf tensors."""

import numpy as np
import pytest
import torch

import deepnotes


def _run(lib, make, data):
    w = make(data)
    seen = []

    def grad_of(t):
        return t.grad.detach().numpy().copy() if lib == "torch" else t.grad.data.copy()

    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(grad_of(t)))
    for _ in range(2):
        y = (w * w).sum() + (w * 3).sum()  # w used twice: one call, with the summed gradient
        y.backward()
    handle.remove()
    ((w * 2).sum()).backward()
    return seen, grad_of(w)


def test_hook_matches_torch():
    data = np.array([1.0, -2.0, 0.5])
    ours = _run("deepnotes", lambda d: deepnotes.tensor(d, requires_grad=True), data)
    theirs = _run("torch", lambda d: torch.tensor(d, requires_grad=True), data)
    assert len(ours[0]) == len(theirs[0]) == 2
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b, rtol=1e-15)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-15)


def test_hook_errors():
    w = deepnotes.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="only leaf tensors that require grad"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        deepnotes.tensor([1.0]).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(TypeError, match="hook must be callable"):
        w.register_post_accumulate_grad_hook(3)
