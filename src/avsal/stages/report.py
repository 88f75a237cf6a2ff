"""Stage report: reports/report.md + report.html + figures, metrics.json and the plot tables.

Why a stage: the numbers of a run are only useful beside the paper's and with the method's
claimed orderings checked, and that comparison must be regenerated (not hand-edited) whenever an
upstream stage changes.  Reads reports/*.json, artifacts/predictions, artifacts/method_maps,
the fixation sets and the published CSVs; writes only under ``paths.reports``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avsal.config import Config
from avsal.report.document import FigureInfo, ReportContext, build_document
from avsal.report.exports import flat_metrics, write_exports
from avsal.report.figures import qualitative_figure, table4_bars, training_curves
from avsal.report.forest import forest_plot
from avsal.report.published import load_ablations, load_table4
from avsal.report.render import to_html, to_markdown
from avsal.report.results import load_inputs, value
from avsal.report.samples import collect_samples
from avsal.stages.common import tracker_for
from avsal.utils.io import atomic_write_bytes, atomic_write_text

__all__ = ["run", "FIGURES"]

#: figure key -> file name under reports/figures
FIGURES = {
    "training_curves": "training_curves.png",
    "qualitative": "qualitative.png",
    "table4_bars": "table4_bars.png",
    "forest": "claims_forest.png",
}


def _sets(cfg: Config, *results: dict[str, Any]) -> list[str]:
    """Configured sets first (AVAD, the paper's ablation set, leads), then any extra in the JSONs."""
    sets = list(cfg.datasets.fixation_sets)
    if "AVAD" in sets:
        sets.remove("AVAD")
        sets.insert(0, "AVAD")
    for res in results:
        for per_set in res.values():
            sets += [d for d in per_set if d not in sets]
    return sets


def _qualitative(cfg: Config, sets: list[str]) -> tuple[bytes | None, str]:
    art = Path(cfg.paths.artifacts)
    stores = [art / sub / s for sub in ("predictions/sta", "method_maps") for s in sets]
    if not any((p / "refs.json").is_file() for p in stores):
        return (
            None,
            f"no STA predictions (`{art}/predictions/sta/<SET>`) or method maps (`{art}/method_maps/<SET>`) yet",
        )
    # imported here: these pull in torch and the nets, which a report of numbers alone does not need
    from avsal.data.fixations import FixationSet
    from avsal.stages.artifacts import MAP_NAMES

    samples, notes = collect_samples(
        fixation_root=Path(cfg.paths.fixation_root),
        predictions=art / "predictions" / "sta",
        method_maps=art / "method_maps",
        sets=sets,
        videos_of=lambda s: FixationSet(cfg.paths.fixation_root, s).split_videos(
            "test", fold=cfg.evaluate.fold
        ),
        pseudo_channel=MAP_NAMES.index("scam_sel_fine"),
    )
    note = ("Skipped: " + "; ".join(notes) + ".") if notes else ""
    return (qualitative_figure(samples) if samples else None), note


def _bars(inputs_table4: dict[str, Any], pub: Any, sets: list[str], synthetic: bool) -> bytes:
    series: dict[str, dict[str, dict[str, float | None]]] = {}
    for m in ("STANet (ours)", "pseudo-GT method", "centre bias"):
        if m in inputs_table4:
            series[m] = {k: {d: value(inputs_table4, m, d, k) for d in sets} for k in ("cc", "nss")}
    if pub is not None:
        st = pub[pub["method"] == "STANet"].set_index("dataset")
        series["STANet (paper)"] = {
            k: {d: (float(st.loc[d, k]) if d in st.index else None) for d in sets}
            for k in ("cc", "nss")
        }
    title = (
        "Table 4: ours (synthetic world: NOT comparable) beside the published STANet"
        if synthetic
        else "Table 4: ours beside the published STANet"
    )
    return table4_bars(series, sets, [("cc", "CC"), ("nss", "NSS")], title)


def run(cfg: Config, *, paper_dir: str | Path | None = None, track: bool = True) -> dict[str, Any]:
    """Write the report; return its paths, the figures drawn and the ordering verdicts.

    The published CSVs are read from ``paths.published`` (``references/paper``, inside the
    repository); ``paper_dir`` overrides it for one call.
    """
    reports = Path(cfg.paths.reports)
    figdir = reports / "figures"
    inputs = load_inputs(reports)
    sets = _sets(cfg, inputs.table4, inputs.ablation_results)

    pdir = Path(paper_dir if paper_dir is not None else cfg.paths.published)
    t4 = abl = None
    problems: list[str] = []
    if not pdir.is_dir():
        problems.append(
            f"folder `{pdir}` of the published tables not found (params: paths.published)"
        )
    else:
        for name, loader in (
            ("table4", lambda: load_table4(pdir, sets)),
            ("ablations", lambda: load_ablations(pdir)),
        ):
            try:
                df = loader()
            except (OSError, ValueError) as exc:
                problems.append(f"{name} CSV unreadable in `{pdir}` ({exc})")
                continue
            if name == "table4":
                t4 = df
            else:
                abl = df

    figures: dict[str, FigureInfo] = {}
    drawn: list[str] = []

    def put(key: str, png: bytes | None, note: str = "") -> None:
        path = figdir / FIGURES[key]
        if png is None:
            path.unlink(
                missing_ok=True
            )  # never leave a stale figure beside a report that does not show it
            figures[key] = FigureInfo(None, note)
            return
        atomic_write_bytes(path, png)
        drawn.append(str(path))
        figures[key] = FigureInfo(f"figures/{FIGURES[key]}", note)

    put(
        "training_curves",
        training_curves(inputs.train) if inputs.train else None,
        "no `reports/train/*.json`",
    )
    synthetic = (Path(cfg.paths.data) / "SYNTH_MANIFEST.json").is_file()
    put(
        "table4_bars",
        _bars(inputs.table4, t4, sets, synthetic) if inputs.table4 else None,
        "`reports/evaluate.json` not found",
    )
    put("qualitative", *_qualitative(cfg, sets))
    put(
        "forest",
        forest_plot(inputs.claims) if inputs.claims else None,
        "`reports/claims.json` not found",
    )
    ctx = ReportContext(
        inputs=inputs,
        sets=sets,
        synthetic=synthetic,
        data_path=str(cfg.paths.data),
        table4_pub=t4,
        ablations_pub=abl,
        paper_dir=pdir,
        paper_problems=problems,
        profile={
            "backbone": cfg.model.backbone,
            "coarse/fine/STA input": f"{tuple(cfg.coarse.input_size)}/{tuple(cfg.fine.input_size)}/{tuple(cfg.sta.input_size)}",
            "epochs (coarse/fine/STA)": f"{cfg.coarse.train.epochs}/{cfg.fine.train.epochs}/{cfg.sta.train.epochs}",
            "SCAM rule": cfg.scam.rule,
        },
        figures=figures,
    )
    headline = write_exports(reports, inputs, sets)  # what `dvc metrics` / `dvc plots` read
    params = {"sets": sets, "paper_dir": str(pdir)}
    with tracker_for(cfg, "report", params=params, enabled=track) as run:
        run.log_pipeline_metrics(flat_metrics(headline))  # on the pipeline's parent run too
    blocks = build_document(ctx)
    md = atomic_write_text(reports / "report.md", to_markdown(blocks))
    html = atomic_write_text(reports / "report.html", to_html(blocks, "STANet reproduction report"))
    return {
        "report": str(md),
        "html": str(html),
        "figures": drawn,
        "claims": dict((inputs.claims or {}).get("headline", {})),
        "headline": headline,
        "missing": [
            k
            for k, v in (
                ("evaluate.json", inputs.evaluate),
                ("ablations.json", inputs.ablations),
                ("claims.json", inputs.claims),
            )
            if v is None
        ]
        + ([] if inputs.train else ["train/*.json"])
        + [f"figure {k}" for k, f in figures.items() if f.src is None],
    }


if __name__ == "__main__":  # pragma: no cover - the CLI lives in pipelines/report.py
    raise SystemExit("run: python pipelines/report.py")
