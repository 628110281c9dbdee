"""Model-compression claims of seed 002 (S002-59, repeated as S002-78): pruning (unstructured vs structured,
fine-tuning), post-training int8 quantisation (accuracy, size, latency) and knowledge distillation, measured
with deepnotes.compress on the bundled digits.

The pruned and quantised network is the digits LeNet-5 (``lenet5_modern``: ReLU, max pooling, 61,706
parameters) on the 8x8 digits upsampled to 32x32, trained with Adam.  Trained networks are cached per
(seed, epochs) within a process, so the experiments share them when run together."""

from __future__ import annotations

import copy
import os
import tempfile
import time

import numpy as np

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes.compress import post_training
from deepnotes.compress.distillation import distillation_loss
from deepnotes.compress.iterative_pruning import iterative_magnitude_pruning
from deepnotes.data.datasets import Digits

from ..result import Check, Figure, Result, Table
from . import experiment
from ._common import mean_std, seeded, single_threaded, t_statistic

_ARRAYS = {}
_TRAINED = {}


def _digits(size):
    """(x_train, y_train, x_test, y_test) of the bundled digits at ``size`` x ``size``, float32 in [0, 1]."""
    if size not in _ARRAYS:
        tr, te = Digits(train=True, size=size), Digits(train=False, size=size)
        _ARRAYS[size] = (tr.images, tr.targets, te.images, te.targets)
    return _ARRAYS[size]


