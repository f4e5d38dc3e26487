"""Section builders: each turns `ReportData` into one `doc.Section`, in report order.

A section without data says so in one line ("not measured in this run"); none invents a
number. The order is the reader's: the answer first, the evidence after, how to redo it last.
"""

from __future__ import annotations

from raxlab.report.doc import Section
from raxlab.report.model import ReportData
from raxlab.report.sections import (card, catalogue, fabric, guideline, measured, pareto, projections, reproduce,
                                    sensitivity)

BUILDERS = (
    guideline.build,
    card.build,
    measured.build,
    projections.build,
    fabric.build,
    pareto.build,
    sensitivity.build,
    catalogue.build,
    reproduce.build,
)


def build_all(data: ReportData) -> list[Section]:
    return [b(data) for b in BUILDERS]
