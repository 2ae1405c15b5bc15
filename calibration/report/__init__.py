"""The calibration report: tables, figures, ``report.md``, the parameter file and the archive.

The modules follow the workflow, each importing only those above it:

==============  =====================================================================
``tables``      compute every table of the report from the result (no files)
``plots``       render the five figures
``markdown``    render ``report.md``
``parameters``  render the parameter file (YAML and the CSV of its draws)
``write``       write the archive atomically, with its manifest
==============  =====================================================================
"""
from .markdown import markdown_table, report_text
from .parameters import ParameterFileText, parameter_file_text
from .plots import write_plots
from .tables import ReportTables, parameter_units, report_tables, structural_summary
from .write import write_archive, write_report

__all__ = ["ParameterFileText", "ReportTables", "markdown_table", "parameter_file_text", "parameter_units",
           "report_tables", "report_text", "structural_summary", "write_archive", "write_plots",
           "write_report"]
