"""dvc stage report: reports/report.md + report.html (our numbers beside the paper's, figures)."""

from _common import run_stage


def _flags(p):
    p.add_argument(
        "--paper-dir",
        default=None,
        help="folder of the published CSVs (default: params paths.published)",
    )


def main(args, cfg):
    from avsal.stages.report import run

    return run(cfg, paper_dir=args.paper_dir)


if __name__ == "__main__":
    run_stage(__doc__, main, _flags)
