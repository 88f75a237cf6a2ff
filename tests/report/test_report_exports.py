"""metrics.json (what `dvc metrics`/`dvc exp show` list) and the `dvc plots` tables, on inputs
with hand-computed numbers."""

from __future__ import annotations

import csv
import json

from avsal.report.exports import flat_metrics, headline_metrics, training_rows, write_exports
from avsal.report.results import Inputs

T4 = {
    "STANet (ours)": {
        "AVAD": {"cc": 0.6, "nss": 1.1, "auc_judd": 0.8, "sim": 0.3, "auc_shuffled": 0.6},
        "DIEM": {"cc": 0.4, "nss": 0.9, "auc_judd": 0.7, "sim": 0.2, "auc_shuffled": float("nan")},
    },
    "centre bias": {"AVAD": {"cc": 0.3, "nss": 1.5}},
}
CLAIMS = {"headline": {"holds": 5, "fails": 1, "undecided": 2}, "seeds": [0, 1, 2]}
HISTORY = [
    {"epoch": 0, "train/loss": 1.5, "train/acc": 0.4, "eval/val_acc": 0.1, "lr": 0.003},
    {"epoch": 1, "train/loss": 1.0, "train/acc": 0.6, "lr": 0.003},
]


def _inputs() -> Inputs:
    return Inputs(
        evaluate={"results": T4},
        claims=CLAIMS,
        train={"coarse-s": {"history": HISTORY}, "sta": {"history": []}},
    )


def test_headline_is_the_set_means_the_per_set_stanet_and_the_verdict_counts():
    got = headline_metrics(_inputs(), ["AVAD", "DIEM"])
    assert got["mean"]["stanet"] == {
        "cc": 0.5,
        "nss": 1.0,
        "auc_judd": 0.75,
        "sim": 0.25,
        "auc_shuffled": 0.6,  # DIEM's NaN is not a number: the mean of what exists
    }
    assert got["mean"]["centre_bias"] == {"cc": 0.3, "nss": 1.5}  # only what it has
    assert "pseudo_gt" not in got["mean"]  # a method the run lacks is absent, never 0
    assert got["stanet_sets"] == {"AVAD": {"cc": 0.6, "nss": 1.1}, "DIEM": {"cc": 0.4, "nss": 0.9}}
    assert got["claims"] == {"holds": 5, "fails": 1, "undecided": 2, "seeds": 3}
    flat = flat_metrics(got)  # the MLflow keys of the parent run
    assert flat["mean/stanet/cc"] == 0.5 and flat["stanet_sets/DIEM/nss"] == 0.9
    assert flat["claims/seeds"] == 3
    leaves = json.dumps(got).count(":") - len(got) - len(got["mean"]) - len(got["stanet_sets"])
    assert leaves < 40  # a table `dvc exp show` can print


def test_training_rows_count_epochs_from_one_and_keep_the_columns_the_net_logged():
    rows = training_rows(HISTORY)
    assert rows == [
        {"epoch": 1, "train_loss": 1.5, "train_acc": 0.4, "val_acc": 0.1, "lr": 0.003},
        {"epoch": 2, "train_loss": 1.0, "train_acc": 0.6, "val_acc": None, "lr": 0.003},
    ]


def test_write_exports_writes_the_files_and_removes_stale_ones(tmp_path):
    stale = tmp_path / "plots" / "train" / "gone.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("epoch\n1\n")
    write_exports(tmp_path, _inputs(), ["AVAD", "DIEM"])
    assert json.loads((tmp_path / "metrics.json").read_text())["claims"]["holds"] == 5
    assert not stale.exists()
    assert sorted(p.name for p in (tmp_path / "plots").rglob("*.csv")) == [
        "coarse-s.csv",  # sta has no epochs: no file
        "stanet_sets.csv",
    ]
    rows = list(csv.DictReader((tmp_path / "plots/train/coarse-s.csv").open()))
    assert rows[1] == {
        "epoch": "2",
        "train_loss": "1.0",
        "train_acc": "0.6",
        "val_acc": "",
        "lr": "0.003",
    }
    bars = list(csv.DictReader((tmp_path / "plots/stanet_sets.csv").open()))
    assert [(b["set"], b["cc"]) for b in bars] == [("AVAD", "0.6"), ("DIEM", "0.4")]
