"""Layer forward + backward time, deepnotes vs torch, on identical inputs and weights.

Each case is a function ``case_*(rng) -> (label, run_deepnotes, run_torch)`` listed in ``CASES``; the
two callables each run one forward and backward pass.  Runs alternate between the libraries (so load
changes hit both), after warm-up; each library reports its median.  Both libraries get the same number
of threads: torch's intra-op pool and NumPy's BLAS pool (through threadpoolctl) are set to
``--threads`` (default 1).

Run: ``PYTHONPATH=src python benchmarks/bench_layers.py [--repeat 15] [--threads 1] [--cases LSTM]``
Prints one line per case: median milliseconds for each library and the ratio deepnotes / torch.
"""

import argparse
import contextlib

import numpy as np
import torch
from _timing import timed_pair

import deepnotes as dn
from deepnotes.nn.modules.rnn import LSTM

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


def _copy_module(ours, theirs):
    ours.load_state_dict(theirs.state_dict())
    return ours


def case_lstm(rng, T=50, N=32, I=64, H=128):
    """One-layer LSTM, float32, sequence 50, batch 32, input 64, hidden 128: forward, then backward of
    output.sum() into the input and all weights."""
    tm = torch.nn.LSTM(I, H)
    m = _copy_module(LSTM(I, H), tm)
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    xd = dn.Tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    params_d, params_t = list(m.parameters()), list(tm.parameters())

    def run_deepnotes():
        for p in params_d + [xd]:
            p.grad = None
        y, _ = m(xd)
        y.sum().backward()

    def run_torch():
        for p in params_t + [xt]:
            p.grad = None
        y, _ = tm(xt)
        y.sum().backward()

    return f"LSTM fwd+bwd T={T} N={N} in={I} hidden={H} float32", run_deepnotes, run_torch


def _layer_case(rng, ours, theirs, shape):
    """Forward, then backward of a fixed random float32 cotangent into the input and all parameters."""
    m = _copy_module(ours, theirs)
    x = rng.standard_normal(shape).astype(np.float32)
    cot = rng.standard_normal(shape).astype(np.float32)
    xd, cd = dn.Tensor(x, requires_grad=True), dn.Tensor(cot)
    xt, ct = torch.tensor(x, requires_grad=True), torch.tensor(cot)
    params_d, params_t = list(m.parameters()), list(theirs.parameters())

    def run_deepnotes():
        for p in params_d + [xd]:
            p.grad = None
        m(xd).backward(cd)

    def run_torch():
        for p in params_t + [xt]:
            p.grad = None
        theirs(xt).backward(ct)

    return run_deepnotes, run_torch


def case_depthwise_conv(rng, N=32, C=256, H=32, W=32):
    """Depthwise 3x3 convolution (groups = channels = 256, stride 1, padding 1, bias), float32,
    32x256x32x32: forward, then backward of a fixed random cotangent into the input, weight and bias."""
    run_deepnotes, run_torch = _layer_case(
        rng, dn.nn.Conv2d(C, C, 3, padding=1, groups=C), torch.nn.Conv2d(C, C, 3, padding=1, groups=C), (N, C, H, W)
    )
    return f"depthwise Conv2d 3x3 fwd+bwd N={N} C={C} {H}x{W} groups={C} float32", run_deepnotes, run_torch


def case_group_norm(rng, N=32, C=64, H=32, W=32, G=32):
    """GroupNorm(32 groups, 64 channels, affine), float32, 32x64x32x32, training-mode forward + backward."""
    runs = _layer_case(rng, dn.nn.GroupNorm(G, C), torch.nn.GroupNorm(G, C), (N, C, H, W))
    return (f"GroupNorm fwd+bwd N={N} C={C} {H}x{W} groups={G} float32",) + runs


def case_batch_norm(rng, N=32, C=64, H=32, W=32):
    """BatchNorm2d(64), float32, 32x64x32x32, training mode (batch statistics, running-stat update):
    forward + backward."""
    runs = _layer_case(rng, dn.nn.BatchNorm2d(C), torch.nn.BatchNorm2d(C), (N, C, H, W))
    return (f"BatchNorm2d fwd+bwd N={N} C={C} {H}x{W} float32",) + runs


def case_layer_norm(rng, N=64, T=128, D=512):
    """LayerNorm(512), float32, 64x128x512 (a transformer's activations): forward + backward."""
    runs = _layer_case(rng, dn.nn.LayerNorm(D), torch.nn.LayerNorm(D), (N, T, D))
    return (f"LayerNorm fwd+bwd N={N} T={T} D={D} float32",) + runs


def case_upsample_bilinear(rng, N=16, C=64, H=32, W=32):
    """Upsample(scale_factor=2, bilinear), float32, 16x64x32x32 -> 64x64 (an FPN/decoder step):
    forward + backward."""
    ours = dn.nn.Upsample(scale_factor=2, mode="bilinear")
    theirs = torch.nn.Upsample(scale_factor=2, mode="bilinear")
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    cot = rng.standard_normal((N, C, 2 * H, 2 * W)).astype(np.float32)
    xd, cd = dn.Tensor(x, requires_grad=True), dn.Tensor(cot)
    xt, ct = torch.tensor(x, requires_grad=True), torch.tensor(cot)

    def run_deepnotes():
        xd.grad = None
        ours(xd).backward(cd)

    def run_torch():
        xt.grad = None
        theirs(xt).backward(ct)

    return f"Upsample bilinear x2 fwd+bwd N={N} C={C} {H}x{W} float32", run_deepnotes, run_torch


CASES = [case_lstm, case_depthwise_conv, case_group_norm, case_batch_norm, case_layer_norm, case_upsample_bilinear]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op and NumPy BLAS threads")
    parser.add_argument("--cases", nargs="*", default=None, help="substrings of case labels to run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    limit = threadpool_limits(args.threads) if threadpool_limits is not None else contextlib.nullcontext()
    with limit:
        print(
            f"bench_layers: threads = {args.threads} (torch {torch.__version__}, numpy {np.__version__}"
            f"{'' if threadpool_limits else ', BLAS threads not limited: threadpoolctl missing'})"
        )
        for make in CASES:
            label, run_d, run_t = make(np.random.default_rng(0))
            if args.cases and not any(c.lower() in label.lower() for c in args.cases):
                continue
            td, tt = timed_pair(run_d, run_t, args.repeat)
            print(f"{label}: deepnotes {td * 1e3:.2f} ms, torch {tt * 1e3:.2f} ms, ratio {td / tt:.2f}", flush=True)


if __name__ == "__main__":
    main()
