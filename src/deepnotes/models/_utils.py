"""Helpers shared by the model zoo: channel rounding, initialisers, nearest upsampling, error location.

Nothing here is a public layer; the public blocks live in ``misc.py`` and the architecture files.
"""

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..random import default_generator
from ..tensor import Tensor


# ------------------------------------------------------------------------------------ configuration
def _make_divisible(v, divisor, min_value=None):
    """Round a channel count to the nearest multiple of ``divisor`` without going below 90 % of ``v``
    (torchvision's rounding for MobileNet widths)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _no_weights(weights, name):
    """deepnotes ships no pretrained checkpoints: ``weights`` must be None (load a state_dict instead)."""
    if weights is not None:
        raise ValueError(
            f"{name}: pretrained weights are not bundled (got weights={weights!r}); build the "
            f"model with weights=None and load a torchvision state_dict with load_state_dict()"
        )


# ------------------------------------------------------------------------------------ initialisation
def init_conv_bn_linear(model, conv="kaiming_fan_out", linear="normal_0.01"):
    """The common torchvision initialisation, one vectorised call per tensor.

    conv:   'kaiming_fan_out' (kaiming_normal_, fan_out, relu; bias 0) or 'kaiming_fan_in'
            (kaiming_normal_ with torch's defaults; bias 0) or None (keep the layer default).
    linear: 'normal_0.01' (N(0, 0.01^2), bias 0), 'bias_zero' (default weight, bias 0) or None.
    Batch-norm layers get weight 1 and bias 0.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and conv is not None:
            if conv == "kaiming_fan_out":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear is not None:
            if linear == "normal_0.01":
                nn.init.normal_(m.weight, 0.0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


# ------------------------------------------------------------------------------------ resampling
def _nearest_index(in_size, out_size):
    """Source index of every output position for nearest resizing, exactly as torch computes it:
    identity for equal sizes, ``i // 2`` for doubling, else floor(i * float32(in / out)) clipped."""
    if out_size == in_size:
        return None
    if out_size == 2 * in_size:
        return np.arange(out_size) // 2
    scale = np.float32(np.float32(in_size) / np.float32(out_size))
    idx = np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(idx, in_size - 1)


def upsample_nearest(x, size=None, scale_factor=None):
    """Nearest-neighbour resize of (N, C, H, W) to ``size`` (h, w) or by an integer ``scale_factor``
    (torch.nn.functional.interpolate(mode='nearest') semantics).  Integer factors are a reshape +
    expand (a broadcast copy); other sizes gather rows and columns.  Both are differentiable: the
    gradient sums over the copies of each source pixel."""
    if x.ndim != 4:
        raise ValueError(f"upsample_nearest: expected an (N, C, H, W) input, got shape {x.shape}")
    N, C, H, W = x.shape
    if (size is None) == (scale_factor is None):
        raise ValueError("upsample_nearest: give exactly one of size and scale_factor")
    if scale_factor is not None:
        s = int(scale_factor)
        if s != scale_factor or s < 1:
            raise ValueError(f"upsample_nearest: scale_factor must be a positive integer, got {scale_factor!r}")
        if s == 1:
            return x
        return x.reshape(N, C, H, 1, W, 1).expand(N, C, H, s, W, s).reshape(N, C, H * s, W * s)
    oh, ow = (size, size) if isinstance(size, (int, np.integer)) else tuple(int(v) for v in size)
    if oh < 1 or ow < 1:
        raise ValueError(f"upsample_nearest: size must be positive, got {size!r}")
    if oh % H == 0 and ow % W == 0 and oh // H == ow // W and oh // H in (1, 2):
        return upsample_nearest(x, scale_factor=oh // H)
    ih, iw = _nearest_index(H, oh), _nearest_index(W, ow)
    if ih is not None:
        x = x[:, :, ih]
    if iw is not None:
        x = x[:, :, :, iw]
    return x


# ------------------------------------------------------------------------------------ error location
class _LocatedModel(nn.Module):
    """Base of the zoo's top-level models: a ``ValueError`` raised inside a sub-layer (a feature map
    that vanished, a channel mismatch) is re-raised naming the layer's path and the shape it got.

    Nothing is added to a successful forward.  On failure the forward is replayed once with hooks that
    record the path of the module being run, under ``no_grad`` in the same mode; buffers (batch-norm
    running statistics) and the random generator are restored afterwards, so the replay has no effect.
    """

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except ValueError as err:
            if getattr(err, "_deepnotes_located", False):
                raise
            located = _locate(self, args, kwargs, err)
            if located is None:
                raise
            raise located from err


def _shape_of(args):
    for a in args:
        if isinstance(a, Tensor):
            return tuple(a.shape)
    return None


def _locate(model, args, kwargs, err):
    stack = []
    handles = []

    def enter(name):
        def hook(module, inputs):
            stack.append((name, module, _shape_of(inputs)))

        return hook

    def leave(module, inputs, output):
        stack.pop()

    for name, mod in model.named_modules():
        if mod is not model:
            handles.append(mod.register_forward_pre_hook(enter(name)))
            handles.append(mod.register_forward_hook(leave))
    buffers = [(b, b.data.copy()) for b in model.buffers()]
    gen = default_generator()
    rng_state = gen.bit_generator.state
    failure = None
    try:
        with no_grad():
            nn.Module.__call__(model, *args, **kwargs)
    except ValueError:
        failure = stack[-1] if stack else None
    finally:
        for h in handles:
            h.remove()
        for b, data in buffers:
            b.data[...] = data
        gen.bit_generator.state = rng_state
    if failure is None:
        return None
    path, mod, shape = failure
    where = f"layer {path!r} ({type(mod).__name__})"
    got = f" which receives shape {shape}" if shape is not None else ""
    x_shape = _shape_of(args)
    inp = f"input of shape {x_shape}" if x_shape is not None else "this input"
    text = str(err)
    hint = ""
    if "too small" in text or "smaller than" in text:
        hint = f"; the feature map vanishes there: the {inp} is too small for {type(model).__name__}"
    new = ValueError(f"{type(model).__name__}: forward failed at {where}{got}: {text}{hint}")
    new._deepnotes_located = True
    new.layer = path
    return new
