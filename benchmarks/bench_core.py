"""Side-by-side timings of deepnotes and PyTorch (CPU) on the core engine workloads of issue 2.

Same process, same inputs, same thread count; warm-up, then the median of several runs.  Prints one
line per case with the ratio deepnotes time / torch time (lower is better; the target is <= 2.0).

    python benchmarks/bench_core.py [--repeat 20]
"""

import argparse

import numpy as np
from _timing import timed_pair


def case_conv(dn, torch, rng):
    x = rng.standard_normal((32, 3, 32, 32)).astype(np.float32)
    conv_t = torch.nn.Conv2d(3, 64, 3, padding=1)
    conv_d = dn.nn.Conv2d(3, 64, 3, padding=1)
    conv_d.load_state_dict(conv_t.state_dict())
    xt = torch.tensor(x, requires_grad=True)
    xd = dn.tensor(x, requires_grad=True)
    gt = torch.ones(32, 64, 32, 32)
    gd = np.ones((32, 64, 32, 32), np.float32)

    def run_t():
        xt.grad = None
        conv_t.zero_grad()
        conv_t(xt).backward(gt)

    def run_d():
        xd.grad = None
        conv_d.zero_grad()
        conv_d(xd).backward(gd)

    return "Conv2d fwd+bwd N=32 3->64 32x32 k3 p1", run_d, run_t


def case_lenet(dn, torch, rng):
    from deepnotes.models import lenet5_modern

    x = rng.standard_normal((64, 1, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    md = lenet5_modern()  # LeNet5: ReLU, max pooling, full C3
    mt = torch.nn.Sequential(  # the same network in torch
        torch.nn.Conv2d(1, 6, 5),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(400, 120),
        torch.nn.ReLU(),
        torch.nn.Linear(120, 84),
        torch.nn.ReLU(),
        torch.nn.Linear(84, 10),
    )
    od = dn.optim.SGD(md.parameters(), lr=0.01, momentum=0.9)
    ot = torch.optim.SGD(mt.parameters(), lr=0.01, momentum=0.9)
    xd, yd = dn.tensor(x), dn.tensor(y)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def run_d():
        od.zero_grad()
        dn.nn.functional.cross_entropy(md(xd), yd).backward()
        od.step()

    def run_t():
        ot.zero_grad()
        torch.nn.functional.cross_entropy(mt(xt), yt).backward()
        ot.step()

    return "LeNet-5 (modern) training step, batch 64", run_d, run_t


def case_linear(dn, torch, rng):
    x = rng.standard_normal((256, 1024)).astype(np.float32)
    lt = torch.nn.Linear(1024, 1024)
    ld = dn.nn.Linear(1024, 1024)
    ld.load_state_dict(lt.state_dict())
    xt = torch.tensor(x, requires_grad=True)
    xd = dn.tensor(x, requires_grad=True)
    gt = torch.ones(256, 1024)
    gd = np.ones((256, 1024), np.float32)

    def run_d():
        xd.grad = None
        ld.zero_grad()
        ld(xd).backward(gd)

    def run_t():
        xt.grad = None
        lt.zero_grad()
        lt(xt).backward(gt)

    return "Linear 1024->1024 fwd+bwd, batch 256", run_d, run_t


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op and NumPy BLAS threads (same for both)")
    args = parser.parse_args()
    import torch

    import deepnotes as dn
    import deepnotes.nn  # noqa: F401
    import deepnotes.optim  # noqa: F401

    torch.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(args.threads)
        blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info())
    except ImportError:
        blas = "threadpoolctl not installed: BLAS threads not limited"
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads); numpy {np.__version__} ({blas})")
    rng = np.random.default_rng(0)
    dn.manual_seed(0)
    torch.manual_seed(0)
    for case in (case_conv, case_lenet, case_linear):
        name, run_d, run_t = case(dn, torch, rng)
        td, tt = timed_pair(run_d, run_t, args.repeat)
        print(f"{name:<42} deepnotes {td * 1e3:8.2f} ms  torch {tt * 1e3:8.2f} ms  ratio {td / tt:5.2f}")


if __name__ == "__main__":
    main()
