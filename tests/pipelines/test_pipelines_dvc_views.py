"""What a DVC user sees of the committed run: `dvc metrics show` lists the headline file only,
`dvc plots show` loads every declared plot and writes a page that renders with no network (in
a real headless Chromium, when the machine has one)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DVC = REPO / ".venv" / "bin" / "dvc"


def _dvc(*args: str, cwd: Path = REPO) -> str:
    exe = str(DVC) if DVC.is_file() else "dvc"
    out = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return out.stdout


def _plot_ids() -> list[str]:
    return [next(iter(p)) for p in yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"]]


def test_the_only_metrics_file_is_the_compact_headline():
    shown = json.loads(_dvc("metrics", "show", "--json"))
    (files,) = (rev["data"] for rev in shown.values())  # the workspace (keyed "" by DVC 3)
    assert list(files) == ["reports/metrics.json"]
    leaves = re.findall(r":\s*-?[0-9.]+", json.dumps(files["reports/metrics.json"]["data"]))
    assert 10 < len(leaves) < 40  # a table one terminal can show


def test_every_declared_plot_loads_from_the_committed_tables():
    shown = json.loads(_dvc("plots", "show", "--json"))
    assert not shown.get("errors"), shown.get("errors")
    assert set(shown["data"]) == set(_plot_ids())
    assert all(v and v[0]["type"] == "vega" for v in shown["data"].values())


@pytest.fixture(scope="module")
def plots_page(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dvc_plots")
    _dvc("plots", "show", "-o", str(out))
    return out / "index.html"


def test_the_plots_page_loads_nothing_from_the_network(plots_page):
    html = plots_page.read_text()
    assert not re.search(r"<script[^>]+src=", html) and "cdn.jsdelivr" not in html
    assert html.count("vegaEmbed('#") == len(_plot_ids())
    assert "vega-lite-5.2.0" in html  # the template of plots/ was used


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")
def test_a_headless_browser_draws_every_plot_offline(plots_page, tmp_path):
    dom = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--proxy-server=127.0.0.1:9",  # any network request would fail
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            plots_page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    # vega-embed replaces each plot's script with a drawn canvas (its default renderer)
    assert dom.count("<canvas") == len(_plot_ids()), dom[-2000:]
