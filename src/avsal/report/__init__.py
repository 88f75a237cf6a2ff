"""The report stage's library: our numbers beside the paper's, the claims' intervals, figures.

``avsal.stages.report.run`` wires these to the pipeline's outputs; everything here takes
already-loaded inputs (or explicit paths) so it can be tested on hand-written numbers.
"""

from avsal.report.document import FigureInfo, ReportContext, build_document
from avsal.report.figures import QualSample, qualitative_figure, table4_bars, training_curves
from avsal.report.forest import forest_plot
from avsal.report.published import METRICS, load_ablations, load_table4
from avsal.report.render import to_html, to_markdown
from avsal.report.results import Inputs, load_inputs
from avsal.report.samples import collect_samples

__all__ = [
    "METRICS",
    "FigureInfo",
    "Inputs",
    "QualSample",
    "ReportContext",
    "build_document",
    "forest_plot",
    "collect_samples",
    "load_ablations",
    "load_inputs",
    "load_table4",
    "qualitative_figure",
    "table4_bars",
    "to_html",
    "to_markdown",
    "training_curves",
]
