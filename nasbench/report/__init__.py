"""``nasbench report RUN_DIR``: a self-contained HTML report of a run (docs/report.md).

:func:`load_run` reads the run directory, the collectors in :mod:`nasbench.report.data` turn it into
plain data objects, :mod:`nasbench.report.figures` draws them (matplotlib, headless) and
:mod:`nasbench.report.page` assembles the page with every figure embedded as a base64 PNG.
"""

from nasbench.report.data import Omitted
from nasbench.report.page import SECTIONS, Report, Section, register_section, render_report, write_report
from nasbench.report.run import Run, load_run

__all__ = [
    "SECTIONS",
    "Omitted",
    "Report",
    "Run",
    "Section",
    "load_run",
    "register_section",
    "render_report",
    "write_report",
]