def _fit(model, x, y, epochs, rng, lr, loss=None, batch_size=32):
    """Mini-batch Adam; ``loss(logits, idx)`` replaces cross entropy (idx: the batch's row indices)."""
    opt = dn.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    for _ in range(epochs):
        model.train()
        for idx in np.array_split(rng.permutation(len(x)), max(1, len(x) // batch_size)):
            out = model(dn.tensor(x[idx]))
            value = F.cross_entropy(out, dn.tensor(y[idx])) if loss is None else loss(out, idx)
            opt.zero_grad()
            value.backward()
            opt.step()
    return model.eval()


def _accuracy(model, x, y):
    with dn.no_grad():
        return float((model(dn.tensor(x)).numpy().argmax(1) == y).mean())


def _lenet(seed, epochs):
    """The digits LeNet-5 trained ``epochs`` epochs from ``seed`` (cached; callers copy it)."""
    key = (seed, epochs)
    if key not in _TRAINED:
        xtr, ytr, _, _ = _digits(32)
        rng = seeded(seed)
        model = dn.models.get_model("lenet5_modern")
        _TRAINED[key] = _fit(model, xtr, ytr, epochs, rng, lr=2e-3)
    return _TRAINED[key]


def _layers(model):
    """The four hidden layers (C1, C3, C5, F6) of lenet5_modern: the output layer keeps its 10 classes."""
    return [(model.features[0], "weight"), (model.features[3], "weight"), (model.classifier[1], "weight"),
            (model.classifier[3], "weight")]  # fmt: skip


def _dense_macs(model):
    """Multiply-adds of the dense network that keeps only the live output channels/rows of each layer
    (and the inputs they feed): what structured pruning saves without any sparse kernel."""
    alive = []
    for m, name in _layers(model):
        w = getattr(m, name).data
        alive.append(int(np.count_nonzero(np.abs(w).reshape(w.shape[0], -1).sum(1))))
    c1, c3, c5, f6 = alive
    return (c1 * 1 * 25 * 28 * 28) + (c3 * c1 * 25 * 10 * 10) + (c5 * c3 * 25) + (f6 * c5) + (10 * f6)


_PRUNE_CLAIM = (
    "Pruning removes weights chosen by magnitude and is followed by fine-tuning: unstructured pruning keeps the "
    "accuracy up to high sparsity but only pays off with sparse kernels; structured pruning removes whole "
    "channels/filters, making the dense network directly cheaper, at a larger accuracy cost for the same sparsity."
)


@experiment("pruning_sparsity_accuracy", ids=["S002-59"], claim=_PRUNE_CLAIM)
@single_threaded
def pruning_sparsity_accuracy(seed=0, quick=False):
    """Note S002-59.  The digits LeNet-5 (trained 2 epochs in quick mode, 4 otherwise) is pruned in one shot
    to each sparsity (of its four hidden layers' weights): unstructured = one global magnitude threshold
    (``global_unstructured``), structured = the same fraction of whole output channels/rows of smallest L2
    norm in each layer (``ln_structured``, dim 0).  Test accuracy right after pruning and after one epoch of
    fine-tuning (Adam, lr 1e-3; quick mode: on 512 training images); mean over 1 (quick) or 3 seeds.  The
    dense network gets the same extra epoch, as the reference of the fine-tuned ones.
    Checks: unstructured at 80% loses at most 2 points after fine-tuning; before fine-tuning structured
    pruning loses more than unstructured (mean gap over the sparsities > 0); fine-tuning raises the accuracy
    of the 90% unstructured network; structured pruning to 50% leaves a dense network with < 50% of the
    multiply-adds, while unstructured pruning leaves them all (dense kernels)."""
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    epochs = 2 if quick else 4
    sparsities = [0.5, 0.8, 0.9] if quick else [0.3, 0.5, 0.7, 0.8, 0.9, 0.95]
    xtr, ytr, xte, yte = _digits(32)
    ft_x, ft_y = (xtr[:512], ytr[:512]) if quick else (xtr, ytr)
    acc = {(k, s, ft): [] for k in ("unstructured", "structured") for s in sparsities for ft in (False, True)}
    macs = {}
    dense, dense_ft = [], []
    for sd in seeds:
        base = _lenet(sd, epochs)
        dense.append(_accuracy(base, xte, yte))
        # the reference for the fine-tuned networks: the dense one given the same extra epoch
        tuned = _fit(copy.deepcopy(base), ft_x, ft_y, 1, np.random.default_rng([sd, 7]), lr=1e-3)
        dense_ft.append(_accuracy(tuned, xte, yte))
        full_macs = _dense_macs(base)
        for s in sparsities:
            for kind, scope in (("unstructured", "global"), ("structured", "structured")):
                model = copy.deepcopy(base)
                iterative_magnitude_pruning(model, None, [s], parameters=_layers(model), scope=scope)
                acc[(kind, s, False)].append(_accuracy(model, xte, yte))
                macs[(kind, s)] = _dense_macs(model) / full_macs
                _fit(model, ft_x, ft_y, 1, np.random.default_rng([sd, 7]), lr=1e-3)
                acc[(kind, s, True)].append(_accuracy(model, xte, yte))
    m = {k: float(np.mean(v)) for k, v in acc.items()}
    dense_acc, dense_ft_acc = float(np.mean(dense)), float(np.mean(dense_ft))
    rows = [
        [kind, s, m[(kind, s, False)], m[(kind, s, True)], m[(kind, s, True)] - dense_ft_acc, macs[(kind, s)]]
        for kind in ("unstructured", "structured")
        for s in sparsities
    ]
    gap = float(np.mean([m[("unstructured", s, False)] - m[("structured", s, False)] for s in sparsities]))
    checks = [
        Check(
            "unstructured 80%: accuracy lost after fine-tuning (vs the dense network fine-tuned alike)",
            dense_ft_acc - m[("unstructured", 0.8, True)],
            "<=",
            0.02,
        ),
        Check("mean over sparsities of unstructured - structured accuracy (no fine-tuning)", gap, ">", 0.0),
        Check("unstructured 90%: accuracy gained by one epoch of fine-tuning",
              m[("unstructured", 0.9, True)] - m[("unstructured", 0.9, False)], ">", 0.0),
        Check("structured 50%: multiply-adds of the dense network / original", macs[("structured", 0.5)], "<", 0.5),
        Check("unstructured 50%: multiply-adds of the dense network / original", macs[("unstructured", 0.5)],
              ">=", 1.0),
    ]  # fmt: skip
    figure = Figure(
        "accuracy_vs_sparsity",
        "Digits LeNet-5: test accuracy after one-shot magnitude pruning",
        "sparsity of the hidden layers' weights",
        "test accuracy",
        {
            f"{kind}{', fine-tuned' if ft else ''}": (sparsities, [m[(kind, s, ft)] for s in sparsities])
            for kind in ("unstructured", "structured")
            for ft in (False, True)
        },
    )
    return Result(
        experiment="pruning_sparsity_accuracy",
        claim=_PRUNE_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Digits LeNet-5, mean over {len(seeds)} seed(s)",
                [
                    "pruning",
                    "sparsity",
                    "accuracy",
                    "accuracy fine-tuned",
                    "fine-tuned - dense fine-tuned",
                    "dense MACs ratio",
                ],
                [["dense", 0.0, dense_acc, dense_ft_acc, 0.0, 1.0], *rows],
            )
        ],
        figures=[figure],
        seeds=seeds,
        quick=quick,
        notes="Sparsity counts the zeroed weights of C1, C3, C5 and F6; the 10-way output layer is not pruned. "
        "Structured pruning zeroes whole rows, so the next layer's matching inputs become useless too; the "
        "multiply-add ratio counts the dense network that drops them.",
    )


