"""Per-transform time of deepnotes.data.transforms.functional against torchvision.transforms.v2.functional
on the same images (uint8 and float32, 3 x 256 x 256, one thread each), and a DataLoader pipeline's
throughput with 0 and 2 workers.  Prints one line per op with both times and the ratio deepnotes /
torchvision, then the median ratio (the issue's target: <= 1.5).

    python benchmarks/bench_transforms.py [--size 256] [--repeat 15] [--threads 1]
"""

import argparse
import os
import statistics
import sys
import time


def _args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--samples", type=int, default=256, help="images per DataLoader epoch")
    return parser.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:  # thread counts must be fixed before NumPy / torch load their thread pools
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import timed_pair  # noqa: E402


def _bare_torchvision():
    """Register torchvision as a bare package so its pure-Python transforms import without its C++
    operators (which do not load beside this torch build); see tests/conftest.py."""
    import importlib.util
    import types

    if "torchvision" in sys.modules:
        return
    spec = importlib.util.find_spec("torchvision")
    module = types.ModuleType("torchvision")
    module.__path__ = list(spec.submodule_search_locations)
    sys.modules["torchvision"] = module


def _ops(F, TF, IM, TIM):
    """(name, dtypes, deepnotes call, torchvision call) with the same parameters."""
    bil, tbil = IM.BILINEAR, TIM.BILINEAR
    return [
        ("resize bilinear aa 224", "uf", lambda x: F.resize(x, [224, 224]), lambda x: TF.resize(x, [224, 224])),
        (
            "resize bilinear 300",
            "uf",
            lambda x: F.resize(x, [300, 300], antialias=False),
            lambda x: TF.resize(x, [300, 300], antialias=False),
        ),
        (
            "resize bicubic aa 128",
            "uf",
            lambda x: F.resize(x, [128, 128], IM.BICUBIC),
            lambda x: TF.resize(x, [128, 128], TIM.BICUBIC),
        ),
        (
            "resize nearest 200",
            "uf",
            lambda x: F.resize(x, [200, 200], IM.NEAREST),
            lambda x: TF.resize(x, [200, 200], TIM.NEAREST),
        ),
        (
            "resized_crop 224",
            "uf",
            lambda x: F.resized_crop(x, 20, 30, 180, 160, [224, 224]),
            lambda x: TF.resized_crop(x, 20, 30, 180, 160, [224, 224]),
        ),
        ("crop", "uf", lambda x: F.crop(x, 10, 20, 200, 180), lambda x: TF.crop(x, 10, 20, 200, 180)),
        ("center_crop", "uf", lambda x: F.center_crop(x, 224), lambda x: TF.center_crop(x, 224)),
        ("pad constant 16", "uf", lambda x: F.pad(x, 16), lambda x: TF.pad(x, 16)),
        (
            "pad reflect 16",
            "uf",
            lambda x: F.pad(x, 16, padding_mode="reflect"),
            lambda x: TF.pad(x, 16, padding_mode="reflect"),
        ),
        ("horizontal_flip", "uf", F.horizontal_flip, TF.horizontal_flip),
        ("vertical_flip", "uf", F.vertical_flip, TF.vertical_flip),
        ("rotate 30 nearest", "uf", lambda x: F.rotate(x, 30.0), lambda x: TF.rotate(x, 30.0)),
        ("rotate 30 bilinear", "uf", lambda x: F.rotate(x, 30.0, bil), lambda x: TF.rotate(x, 30.0, tbil)),
        (
            "affine bilinear",
            "uf",
            lambda x: F.affine(x, 10.0, [5, -3], 1.1, [5.0, 2.0], bil),
            lambda x: TF.affine(x, 10.0, [5, -3], 1.1, [5.0, 2.0], tbil),
        ),
        ("adjust_brightness", "uf", lambda x: F.adjust_brightness(x, 1.3), lambda x: TF.adjust_brightness(x, 1.3)),
        ("adjust_contrast", "uf", lambda x: F.adjust_contrast(x, 0.7), lambda x: TF.adjust_contrast(x, 0.7)),
        ("adjust_saturation", "uf", lambda x: F.adjust_saturation(x, 1.4), lambda x: TF.adjust_saturation(x, 1.4)),
        ("adjust_hue", "uf", lambda x: F.adjust_hue(x, 0.1), lambda x: TF.adjust_hue(x, 0.1)),
        ("gaussian_blur 5", "uf", lambda x: F.gaussian_blur(x, 5, 1.2), lambda x: TF.gaussian_blur(x, 5, 1.2)),
        ("gaussian_noise", "uf", lambda x: F.gaussian_noise(x, 0.0, 0.1), lambda x: TF.gaussian_noise(x, 0.0, 0.1)),
        ("erase", "uf", lambda x: F.erase(x, 20, 30, 60, 80, 0), lambda x: TF.erase(x, 20, 30, 60, 80, TF_zero(x))),
        (
            "normalize",
            "f",
            lambda x: F.normalize(x, [0.5, 0.4, 0.3], [0.2, 0.2, 0.2]),
            lambda x: TF.normalize(x, [0.5, 0.4, 0.3], [0.2, 0.2, 0.2]),
        ),
        (
            "to_dtype float scale",
            "u",
            lambda x: F.to_dtype(x, np.float32, True),
            lambda x: TF.to_dtype(x, TF_float(), True),
        ),
    ]


