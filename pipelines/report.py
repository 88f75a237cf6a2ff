"""dvc stage report: reports/report.md + report.html (our numbers beside the paper's, figures)."""

from _common import report, stage_args
from avsal.stages.report import run


def _flags(p):
    p.add_argument("--paper-dir", default=None, help="folder of the published CSVs (default: <repo>/../shared/paper or $AVSAL_PAPER_DIR)")


if __name__ == "__main__":
    args, cfg = stage_args(__doc__, _flags)
    report(run(cfg, paper_dir=args.paper_dir))
