"""Optimizer step time, deepnotes vs torch, on a ResNet-18-sized parameter set.

The parameter set has the 62 tensor shapes of torchvision's ``resnet18`` (11,689,512 float32
values).  Both libraries start from the same values and use the same gradients; one timed run is
one ``optimizer.step()`` (torch's single-tensor ``foreach=False`` path, its CPU default); the two
libraries' runs alternate and each reports its median.  NumPy's element-wise ufuncs run on one
thread, so torch is limited to the same number of threads (``--threads``, default 1).

Run: ``PYTHONPATH=src python benchmarks/bench_optim.py [--repeat 11] [--threads 1]``
Prints one line per case: median milliseconds for each library and the ratio deepnotes / torch.
"""

import argparse

import numpy as np
import torch
from _timing import timed_pair

import deepnotes.optim as dopt
from deepnotes.nn import Parameter


def resnet18_shapes():
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    in_ch = 64
    for out_ch, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for block in range(2):
            cin = in_ch if block == 0 else out_ch
            shapes += [(out_ch, cin, 3, 3), (out_ch,), (out_ch,), (out_ch, out_ch, 3, 3), (out_ch,), (out_ch,)]
            if block == 0 and (stride != 1 or cin != out_ch):
                shapes += [(out_ch, cin, 1, 1), (out_ch,), (out_ch,)]
        in_ch = out_ch
    shapes += [(1000, 512), (1000,)]
    return shapes


CASES = [
    ("SGD momentum=0.9", "SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD momentum=0.9 nesterov wd=1e-4", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    ("Adam", "Adam", dict(lr=1e-3)),
    ("AdamW wd=1e-2", "AdamW", dict(lr=1e-3, weight_decay=1e-2)),
    ("Adam amsgrad", "Adam", dict(lr=1e-3, amsgrad=True)),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (numpy ufuncs use one thread)")
    parser.add_argument("--cases", nargs="*", default=None, help="substrings of case names to run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    shapes = resnet18_shapes()
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s, dtype=np.float32) * 0.05 for s in shapes]
    grads = [rng.standard_normal(s, dtype=np.float32) * 1e-3 for s in shapes]
    total = sum(v.size for v in values)
    print(
        f"bench_optim: {len(shapes)} tensors, {total:,} float32 values, torch threads = "
        f"{torch.get_num_threads()}, numpy {np.__version__}, torch {torch.__version__}"
    )

    for label, name, kwargs in CASES:
        if args.cases and not any(c in label for c in args.cases):
            continue
        ours = [Parameter(v.copy()) for v in values]
        for p, g in zip(ours, grads):
            p.grad = g
        theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
        for p, g in zip(theirs, grads):
            p.grad = torch.from_numpy(g.copy())
        opt_o = getattr(dopt, name)(ours, **kwargs)
        opt_t = getattr(torch.optim, name)(theirs, foreach=False, **kwargs)
        t_o, t_t = timed_pair(opt_o.step, opt_t.step, args.repeat)
        # same number of steps on both sides: the parameters agree to float32 rounding
        diff = max(float(np.max(np.abs(p.data - q.detach().numpy()))) for p, q in zip(ours, theirs))
        print(
            f"{label:36s} deepnotes {t_o * 1e3:8.2f} ms   torch {t_t * 1e3:8.2f} ms   "
            f"ratio {t_o / t_t:5.2f}   max|diff| {diff:.1e}"
        )


if __name__ == "__main__":
    main()