def TF_zero(x):  # noqa: N802 (a helper named after its torch value)
    import torch

    return torch.zeros((), dtype=x.dtype)


def TF_float():  # noqa: N802
    import torch

    return torch.float32


class _Images:
    """A data set of random uint8 images run through an augmentation pipeline (deepnotes or torchvision)."""

    def __init__(self, n, size, pipeline, wrap):
        rng = np.random.default_rng(0)
        self.images = rng.integers(0, 256, (n, 3, size, size), dtype=np.uint8)
        self.pipeline, self.wrap = pipeline, wrap

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return np.asarray(self.pipeline(self.wrap(self.images[i])))


def _loader_bench(args):
    import torch
    import torchvision.transforms.v2 as TV
    from torchvision import tv_tensors as TVT

    from deepnotes.data import DataLoader
    from deepnotes.data import transforms as T
    from deepnotes.data import tv_tensors as tvt

    ours = T.Compose(
        [
            T.RandomResizedCrop(224),
            T.RandomHorizontalFlip(),
            T.ColorJitter(0.4, 0.4, 0.4),
            T.ToDtype(np.float32, scale=True),
        ]
    )
    theirs = TV.Compose(
        [
            TV.RandomResizedCrop(224),
            TV.RandomHorizontalFlip(),
            TV.ColorJitter(0.4, 0.4, 0.4),
            TV.ToDtype(torch.float32, scale=True),
        ]
    )
    print(
        f"\nDataLoader epoch of {args.samples} uint8 {args.size}x{args.size} images, batch 32 "
        "(RandomResizedCrop 224, flip, ColorJitter, ToDtype):"
    )
    for workers in (0, 2):
        row = []
        for name, pipe, wrap in (
            ("deepnotes", ours, tvt.Image),
            ("torchvision", theirs, lambda a: TVT.Image(torch.from_numpy(a))),
        ):
            loader = DataLoader(_Images(args.samples, args.size, pipe, wrap), batch_size=32, num_workers=workers)
            times = []
            for _ in range(2):
                t0 = time.perf_counter()
                for _ in loader:
                    pass
                times.append(time.perf_counter() - t0)
            row.append(min(times))
            print(f"  {name:11s} transforms, num_workers={workers}: {args.samples / min(times):7.1f} images/s")
        print(f"  ratio deepnotes / torchvision time: {row[0] / row[1]:.2f}")


def main(args):
    _bare_torchvision()
    import torch
    from torchvision.transforms.v2 import functional as TF

    from deepnotes import threads
    from deepnotes.data.transforms import functional as F

    torch.set_num_threads(args.threads)
    threads.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    base = rng.random((3, args.size, args.size))
    images = {"u": (base * 255).astype(np.uint8), "f": base.astype(np.float32)}
    print(
        f"threads: {args.threads}; image 3x{args.size}x{args.size}; median of {args.repeat} alternating runs; "
        "ratio = deepnotes / torchvision"
    )
    ratios = []
    for name, kinds, ours, theirs in _ops(F, TF, F.InterpolationMode, TF.InterpolationMode):
        for kind in kinds:
            x = images[kind]
            t = torch.from_numpy(x.copy())
            a, b = timed_pair(lambda: ours(x), lambda: theirs(t), args.repeat)
            ratios.append(a / b)
            label = "uint8" if kind == "u" else "float32"
            print(
                f"{name:24s} {label:8s} deepnotes {a * 1e3:8.3f} ms  torchvision {b * 1e3:8.3f} ms  ratio {a / b:5.2f}"
            )
    print(
        f"\nmedian ratio over {len(ratios)} cases: {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
    )
    _loader_bench(args)


if __name__ == "__main__":
    main(ARGS)
