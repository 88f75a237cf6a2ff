"""Two training steps of the audio tagger or the audio switch under portable numerics.

The workload for ``benchmarks/vml_calls.py`` (which CPU kernels the audio path's training
runs): the embedded profile's nets, seeded random inputs, the stages' optimizer.

    python benchmarks/audio_steps.py {tagger,switch}
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("net", choices=["tagger", "switch"])
    args = ap.parse_args()
    from avsal.utils import numerics

    numerics.apply("portable", threads=1)  # before torch runs, as every stage does
    import torch
    import torch.nn.functional as F

    from avsal.config import load_config
    from avsal.stages.common import build_net
    from avsal.training.exact_adam import ExactSqrtAdam

    cfg = load_config(REPO / "params.yaml")
    g = torch.Generator().manual_seed(0)
    kind, classes = ("audio", 5) if args.net == "tagger" else ("audio_switch", None)
    net = build_net(cfg, kind, num_classes=classes)
    opt = ExactSqrtAdam(net.parameters(), lr=1e-3)
    b = 8
    frame = torch.rand(b, 3, *cfg.prepare.size, generator=g)
    audio = torch.randn(b, 1, 64, 101, generator=g)
    for _ in range(2):
        if args.net == "tagger":
            loss = F.cross_entropy(net(audio=audio), torch.randint(0, 5, (b,), generator=g))
        else:
            logit = net(frame=frame, audio=audio).reshape(-1)
            loss = F.binary_cross_entropy_with_logits(
                logit, (torch.rand(b, generator=g) > 0.5).float()
            )
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"{args.net}: loss after 2 steps {loss.item():.7f}")


if __name__ == "__main__":
    main()