def _median_ms(fn, repeats):
    times = []
    for i in range(repeats + 2):
        start = time.perf_counter()
        fn()
        if i >= 2:
            times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


_INT8_CLAIM = (
    "Post-training INT8 quantisation with calibration stores the weights in a quarter of the space and keeps "
    "the accuracy (about 1 point or less lost); latency must be measured on the target."
)


@experiment("int8_quantisation", ids=["S002-59"], claim=_INT8_CLAIM)
@single_threaded
def int8_quantisation(seed=0, quick=False):
    """Note S002-59.  The digits LeNet-5 (2 epochs in quick mode, 4 otherwise; 1 or 3 seeds) is quantised
    after training (``deepnotes.compress.quantize``: 512 training images calibrate MinMax observers,
    symmetric per-channel int8 weights, quint8 activations, exact int32 accumulation).  Measured: test
    accuracy of both, the size of the safetensors weights files, the weights' bytes in memory, and the
    median forward latency (batch 1 and 64) of both networks on this machine's NumPy.
    Checks: at most 1 point of accuracy lost (mean over seeds); the int8 file < 30% of the float32 one; the
    weights' bytes < 27% (int8 plus a scale and zero point per channel).  Latency is reported, not checked:
    NumPy has no int8 SIMD kernels, so the integer arithmetic runs on the float32 BLAS (exactly) and is not
    faster here; int8 speed-ups come from hardware/kernels (VNNI, NEON dot products) this library lacks."""
    seeds = [seed] if quick else [seed, seed + 1, seed + 2]
    epochs = 2 if quick else 4
    repeats = 5 if quick else 20
    xtr, _, xte, yte = _digits(32)
    calib = [(xtr[i : i + 128], None) for i in range(0, 512, 128)]
    rows, drops = [], []
    sizes = None
    for sd in seeds:
        model = _lenet(sd, epochs)
        qmodel = post_training.quantize(model, calib)
        a_f, a_q = _accuracy(model, xte, yte), _accuracy(qmodel, xte, yte)
        drops.append(a_f - a_q)
        rows.append([sd, a_f, a_q, a_f - a_q])
        if sizes is None:
            with tempfile.TemporaryDirectory() as tmp:
                fp, qp = os.path.join(tmp, "float32.safetensors"), os.path.join(tmp, "int8.safetensors")
                dn.io.save_weights(model.state_dict(), fp)
                post_training.save_quantized(qmodel, qp)
                sizes = (os.path.getsize(fp), os.path.getsize(qp))
            wf = sum(m.weight.data.nbytes for m, _ in _layers(model)) + model.classifier[5].weight.data.nbytes
            wq = sum(
                m.weight.data.nbytes + m.weight_scale.data.nbytes + m.weight_zero_point.data.nbytes
                for m in qmodel.modules()
                if hasattr(m, "weight_scale")
            )
            lat = {}
            for batch in (1, 64):
                xb = dn.tensor(xte[:batch])
                with dn.no_grad():
                    lat[("float32", batch)] = _median_ms(lambda xb=xb: model(xb), repeats)
                    lat[("int8", batch)] = _median_ms(lambda xb=xb: qmodel(xb), repeats)
    drop, spread = mean_std(drops)
    checks = [
        Check("test accuracy lost by int8 (mean over seeds)", drop, "<=", 0.01, spread if len(seeds) > 1 else None),
        Check("int8 safetensors size / float32 size", sizes[1] / sizes[0], "<", 0.30),
        Check("int8 weight bytes (with scales, zero points) / float32 weight bytes", wq / wf, "<", 0.27),
    ]
    return Result(
        experiment="int8_quantisation",
        claim=_INT8_CLAIM,
        checks=checks,
        tables=[
            Table("Test accuracy, float32 vs int8", ["seed", "float32", "int8", "drop"], rows),
            Table(
                "Size and latency (first seed)",
                ["measure", "float32", "int8", "int8 / float32"],
                [
                    ["weights file (bytes)", sizes[0], sizes[1], sizes[1] / sizes[0]],
                    ["weight bytes in memory", wf, wq, wq / wf],
                    *[
                        [
                            f"latency batch {b} (ms, median of {repeats})",
                            lat[("float32", b)],
                            lat[("int8", b)],
                            lat[("int8", b)] / lat[("float32", b)],
                        ]
                        for b in (1, 64)
                    ],
                ],
            ),  # fmt: skip
        ],
        seeds=seeds,
        quick=quick,
        notes="The file holds the int8 weights, their per-channel scales (float64) and zero points, the float32 "
        "biases and the activations' scales and zero points. Latency is wall time on a shared machine.",
    )


