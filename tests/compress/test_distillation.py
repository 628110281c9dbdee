"""The Hinton distillation loss against its formula computed with torch (float64 value and gradient), and
the teacher-student training helper."""

import numpy as np
import pytest
import torch

import deepnotes as dn
import deepnotes.nn.functional as F
from deepnotes.compress import distillation as kd


def _torch_formula(s, t, y, T, alpha):
    s = torch.from_numpy(s).requires_grad_()
    tt = torch.from_numpy(t)
    log_q = torch.log_softmax(s / T, dim=1)
    p = torch.softmax(tt / T, dim=1)
    kl = (p * (torch.log(p) - log_q)).sum(dim=1).mean()  # KL(p || q), averaged over the batch
    loss = alpha * T * T * kl + (1 - alpha) * torch.nn.functional.cross_entropy(s, torch.from_numpy(y))
    loss.backward()
    return loss.item(), s.grad.numpy()


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 20.0])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.9, 1.0])
def test_loss_value_and_gradient_equal_the_formula(T, alpha):
    rng = np.random.default_rng(int(T * 10 + alpha * 100))
    s = rng.normal(0, 3, size=(16, 10))
    t = rng.normal(0, 5, size=(16, 10))
    y = rng.integers(0, 10, 16)
    ref_value, ref_grad = _torch_formula(s, t, y, T, alpha)
    st = dn.tensor(s, requires_grad=True)
    tt = dn.tensor(t, requires_grad=True)
    loss = kd.distillation_loss(st, tt, dn.tensor(y), temperature=T, alpha=alpha)
    loss.backward()
    assert loss.data.dtype == np.float64
    assert loss.item() == pytest.approx(ref_value, rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(st.grad.data, ref_grad, rtol=1e-10, atol=1e-14)
    assert tt.grad is None  # the teacher is a constant
    # the closed form of the soft term's gradient: alpha * T * (softmax(s/T) - softmax(t/T)) / N
    if alpha == 1.0:
        sm = lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)  # noqa: E731
        np.testing.assert_allclose(st.grad.data, T * (sm(s / T) - sm(t / T)) / len(s), rtol=1e-9, atol=1e-15)


def test_module_form_and_bad_parameters():
    s, t, y = dn.randn(4, 3), dn.randn(4, 3), dn.tensor(np.array([0, 1, 2, 0]))
    assert kd.DistillationLoss(3.0, 0.5)(s, t, y).item() == kd.distillation_loss(s, t, y, 3.0, 0.5).item()
    with pytest.raises(ValueError, match=r"distillation_loss: alpha must be in \[0, 1\].*got 1.5"):
        kd.distillation_loss(s, t, y, alpha=1.5)
    with pytest.raises(ValueError, match="distillation_loss: temperature must be a number > 0, got 0"):
        kd.distillation_loss(s, t, y, temperature=0)
    with pytest.raises(ValueError, match=r"same shape \(N, C\), got \(4, 3\) and \(4, 2\)"):
        kd.distillation_loss(s, dn.randn(4, 2), y)
    with pytest.raises(ValueError, match="DistillationLoss: temperature"):
        kd.DistillationLoss(-1.0)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(96, 12)).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int64) + 2 * (x[:, 3] > 0)
    return [(x[i : i + 32], y[i : i + 32]) for i in range(0, 96, 32)]


def _mlp(seed, hidden=16):
    dn.manual_seed(seed)
    return dn.nn.Sequential(dn.nn.Linear(12, hidden), dn.nn.ReLU(), dn.nn.Linear(hidden, 4))


def test_alpha_zero_is_plain_training():
    loader = _data()
    teacher = _mlp(1, 64)
    a, b = _mlp(2), _mlp(2)
    opt_a, opt_b = dn.optim.SGD(a.parameters(), lr=0.1), dn.optim.SGD(b.parameters(), lr=0.1)
    hist = kd.distill(a, teacher, loader, opt_a, epochs=2, alpha=0.0)
    for _ in range(2):
        for x, y in loader:
            loss = F.cross_entropy(b(dn.tensor(x)), dn.tensor(y))
            opt_b.zero_grad()
            loss.backward()
            opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert [h["epoch"] for h in hist] == [1, 2] and hist[0]["metric"] is None


def test_distill_moves_the_student_towards_the_teacher():
    loader = _data(3)
    teacher = _mlp(4, 64)
    student = _mlp(5)
    x = dn.tensor(np.concatenate([b[0] for b in loader]))
    teacher_before = [p.data.copy() for p in teacher.parameters()]

    def gap(model):
        with dn.no_grad():
            return float(np.abs(F.softmax(model(x) / 4.0, dim=1).data - F.softmax(teacher(x) / 4.0, dim=1).data).sum())

    before = gap(student)
    hist = kd.distill(
        student, teacher, loader, dn.optim.Adam(student.parameters(), lr=1e-2), epochs=20, alpha=1.0, evaluate=gap
    )
    assert hist[-1]["metric"] < 0.5 * before and hist[-1]["loss"] < hist[0]["loss"]
    for p, old in zip(teacher.parameters(), teacher_before):
        np.testing.assert_array_equal(p.data, old)  # the teacher is never updated


def test_distill_bad_arguments():
    s, t = _mlp(0), _mlp(1)
    opt = dn.optim.SGD(s.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="distill: teacher must be a deepnotes Module"):
        kd.distill(s, "teacher", _data(), opt)
    with pytest.raises(ValueError, match="distill: epochs must be a positive int, got 0"):
        kd.distill(s, t, _data(), opt, epochs=0)
    with pytest.raises(ValueError, match="distill: the loader gave no batch"):
        kd.distill(s, t, [], opt)
    with pytest.raises(TypeError, match=r"distill: the loader must give \(input, target\) batches"):
        kd.distill(s, t, [np.zeros((2, 12), np.float32)], opt)
