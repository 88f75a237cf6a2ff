"""Against a real `dvc repro` in a tmp git+DVC repo: sibling stages share the pipeline id, and
the dep/data md5 tags match what DVC itself locked."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from tracking_toys import VENV_BIN, child_env

from avsal.tracking import provenance_tags

STAGE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from avsal.tracking import pipeline_id, provenance_tags
    root = os.environ["DVC_ROOT"]
    doc = {"pipeline_id": pipeline_id(), "stage": os.environ.get("DVC_STAGE"),
           "tags": provenance_tags(root)}
    open(sys.argv[1], "w").write(json.dumps(doc))
    """
)


def _sh(repo: Path, *args: str) -> str:
    out = subprocess.run(
        list(args), cwd=repo, capture_output=True, text=True, env=child_env(), timeout=120
    )
    assert out.returncode == 0, f"{args}: {out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def dvc_repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("dvcrepo")
    dvc = str(VENV_BIN / "dvc")
    _sh(repo, "git", "init", "-q")
    _sh(repo, "git", "config", "user.email", "t@example.com")
    _sh(repo, "git", "config", "user.name", "t")
    _sh(repo, dvc, "init", "-q")
    (repo / "data").mkdir()
    (repo / "data" / "a.txt").write_text("alpha\n")
    (repo / "data" / "b.txt").write_text("beta\n")
    _sh(repo, dvc, "add", "-q", "data")
    (repo / "in.txt").write_text("one\n")
    (repo / "stage.py").write_text(STAGE_SCRIPT)
    py = sys.executable
    (repo / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "train": {
                        "cmd": f"{py} stage.py train.json",
                        "deps": ["stage.py", "in.txt", "data"],
                        "outs": [{"train.json": {"cache": False}}],
                    },
                    "evaluate": {
                        "cmd": f"{py} stage.py evaluate.json",
                        "deps": ["stage.py", "in.txt"],
                        "outs": [{"evaluate.json": {"cache": False}}],
                    },
                }
            }
        )
    )
    _sh(repo, "git", "add", ".")
    _sh(repo, "git", "commit", "-q", "-m", "init")
    _sh(repo, dvc, "repro", "-q")  # first run: no dvc.lock yet while the stages run
    return repo


def _stage_doc(repo: Path, stage: str) -> dict:
    return json.loads((repo / f"{stage}.json").read_text())


def test_sibling_stages_share_pipeline_id(dvc_repo):
    train, evaluate = _stage_doc(dvc_repo, "train"), _stage_doc(dvc_repo, "evaluate")
    assert train["stage"] == "train" and evaluate["stage"] == "evaluate"
    assert train["pipeline_id"] == evaluate["pipeline_id"]
    assert train["tags"]["avsal.pipeline_id"] == train["pipeline_id"]
    assert train["tags"]["avsal.dvc.stage"] == "train"


def test_md5_tags_match_dvc_and_detect_a_changed_dep(dvc_repo):
    first_id = _stage_doc(dvc_repo, "train")["pipeline_id"]
    locked = yaml.safe_load((dvc_repo / "dvc.lock").read_text())["stages"]["train"]["deps"]
    data_md5 = yaml.safe_load((dvc_repo / "data.dvc").read_text())["outs"][0]["md5"]
    assert data_md5.endswith(".dir")

    # after repro, the tags are the locked md5s; DVC 3's file md5 is the md5 of the bytes
    tags = provenance_tags(dvc_repo, stage="train")
    assert {d["path"]: d["md5"] for d in locked} == {
        "stage.py": tags["avsal.dvc.dep.stage.py"],
        "in.txt": tags["avsal.dvc.dep.in.txt"],
        "data": tags["avsal.dvc.dep.data"],
    }
    assert tags["avsal.dvc.dep.in.txt"] == hashlib.md5(b"one\n").hexdigest()
    assert tags["avsal.dvc.dep.data"] == data_md5 == tags["avsal.dvc.data.data"]
    assert "avsal.dvc.deps_changed" not in tags

    # change a dep and repro: while the stage runs, dvc.lock still has the old md5, so the
    # stage's own tags must carry the new md5 and say the dep changed
    (dvc_repo / "in.txt").write_text("two\n")
    _sh(dvc_repo, str(VENV_BIN / "dvc"), "repro", "-q")
    seen = _stage_doc(dvc_repo, "train")["tags"]
    assert seen["avsal.dvc.dep.in.txt"] == hashlib.md5(b"two\n").hexdigest()
    assert seen["avsal.dvc.deps_changed"] == "in.txt"
    assert seen["avsal.dvc.dep.data"] == data_md5
    assert seen["avsal.pipeline_id"] != first_id  # another `dvc repro`, another pipeline
    relocked = yaml.safe_load((dvc_repo / "dvc.lock").read_text())["stages"]["train"]["deps"]
    assert {d["path"]: d["md5"] for d in relocked}["in.txt"] == seen["avsal.dvc.dep.in.txt"]
