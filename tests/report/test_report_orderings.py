"""The ordering checks on constructed numbers: relations, shared sets, NaN and missing inputs."""

from __future__ import annotations

import math

from avsal.report.results import Inputs, check_orderings


def _by_key(inputs: Inputs) -> dict:
    return {c.key: c for c in check_orderings(inputs)}


def test_one_cam_beating_scam_fails_the_every_cam_claim() -> None:
    abl = {
        "SCAM_sel coarse": {"AVAD": {"cc": 0.44, "nss": 1.6}, "DIEM": {"cc": 0.40, "nss": 1.5}},
        "CAM_S": {"AVAD": {"cc": 0.42, "nss": 1.5}, "DIEM": {"cc": 0.30, "nss": 1.0}},
        "CAM_ST": {"AVAD": {"cc": 0.43, "nss": 1.5}, "DIEM": {"cc": 0.30, "nss": 1.0}},
        "CAM_SA": {"AVAD": {"cc": 0.41, "nss": 1.5}, "DIEM": {"cc": 0.30, "nss": 1.0}},
        "CAM_STA": {"AVAD": {"cc": 0.48, "nss": 1.5}, "DIEM": {"cc": 0.30, "nss": 1.0}},
    }
    checks = _by_key(Inputs(ablations={"results": abl}))
    cc, nss = checks["scam_gt_cams_coarse/cc"], checks["scam_gt_cams_coarse/nss"]
    assert (
        cc.holds is True and cc.per_set == (False, True) and cc.avad_holds is False
    )  # mean 0.42 > 0.39, AVAD: 0.44 < 0.48
    assert nss.holds is True and nss.per_set == (True, True)
    assert checks["sel_gt_avg_coarse/cc"].holds is None  # SCAM_avg coarse absent
    assert "SCAM_avg coarse" in checks["sel_gt_avg_coarse/cc"].reason


def test_only_sets_every_method_has_count_and_nan_is_missing() -> None:
    ev = {
        "STANet (ours)": {
            "AVAD": {"cc": 0.5, "nss": math.nan},
            "DIEM": {"cc": 0.1, "nss": 2.0},
            "ETMD": {"cc": 0.9, "nss": 2.0},
        },
        "centre bias": {"AVAD": {"cc": 0.3, "nss": 1.0}, "DIEM": {"cc": 0.2, "nss": 1.0}},
    }
    checks = _by_key(Inputs(evaluate={"results": ev}))
    cc = checks["sta_gt_centre_bias/cc"]
    assert (
        cc.sets == ("AVAD", "DIEM") and cc.means == (0.3, 0.25) and cc.holds is True
    )  # ETMD: no centre-bias row
    nss = checks["sta_gt_centre_bias/nss"]
    assert nss.sets == ("DIEM",) and nss.avad_holds is None  # NaN on AVAD does not count
    assert all(c.holds is None for k, c in checks.items() if not k.startswith("sta_gt"))


def test_ties_pass_ge_and_fail_gt() -> None:
    same = {"AVAD": {"cc": 0.5, "nss": 2.0}}
    abl = {
        "STA with audio switch": same,
        "STA w/o audio switch": same,
        "SCAM_sel fine": same,
        "SCAM_avg fine": same,
    }
    checks = _by_key(Inputs(ablations={"results": abl}))
    assert checks["switch_ge_noswitch/cc"].holds is True
    assert checks["sel_gt_avg_fine/cc"].holds is False
