"""Knowledge distillation (Hinton, Vinyals and Dean, 2015).

A small student learns from a large teacher's *soft targets*: the teacher's probabilities at a
temperature ``T > 1``, ``p = softmax(z_t / T)``, which keep how similar the teacher finds the wrong
classes ("dark knowledge").  The loss mixes matching them with the usual hard-label loss::

    L = alpha * T**2 * KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) * CE(z_s, y)

The KL term is averaged over the batch (summed over classes).  Its gradient with respect to the
student logits is ``(softmax(z_s / T) - softmax(z_t / T)) / T`` per sample, so the factor ``T**2``
keeps the soft term's gradient on the scale of the hard term's when ``T`` changes.  The teacher
receives no gradient.
"""

from __future__ import annotations

import numbers

from ..autograd import no_grad
from ..nn import functional as F
from ..nn.modules.module import Module
from ..tensor import Tensor, tensor

__all__ = ["DistillationLoss", "distill", "distillation_loss"]


def _check_params(temperature, alpha, where):
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or not temperature > 0:
        raise ValueError(f"{where}: temperature must be a number > 0, got {temperature!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"{where}: alpha must be in [0, 1] (the weight of the soft targets), got {alpha!r}")


def distillation_loss(student_logits, teacher_logits, target, temperature=4.0, alpha=0.9):
    """The Hinton distillation loss of ``student_logits`` (N, C) against ``teacher_logits`` (N, C)
    (detached: the teacher gets no gradient) and the class indices ``target`` (N,); see the module's
    formula.  ``alpha = 0`` is plain cross entropy, ``alpha = 1`` only the soft targets."""
    where = "distillation_loss"
    _check_params(temperature, alpha, where)
    s = student_logits if isinstance(student_logits, Tensor) else tensor(student_logits)
    t = teacher_logits.detach() if isinstance(teacher_logits, Tensor) else tensor(teacher_logits)
    if s.ndim != 2 or tuple(t.shape) != tuple(s.shape):
        raise ValueError(
            f"{where}: expected student and teacher logits of the same shape (N, C), got {tuple(s.shape)} "
            f"and {tuple(t.shape)}"
        )
    T, alpha = float(temperature), float(alpha)
    soft = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="batchmean") * (T * T)
    if alpha == 1.0:
        return soft * alpha
    hard = F.cross_entropy(s, target if isinstance(target, Tensor) else tensor(target))
    if alpha == 0.0:
        return hard
    return soft * alpha + hard * (1.0 - alpha)


class DistillationLoss(Module):
    """:func:`distillation_loss` as a module: ``DistillationLoss(T, alpha)(student, teacher, target)``."""

    def __init__(self, temperature=4.0, alpha=0.9):
        super().__init__()
        _check_params(temperature, alpha, "DistillationLoss")
        self.temperature, self.alpha = float(temperature), float(alpha)

    def forward(self, student_logits, teacher_logits, target):
        return distillation_loss(student_logits, teacher_logits, target, self.temperature, self.alpha)

    def extra_repr(self):
        return f"temperature={self.temperature}, alpha={self.alpha}"


def distill(student, teacher, loader, optimizer, epochs=1, temperature=4.0, alpha=0.9, scheduler=None, evaluate=None):
    """Train ``student`` on ``loader`` (batches of ``(input, target)``) with :func:`distillation_loss`
    against ``teacher``'s logits, computed in eval mode without gradients.  ``scheduler.step()`` runs
    after every epoch; ``evaluate(student) -> float`` after every epoch.  Returns one record per epoch:
    ``{"epoch", "loss" (mean over batches), "metric" (or None)}``."""
    where = "distill"
    for name, m in (("student", student), ("teacher", teacher)):
        if not isinstance(m, Module):
            raise TypeError(f"{where}: {name} must be a deepnotes Module, got {type(m).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"{where}: epochs must be a positive int, got {epochs!r}")
    _check_params(temperature, alpha, where)
    teacher.eval()
    history = []
    for epoch in range(epochs):
        student.train()
        total, batches = 0.0, 0
        for batch in loader:
            if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
                raise TypeError(f"{where}: the loader must give (input, target) batches, got {type(batch).__name__}")
            x, y = (b if isinstance(b, Tensor) else tensor(b) for b in batch[:2])
            with no_grad():
                z_t = teacher(x)
            loss = distillation_loss(student(x), z_t, y, temperature, alpha)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.item())
            batches += 1
        if not batches:
            raise ValueError(f"{where}: the loader gave no batch")
        if scheduler is not None:
            scheduler.step()
        student.eval()
        metric = None if evaluate is None else float(evaluate(student))
        history.append({"epoch": epoch + 1, "loss": total / batches, "metric": metric})
    return history
