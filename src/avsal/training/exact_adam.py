"""Adam / AdamW with an IEEE square root: the same update on Intel and AMD CPUs.

Why: torch's CPU ``sqrt`` of a contiguous float tensor runs MKL's vector math (VML). Under
``MKL_CBWR=COMPATIBLE`` (portable numerics) that is ``mkl_vml_kernel_sSqrt_EXHAynn``, which
refines an ``rsqrtps`` estimate; ``rsqrtps`` is an approximation whose bits differ between Intel
and AMD, and the result is not the correctly rounded square root (15.6% of random floats differ
from it). ``torch.optim.Adam`` takes that square root of every second moment at every step, and
it was the only such kernel a training step of the STA net executed (gdb, README "Reproducible").
Here the square root comes from numpy (the CPU's ``sqrtps``, correctly rounded by IEEE 754 on
every x86-64), everything else follows ``torch.optim.Adam``'s single-tensor update
(``amsgrad=False``, ``maximize=False``): L2 weight decay folded into the gradient for Adam,
decoupled for AdamW, bias corrections as Python floats.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from avsal.utils.numerics import ieee_sqrt

__all__ = ["ExactSqrtAdam", "ieee_sqrt"]


class ExactSqrtAdam(torch.optim.Optimizer):
    """``torch.optim.Adam`` (or ``AdamW`` with ``decoupled=True``) with :func:`ieee_sqrt`."""

    def __init__(
        self,
        params: Iterable[nn.Parameter],
        *,
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "decoupled": decoupled,
        }
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[no-untyped-def]  # torch's signature
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                t = float(state["step"])
                if wd != 0:
                    if group["decoupled"]:
                        p.mul_(1 - lr * wd)
                    else:
                        grad = grad.add(p, alpha=wd)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad.conj(), value=1 - beta2)
                step_size = lr / (1 - beta1**t)
                denom = (ieee_sqrt(exp_avg_sq) / math.sqrt(1 - beta2**t)).add_(eps)
                p.addcdiv_(exp_avg, denom.to(p.device), value=-step_size)
        return loss
