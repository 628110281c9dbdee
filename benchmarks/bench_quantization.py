"""Quantised (int8) Linear/Conv2d vs float32 ones, forward pass, on LeNet-5 and ResNet-like shapes.

Each case builds a float32 deepnotes layer and its int8 conversion (``QuantizedLinear``/``QuantizedConv2d``:
per-channel int8 weights, the input quantised to quint8, an exact int32 accumulation, the dequantised
float32 output) from the same weights and input.  The int8 time includes quantising the input and
rescaling the output.  The accumulation runs on the floating-point BLAS (``--backend blas``, exact by
the magnitude bound of deepnotes.compress.quantized) or NumPy's integer matmul (``--backend integer``).
For context the same pair is timed in torch (float32 layer vs ``torch.ao.nn.quantized`` with the x86
engine, quint8 in and out), whose int8 kernels are vectorised integer code.  No target: the ratios are
reported as measured.  Runs alternate (float, int8) after warm-up; each reports its median.

Run: ``PYTHONPATH=src python benchmarks/bench_quantization.py [--repeat 15] [--threads 1]
[--backend blas|integer] [--cases LeNet] [--no-torch]``
Prints one line per case: median ms of float32 and int8, the ratio int8 / float32, the weight bytes
ratio, and torch's ratio.
"""

import argparse
import contextlib
import warnings

import numpy as np
from _timing import timed_pair

import deepnotes as dn
from deepnotes.compress import quantization as q
from deepnotes.compress.quantized import QuantizedConv2d, QuantizedLinear

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

# (label, kind, layer arguments, input shape)
SHAPES = [
    ("LeNet-5 C1 conv 1->6 5x5", "conv", (1, 6, 5, 1, 0), (64, 1, 32, 32)),
    ("LeNet-5 C3 conv 6->16 5x5", "conv", (6, 16, 5, 1, 0), (64, 6, 14, 14)),
    ("LeNet-5 C5 linear 400->120", "linear", (400, 120), (64, 400)),
    ("LeNet-5 F6 linear 120->84", "linear", (120, 84), (64, 120)),
    ("ResNet conv 64->64 3x3 56x56", "conv", (64, 64, 3, 1, 1), (8, 64, 56, 56)),
    ("ResNet conv 128->128 3x3 28x28", "conv", (128, 128, 3, 1, 1), (8, 128, 28, 28)),
    ("ResNet conv 256->256 3x3 14x14", "conv", (256, 256, 3, 1, 1), (8, 256, 14, 14)),
    ("ResNet downsample 64->128 1x1 s2", "conv", (64, 128, 1, 2, 0), (8, 64, 56, 56)),
    ("ResNet fc 512->1000", "linear", (512, 1000), (64, 512)),
]


def _pair(kind, args, shape, backend, rng):
    """(float layer, int8 layer, float input, input scale, input zero point)."""
    x = np.maximum(rng.standard_normal(shape), 0).astype(np.float32)  # post-ReLU activations
    if kind == "conv":
        cin, cout, k, s, p = args
        layer = dn.nn.Conv2d(cin, cout, k, stride=s, padding=p)
        cls = QuantizedConv2d
    else:
        layer = dn.nn.Linear(*args)
        cls = QuantizedLinear
    obs_x, obs_w = q.MinMaxObserver("quint8"), q.PerChannelMinMaxObserver()
    obs_x(x)
    obs_w(layer.weight.data)
    s, z = obs_x.calculate_qparams()
    qlayer = cls.from_float(layer, obs_w.calculate_qparams(), (s, z), (s, z), backend=backend)
    return layer.eval(), qlayer, x, float(s[0]), int(z[0])


def _torch_pair(kind, args, x, layer, qlayer, s, z):
    import torch
    import torch.ao.nn.quantized as nnq

    torch.backends.quantized.engine = "x86" if "x86" in torch.backends.quantized.supported_engines else "fbgemm"
    w = torch.from_numpy(layer.weight.data.copy())
    b = torch.from_numpy(layer.bias.data.copy())
    wq = torch.quantize_per_channel(
        w, torch.from_numpy(qlayer.weight_scale.data), torch.from_numpy(qlayer.weight_zero_point.data), 0, torch.qint8
    )
    if kind == "conv":
        cin, cout, k, st, p = args
        tf, tq = torch.nn.Conv2d(cin, cout, k, stride=st, padding=p), nnq.Conv2d(cin, cout, k, stride=st, padding=p)
    else:
        tf, tq = torch.nn.Linear(*args), nnq.Linear(*args)
    with torch.no_grad():
        tf.weight.copy_(w)
        tf.bias.copy_(b)
    tq.set_weight_bias(wq, b)
    tq.scale, tq.zero_point = s, z
    xt = torch.from_numpy(x)
    xq = torch.quantize_per_tensor(xt, s, z, torch.quint8)

    def run_float():
        with torch.no_grad():
            tf(xt)

    def run_int8():
        tq(xq)

    return run_float, run_int8


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="NumPy BLAS (and torch) threads")
    parser.add_argument("--backend", choices=("blas", "integer"), default="blas")
    parser.add_argument("--cases", nargs="*", default=None, help="substrings of case labels to run")
    parser.add_argument("--no-torch", action="store_true", help="skip torch's int8 / float32 reference ratio")
    args = parser.parse_args()
    torch = None
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            torch = None
    limit = threadpool_limits(args.threads) if threadpool_limits is not None else contextlib.nullcontext()
    rng = np.random.default_rng(0)
    with limit, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        print(
            f"bench_quantization: threads = {args.threads}, backend = {args.backend} (numpy {np.__version__}"
            f"{', torch ' + torch.__version__ if torch is not None else ''})"
        )
        for label, kind, layer_args, shape in SHAPES:
            if args.cases and not any(c.lower() in label.lower() for c in args.cases):
                continue
            layer, qlayer, x, s, z = _pair(kind, layer_args, shape, args.backend, rng)
            xd = dn.tensor(x)

            def run_float(layer=layer, xd=xd):
                with dn.no_grad():
                    layer(xd)

            def run_int8(qlayer=qlayer, xd=xd):
                qlayer(xd)

            tf, tq = timed_pair(run_float, run_int8, args.repeat)
            wbytes = qlayer.weight.data.nbytes + qlayer.weight_scale.data.nbytes + qlayer.weight_zero_point.data.nbytes
            line = (
                f"{label} batch {shape[0]}: float32 {tf * 1e3:.2f} ms, int8 {tq * 1e3:.2f} ms, ratio {tq / tf:.2f}; "
                f"weight bytes ratio {wbytes / layer.weight.data.nbytes:.3f}"
            )
            if torch is not None:
                ttf, ttq = timed_pair(*_torch_pair(kind, layer_args, x, layer, qlayer, s, z), args.repeat)
                line += f"; torch: float32 {ttf * 1e3:.2f} ms, int8 {ttq * 1e3:.2f} ms, ratio {ttq / ttf:.2f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
