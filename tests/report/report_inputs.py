"""Hand-written stage outputs with known numbers (the report tests' inputs) and a tmp config."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "references" / "paper"  # the copy inside the repository

#: STA beats centre bias on CC (mean 0.500 vs 0.300) but not on NSS (mean 1.000 vs 1.500)
EVALUATE = {
    "split": "test",
    "fold": 1,
    "protocol": {"blur_sigma": 2.0, "s_auc_splits": 100},
    "seconds": 12.5,
    "results": {
        "STANet (ours)": {
            "AVAD": {
                "auc_judd": 0.8111,
                "sim": 0.3222,
                "auc_shuffled": 0.6333,
                "cc": 0.6,
                "nss": 1.1,
            },
            "DIEM": {
                "auc_judd": 0.7111,
                "sim": 0.2222,
                "auc_shuffled": 0.5333,
                "cc": 0.4,
                "nss": 0.9,
            },
        },
        "centre bias": {
            "AVAD": {"auc_judd": 0.7, "sim": 0.2, "auc_shuffled": 0.5, "cc": 0.35, "nss": 1.6},
            "DIEM": {"auc_judd": 0.7, "sim": 0.2, "auc_shuffled": 0.5, "cc": 0.25, "nss": 1.4},
        },
        "pseudo-GT method": {
            "AVAD": {
                "auc_judd": 0.7777,
                "sim": 0.2777,
                "auc_shuffled": 0.5777,
                "cc": 0.4777,
                "nss": 1.4777,
            },
        },
    },
}


def _abl(cc_avad: float, nss_avad: float, cc_diem: float, nss_diem: float) -> dict:
    base = {"auc_judd": 0.75, "sim": 0.25, "auc_shuffled": 0.55}
    return {
        "AVAD": {**base, "cc": cc_avad, "nss": nss_avad},
        "DIEM": {**base, "cc": cc_diem, "nss": nss_diem},
    }


#: fine > coarse > CAM_S holds on CC and NSS; coarse SCAM beats every single-source CAM;
#: selective > average holds in the fine stage (on CC through AVAD alone) and fails in the coarse
#: stage; with switch >= without holds on CC (tie) and fails on NSS
ABLATIONS = {
    "split": "test",
    "fold": 1,
    "protocol": {},
    "seconds": 3.0,
    "results": {
        "CAM_S": _abl(0.11, 0.61, 0.13, 0.63),
        "CAM_ST": _abl(0.12, 0.62, 0.14, 0.64),
        "CAM_SA": _abl(0.125, 0.625, 0.145, 0.645),
        "CAM_STA": _abl(0.126, 0.626, 0.146, 0.646),
        "SCAM_avg coarse": _abl(0.30, 1.30, 0.30, 1.30),
        "SCAM_sel coarse": _abl(0.20, 0.90, 0.20, 0.90),
        "SCAM_avg fine": _abl(0.31, 1.31, 0.45, 1.33),  # CC: selective wins the mean, on AVAD only
        "SCAM_sel fine": _abl(0.4321, 1.9876, 0.40, 1.90),
        "STA w/o audio switch": _abl(0.50, 1.70, 0.50, 1.70),
        "STA with audio switch": _abl(0.50, 1.60, 0.50, 1.60),
    },
}

HISTORY_CLS = [
    {
        "epoch": e,
        "train/loss": 1.5 - 0.4 * e,
        "train/acc": 0.3 + 0.2 * e,
        "eval/val_acc": 0.25 + 0.15 * e,
        "lr": 0.003,
    }
    for e in range(3)
]
HISTORY_STA = [
    {"epoch": e, "train/loss": 0.5 - 0.1 * e, "eval/val_bce": 0.55 - 0.08 * e, "lr": 0.003}
    for e in range(4)
]
TRAIN = {
    "coarse-s": {
        "train_loss": 0.7,
        "train_acc": 0.7,
        "val_acc": 0.55,
        "n_train": 10,
        "seconds": 1.5,
        "history": HISTORY_CLS,
    },
    "sta": {
        "train_bce": 0.2,
        "val_bce": 0.31,
        "n_train": 10,
        "seconds": 2.5,
        "history": HISTORY_STA,
    },
    "audio_switch": {
        "train_loss": 0.14,
        "train_acc": 0.95,
        "frames": 10,
    },  # an older report: no history
}


def _iv(diff, lo, hi, n, verdict):
    return {"diff": diff, "lo": lo, "hi": hi, "n_videos": n, "n_seeds": 1, "n_sets": 2,
            "verdict": verdict}  # fmt: skip


#: a hand-written claims.json (the claims stage's output format): one of each verdict
CLAIMS = {
    "headline": {"holds": 1, "fails": 1, "undecided": 2},
    "level": 0.95,
    "resamples": 2000,
    "seeds": [0],
    "intervals_over": "videos (one seed)",
    "split": "test list of fold 1 (the reporting split)",
    "strata": {"audio": "SYNTH_MANIFEST.json (off-tag audio)", "fusion": None},
    "replicates": {"file": "reports/replicate_videos.csv", "found": True, "stale_seeds": [7],
                   "experiments": []},
    "claims": [
        {"claim": "sta_gt_centre_bias", "text": "our STA > centre bias", "where": "Table 4",
         "a": "STANet (ours)", "b": "centre bias", "metric": "cc", "seeds": [0],
         "pooled": _iv(0.2, 0.11, 0.29, 8, "holds"), "verdict": "holds",
         "per_set": {"AVAD": _iv(0.25, 0.1, 0.4, 4, "holds"), "DIEM": _iv(0.15, -0.1, 0.3, 4, "undecided")}},
        {"claim": "sel_gt_avg_coarse", "text": "selective > average fusion (coarse)", "where": "Table 1",
         "a": "SCAM_sel coarse", "b": "SCAM_avg coarse", "metric": "cc", "seeds": [0],
         "pooled": _iv(-0.1, -0.15, -0.05, 8, "fails"), "verdict": "fails",
         "per_set": {"AVAD": _iv(-0.1, -0.2, -0.01, 4, "fails"), "DIEM": _iv(-0.1, -0.2, -0.02, 4, "fails")}},
        {"claim": "switch_gt_noswitch", "text": "STA with audio switch > without", "where": "Table 3",
         "a": "STA with audio switch", "b": "STA w/o audio switch", "metric": "cc", "seeds": [0],
         "pooled": _iv(0.01, -0.02, 0.04, 8, "undecided"), "verdict": "undecided",
         "per_set": {"AVAD": _iv(0.01, -0.02, 0.04, 4, "undecided")},
         "strata": {"off-tag audio": _iv(0.05, 0.02, 0.08, 3, "holds"),
                    "on-tag audio": _iv(0.0, -0.01, 0.01, 5, "undecided")}},
        {"claim": "fine_gt_coarse_cam_s", "text": "fine CAM_S > coarse CAM_S", "where": "Table 2",
         "a": "CAM_S fine", "b": "CAM_S", "metric": "cc", "seeds": [], "verdict": "undecided",
         "missing": "no scores of both 'CAM_S fine' and 'CAM_S'"},
    ],
}  # fmt: skip


def write_inputs(
    reports: Path,
    *,
    evaluate: bool = True,
    ablations: bool = True,
    train: bool = True,
    claims: bool = True,
) -> None:
    reports.mkdir(parents=True, exist_ok=True)
    if evaluate:
        (reports / "evaluate.json").write_text(json.dumps(EVALUATE))
    if ablations:
        (reports / "ablations.json").write_text(json.dumps(ABLATIONS))
    if claims:
        (reports / "claims.json").write_text(json.dumps(CLAIMS))
    if train:
        (reports / "train").mkdir(exist_ok=True)
        for name, obj in TRAIN.items():
            (reports / "train" / f"{name}.json").write_text(json.dumps(obj))


def make_cfg(tmp: Path, *, synthetic: bool = True):
    from avsal.config import load_config

    data = tmp / "data"
    (data / "fixations").mkdir(parents=True, exist_ok=True)
    if synthetic:
        (data / "SYNTH_MANIFEST.json").write_text("{}")
    return load_config(
        REPO / "params.yaml",
        overrides={
            "paths.reports": str(tmp / "reports"),
            "paths.artifacts": str(tmp / "artifacts"),
            "paths.data": str(data),
            "paths.fixation_root": str(data / "fixations"),
            "paths.published": str(PAPER),
        },
    )
