"""Claims with their uncertainty: paired differences per video and bootstrap intervals.

Pure numpy/pandas (no torch): the claims stage, the report and the tests use the same functions.
"""

from avsal.stats.bootstrap import Interval, paired_interval, verdict
from avsal.stats.claims import CLAIMS, Claim, claim_table, video_differences

__all__ = [
    "CLAIMS",
    "Claim",
    "Interval",
    "claim_table",
    "paired_interval",
    "verdict",
    "video_differences",
]
