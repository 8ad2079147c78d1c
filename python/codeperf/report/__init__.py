"""Aggregation and rendering: one run directory's suite envelopes -> report.md,
report.html, summary.json and charts, optionally compared with a baseline run.

docs/report.md lists the result-entry fields each table and chart reads.
"""

from codeperf.report.build import Report, build_report

__all__ = ["Report", "build_report"]
