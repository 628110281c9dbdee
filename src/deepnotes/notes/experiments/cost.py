"""Cost claims: the parameters and multiply-adds of depthwise separable convolutions, and why a depthwise
convolution is slower than its FLOP count suggests (memory traffic, measured as working set and time)."""

from __future__ import annotations

import time

import numpy as np

import deepnotes as dn
import deepnotes.nn as nn
from deepnotes.analysis import count_parameters, profile

from ..result import Check, Result, Table
from . import experiment
from ._common import seeded, single_threaded


def _separable(cin, cout, k=3, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cin, k, stride=stride, padding=k // 2, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1, bias=False),
    )


_DW_CLAIM = (
    "A depthwise separable convolution costs k^2*C_in + C_in*C_out per position instead of "
    "k^2*C_in*C_out: 3 -> 256 channels, 3x3: 795 vs 6912 parameters; 112x112x64 -> 128: 109,985,792 vs "
    "924,844,032 multiply-adds, ratio 1/N + 1/k^2 = 0.1189; most of the rest is in the 1x1."
)


@experiment("depthwise_separable_cost", ids=["S003-26", "S000-13"], claim=_DW_CLAIM)
@single_threaded
def depthwise_separable_cost(seed=0, quick=False):
    """Notes S000-13 (3 input and 256 output channels: 6912 vs 795 parameters) and S003-26 (MobileNet v1 on a
    112x112x64 map with 128 3x3 filters: 924,844,032 vs 109,985,792 multiply-adds, ratio 0.1189).

    Measured with deepnotes.analysis (count_parameters, profile) on bias-free nn.Conv2d layers: a
    standard 3x3 convolution vs depthwise (groups = C_in) + pointwise 1x1, for 3 -> 256 (parameters) and
    64 -> 128 on 112x112 (MACs; on 56x56 in quick mode, scaled by 4, which is exact for stride-1 'same'
    convolutions, and the unscaled 56x56 figure is shown too); the share of zoo mobilenet_v1's MACs
    (224x224; 112x112 in quick mode) spent in its 1x1 convolutions; and the zoo's DepthwiseSeparableConv
    weights (without BN) for 64 -> 128.
    Checks: the four figures of the notes exactly; the MAC ratio equals 1/128 + 1/9 (to 1e-12); the 1x1
    convolutions take > 90% of mobilenet_v1's convolution MACs."""
    p_std = count_parameters(nn.Conv2d(3, 256, 3, padding=1, bias=False))
    p_sep = count_parameters(_separable(3, 256))
    size = 56 if quick else 112
    scale = (112 // size) ** 2
    m_std = profile(nn.Conv2d(64, 128, 3, padding=1, bias=False), (64, size, size)).macs * scale
    m_sep = profile(_separable(64, 128), (64, size, size)).macs * scale
    from deepnotes.models import mobilenet_v1
    from deepnotes.models.mobilenet_v1 import DepthwiseSeparableConv

    dn.manual_seed(seed)
    zoo_block = DepthwiseSeparableConv(64, 128)
    zoo_w = sum(count_parameters(m) for m in zoo_block.modules() if isinstance(m, nn.Conv2d))
    res = 112 if quick else 224
    prof = profile(mobilenet_v1(), (3, res, res))
    conv_rows = [r for r in prof.rows if r.type == "Conv2d"]
    one = sum(r.macs for r in conv_rows if "pointwise" in r.name)
    share = one / sum(r.macs for r in conv_rows)
    checks = [
        Check("standard 3x3, 3 -> 256 parameters - 6912", abs(p_std - 6912), "<=", 0),
        Check("separable 3 -> 256 parameters - 795", abs(p_sep - 795), "<=", 0),
        Check("standard 112x112x64 -> 128 MACs - 924,844,032", abs(m_std - 924_844_032), "<=", 0),
        Check("separable MACs - 109,985,792", abs(m_sep - 109_985_792), "<=", 0),
        Check("|MAC ratio - (1/128 + 1/9)|", abs(m_sep / m_std - (1 / 128 + 1 / 9)), "<=", 1e-12),
        Check("share of mobilenet_v1 convolution MACs in 1x1 convolutions", share, ">", 0.9),
    ]
    return Result(
        experiment="depthwise_separable_cost",
        claim=_DW_CLAIM,
        checks=checks,
        tables=[
            Table(
                "Standard vs depthwise separable 3x3 convolution",
                ["quantity", "standard", "separable", "ratio"],
                [
                    ["parameters, 3 -> 256", p_std, p_sep, p_sep / p_std],
                    ["MACs, 112x112x64 -> 128", m_std, m_sep, m_sep / m_std],
                    [f"MACs measured on {size}x{size}", m_std // scale, m_sep // scale, m_sep / m_std],
                ],
            ),
            Table(
                "Model zoo",
                ["quantity", "value"],
                [
                    ["DepthwiseSeparableConv(64, 128) conv weights", zoo_w],
                    [f"mobilenet_v1 MACs at {res}x{res}", prof.macs],
                    ["share of conv MACs in 1x1 convolutions", share],
                ],
            ),
        ],
        seeds=[seed],
        quick=quick,
    )


_MEM_CLAIM = (
    "A depthwise convolution is memory-bound: its working set (input + output + weights) barely shrinks "
    "while its multiply-adds fall by C, so it runs far less than C times faster than the dense "
    "convolution, and slower than a dense convolution with the same FLOPs but a small working set."
)


def _min_time(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@experiment("depthwise_memory_bound", ids=["S002-79"], claim=_MEM_CLAIM)
@single_threaded
def depthwise_memory_bound(seed=0, quick=False):
    """Note S002-79: a depthwise convolution (64x64x256 -> 64x64x256, 3x3) has 1/256 of the dense
    convolution's FLOPs (9.44M vs 2.42G MACs) but a similar working set (2.10M vs 2.69M values), so it is
    only about 10x faster (measured on a GPU in the notes), and slower than a dense 64x64x16 -> 16
    convolution with the same FLOPs and a working set of 133K.

    Measured: MACs (deepnotes.analysis.profile) and working sets (input + output + weights, in values) of
    the three convolutions of the notes, at 64x64 (32x32 in quick mode: the ratios do not depend on the
    size); arithmetic intensity = MACs per value of the working set; and the forward time of each with
    deepnotes on this CPU (float32, one thread, best of 5 runs, 3 in quick mode, after one warm-up), in one
    process.  The GPU figures of the notes cannot be measured here; the CPU times show the same effect
    when the memory traffic dominates.
    Checks: the MACs and working sets of the notes (at 64x64, scaled exactly from 32x32 in quick mode)
    within 1%; depthwise is faster than dense by far less than its MAC ratio (speed-up < MAC ratio / 4);
    depthwise is slower than the small dense convolution with the same MACs."""
    rng = seeded(seed)
    size = 32 if quick else 64
    repeat = 3 if quick else 5
    convs = {
        "dense 256 -> 256": nn.Conv2d(256, 256, 3, padding=1, bias=False),
        "depthwise 256": nn.Conv2d(256, 256, 3, padding=1, groups=256, bias=False),
        "dense 16 -> 16": nn.Conv2d(16, 16, 3, padding=1, bias=False),
    }
    scale = (64 // size) ** 2
    rows, macs, times = [], {}, {}
    for name, conv in convs.items():
        c = conv.in_channels
        x = dn.tensor(rng.standard_normal((1, c, size, size)).astype(np.float32))
        macs[name] = profile(conv, (c, size, size)).macs
        with dn.no_grad():
            conv(x)
            times[name] = _min_time(lambda: conv(x), repeat)
        ws64 = 2 * c * 64 * 64 + count_parameters(conv)
        rows.append([name, macs[name] * scale, ws64, macs[name] * scale / ws64, times[name] * 1e3])
    d, w, s = "dense 256 -> 256", "depthwise 256", "dense 16 -> 16"
    notes = {d: (2.42e9, 2.69e6), w: (9.44e6, 2.10e6), s: (9.44e6, 133e3)}
    worst = max(max(abs(row[1] / notes[row[0]][0] - 1), abs(row[2] / notes[row[0]][1] - 1)) for row in rows)
    mac_ratio = macs[d] / macs[w]
    speedup = times[d] / times[w]
    checks = [
        Check("max relative difference from the notes' MACs and working sets", worst, "<", 0.01),
        Check(
            f"depthwise speed-up over dense ({speedup:.1f}x) / MAC ratio ({mac_ratio:.0f}x)",
            speedup / mac_ratio,
            "<",
            0.25,
        ),
        Check("time depthwise / time of the small dense conv with the same MACs", times[w] / times[s], ">", 1.0),
    ]
    return Result(
        experiment="depthwise_memory_bound",
        claim=_MEM_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"The notes' three convolutions (MACs and working set at 64x64; times at {size}x{size})",
                ["convolution", "MACs", "working set (values)", "MACs per value", "forward time (ms)"],
                rows,
            )
        ],
        seeds=[seed],
        quick=quick,
    )