_KD_CLAIM = (
    "Knowledge distillation trains a small student to match a large teacher's softened outputs (soft targets at "
    "a temperature, mixed with the hard labels); the student ends up more accurate than when trained alone."
)


def _mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(dn.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(dn.nn.ReLU())
    return dn.nn.Sequential(*layers)


@experiment("distillation_vs_alone", ids=["S002-59"], claim=_KD_CLAIM)
@single_threaded
def distillation_vs_alone(seed=0, quick=False):
    """Note S002-59.  Teacher: an MLP 64-256-256-10 on the 8x8 digits (all 1,437 training images, Adam
    lr 1e-3, 20 epochs in quick mode, 40 otherwise).  Student: an MLP 64-16-10 (1,210 parameters, 70x
    fewer), trained on 300 labelled training images drawn per seed, Adam lr 1e-2, 60 epochs (both
    students' training losses have flattened by then; the distilled one converges more slowly), from the
    same initial weights and batches: alone (cross entropy) or distilled (Hinton loss, T = 4,
    alpha = 0.9, the teacher's logits on the same images).  Seeds: 3 (quick) or 8.
    Checks: the mean test-accuracy gain of distillation over training alone is > 0, and its
    t-statistic over the seeds is > 2."""
    seeds = [seed + i for i in range(3 if quick else 8)]
    xtr, ytr, xte, yte = _digits(8)
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    rng = seeded(seed)
    teacher = _fit(_mlp([64, 256, 256, 10]), xtr, ytr, 20 if quick else 40, rng, lr=1e-3)
    teacher_acc = _accuracy(teacher, xte, yte)
    with dn.no_grad():
        teacher_logits = teacher(dn.tensor(xtr)).numpy()
    epochs = 60
    rows, gains = [], []
    for sd in seeds:
        pick = np.random.default_rng([sd, 3]).choice(len(xtr), 300, replace=False)
        xs, ys, zs = xtr[pick], ytr[pick], teacher_logits[pick]
        result = {}
        for mode in ("alone", "distilled"):
            dn.manual_seed(1000 + sd)  # the same initial student for both
            student = _mlp([64, 16, 10])

            def kd(out, idx, ys=ys, zs=zs):
                return distillation_loss(out, dn.tensor(zs[idx]), dn.tensor(ys[idx]), 4.0, 0.9)

            _fit(
                student,
                xs,
                ys,
                epochs,
                np.random.default_rng([sd, 5]),
                lr=1e-2,
                loss=kd if mode == "distilled" else None,
            )
            result[mode] = _accuracy(student, xte, yte)
        gains.append(result["distilled"] - result["alone"])
        rows.append([sd, result["alone"], result["distilled"], gains[-1]])
    gain, spread = mean_std(gains)
    checks = [
        Check("test accuracy of the distilled student - the student alone (mean over seeds)", gain, ">", 0.0, spread),
        Check("t-statistic of that gain over the seeds", t_statistic(gains), ">", 2.0),
    ]
    n_teacher = sum(p.data.size for p in teacher.parameters())
    return Result(
        experiment="distillation_vs_alone",
        claim=_KD_CLAIM,
        checks=checks,
        tables=[
            Table(
                f"Student 64-16-10 on 300 labelled digits (teacher 64-256-256-10, {n_teacher} parameters, test "
                f"accuracy {teacher_acc:.4f})",
                ["seed", "alone", "distilled (T=4, alpha=0.9)", "gain"],
                rows,
            )
        ],
        seeds=seeds,
        quick=quick,
        notes="Both students use the same rate, epochs and batches. Trained for fewer steps (30-40 epochs) the "
        "distilled student lags behind the one trained alone: the soft term's gradient, "
        "alpha * T * (softmax(z_s/T) - softmax(z_t/T)), is slow to bring the logits to the teacher's scale.",
    )
