"""Forward latency of zoo models at 224x224: deepnotes vs torchvision (and onnxruntime on deepnotes' ONNX
export), same process, same weights, same inputs, same thread count.

For each model and batch size: warm-up, then the median of several alternating runs (deepnotes, torch,
deepnotes, ...) of an evaluation-mode forward without gradient tracking.  One line per case with the
ratio deepnotes / torch (lower is better) and, when ``deepnotes.onnx`` and onnxruntime are available,
the onnxruntime time of the exported model.  Default: 1 thread for everything (as the other benchmark
scripts); ``--threads 2`` uses both cores, where torch also parallelises its element-wise kernels and
NumPy only its BLAS calls.
``--profile`` adds cProfile's top entries for one deepnotes forward (resnet18, batch 16 by default).

    python benchmarks/bench_models.py [--threads 1] [--repeat 5] [--models resnet18 mobilenet_v2 vgg11]
                                      [--batches 1 16] [--profile resnet18:16] [--no-onnx]
"""

import argparse
import os
import sys


def _args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS, torch and onnxruntime")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per case (median reported)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--models", nargs="*", default=["resnet18", "mobilenet_v2", "vgg11"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    p.add_argument("--size", type=int, default=224)
    p.add_argument(
        "--profile",
        nargs="*",
        default=["resnet18:16"],
        help="MODEL:BATCH cases to profile with cProfile (none: no profile)",
    )
    p.add_argument("--top", type=int, default=15, help="cProfile entries to print")
    p.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime column")
    return p.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:  # thread counts must be fixed before NumPy / torch load their thread pools
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import timed_pair  # noqa: E402


def _bare_torchvision():
    """Register torchvision as a bare package so its pure-Python model files import without its C++
    operators (which do not load beside this torch build); see tests/conftest.py."""
    import importlib.util
    import types

    if "torchvision" in sys.modules:
        return
    spec = importlib.util.find_spec("torchvision")
    module = types.ModuleType("torchvision")
    module.__path__ = list(spec.submodule_search_locations)
    sys.modules["torchvision"] = module


def _timeit(fn, repeat, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


_TV_FILES = {
    "resnet": "resnet",
    "mobilenet_v2": "mobilenetv2",
    "mobilenet_v3": "mobilenetv3",
    "vgg": "vgg",
    "alexnet": "alexnet",
    "densenet": "densenet",
    "googlenet": "googlenet",
    "inception": "inception",
    "resnext": "resnet",
    "wide_resnet": "resnet",
}


def _tv_model(name):
    import importlib

    file = next(v for k, v in sorted(_TV_FILES.items(), key=lambda kv: -len(kv[0])) if name.startswith(k))
    ctor = getattr(importlib.import_module(f"torchvision.models.{file}"), name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ctor()


def _onnx_session(model, x, threads):
    """Export the deepnotes model and open it in onnxruntime; None (with a reason) when not possible."""
    try:
        import deepnotes.onnx as dn_onnx
    except ImportError:
        return None, "deepnotes.onnx missing"
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime not installed"
    path = os.path.join(tempfile.mkdtemp(prefix="bench_models_"), "model.onnx")
    try:
        dn_onnx.export(model, x, path)
    except Exception as err:  # report the gap, keep benchmarking
        return None, f"export failed: {type(err).__name__}: {err}"[:120]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return sess, None


def bench_model(name, args, dn, torch):
    from deepnotes.models import get_model

    rng = np.random.default_rng(0)
    ref = _tv_model(name).eval()
    try:
        ours = get_model(name)
    except AttributeError as err:  # a layer deepnotes.nn does not have yet
        print(f"{name:14s} skipped: {err}")
        return
    ours.load_state_dict(ref.state_dict())
    ours.eval()
    sess = None
    for batch in args.batches:
        x = rng.standard_normal((batch, 3, args.size, args.size)).astype(np.float32)
        xt, xd = torch.from_numpy(x), dn.tensor(x)

        def run_torch():
            with torch.no_grad():
                return ref(xt)

        def run_dn():
            with dn.no_grad():
                return ours(xd)

        expected = run_torch().numpy()
        scale = float(np.abs(expected).max()) or 1.0
        err = float(np.abs(run_dn().data - expected).max()) / scale  # relative to the largest output
        reps = args.repeat if batch < 8 else max(3, args.repeat // 2)
        t_dn, t_torch = timed_pair(run_dn, run_torch, reps, args.warmup)
        ort_text = ""
        if not args.no_onnx:
            if sess is None:
                sess, why = _onnx_session(ours, dn.tensor(x[:1]), args.threads)
                if sess is None:
                    ort_text = f"  onnxruntime: n/a ({why})"
                    args.no_onnx = True
            if sess is not None:
                feed = {sess.get_inputs()[0].name: x}
                out = sess.run(None, feed)[0]
                ort_err = float(np.abs(out - expected).max()) / scale
                t_ort = _timeit(lambda: sess.run(None, feed), reps, args.warmup)
                ort_text = (
                    f"  onnxruntime {t_ort * 1e3:9.1f} ms (deepnotes/ort {t_dn / t_ort:5.2f}, rel. diff {ort_err:.1e})"
                )
        print(
            f"{name:14s} batch {batch:3d}: deepnotes {t_dn * 1e3:9.1f} ms  torch {t_torch * 1e3:8.1f} ms  "
            f"ratio {t_dn / t_torch:6.2f}  rel. diff {err:.1e}{ort_text}",
            flush=True,
        )


def profile(spec, args, dn):
    import cProfile
    import io
    import pstats

    from deepnotes.models import get_model

    name, _, batch = spec.partition(":")
    batch = int(batch or 16)
    model = get_model(name).eval()
    x = dn.tensor(np.random.default_rng(0).standard_normal((batch, 3, args.size, args.size)).astype(np.float32))
    with dn.no_grad():
        model(x)  # warm-up
        prof = cProfile.Profile()
        prof.enable()
        model(x)
        prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).sort_stats("tottime")
    total = sum(v[2] for v in stats.stats.values())
    print(
        f"\ncProfile of one deepnotes forward, {name} batch {batch} at {args.size}x{args.size} "
        f"(total {total:.2f} s), top {args.top} by own time:"
    )
    stats.print_stats(args.top)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("ncalls"))
    print("\n".join(lines[start : start + args.top + 1]))


def main(args):
    _bare_torchvision()
    import torch

    import deepnotes as dn

    torch.set_num_threads(args.threads)
    print(
        f"threads: {args.threads} (NumPy BLAS, torch, onnxruntime); input {args.size}x{args.size}; "
        f"median of {args.repeat} runs after {args.warmup} warm-up; ratio = deepnotes / torch"
    )
    for name in args.models:
        bench_model(name, args, dn, torch)
    for spec in args.profile:
        profile(spec, args, dn)


if __name__ == "__main__":
    main(ARGS)
