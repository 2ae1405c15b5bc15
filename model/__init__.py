"""The stock-and-flow model of Inner Mongolia's population, urbanization, land and water.

The equations live in ``inner_mongolia.mdl`` (Vensim format). Python only reads that file:

- :mod:`model.cache`       translation cache outside the source tree (PySD code, parsed model);
- :mod:`model.spec`        variables, units, dimensions, documented ranges, parameter validation;
- :mod:`model.outputs`     the declared outputs (``<model>.outputs.yaml``: uses, units, labels);
- :mod:`model.result`      :class:`~model.result.RunResult`, what both engines return;
- :mod:`model.pysd_engine` the reference engine (PySD, one run at a time, subscripts too);
- :mod:`model.vectorized`  the fast ensemble engine generated from the same ``.mdl``;
- :mod:`model.units`       the dimensional-consistency check.
"""
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent
MODEL_PATH = MODEL_DIR / "inner_mongolia.mdl"

__all__ = ["MODEL_DIR", "MODEL_PATH"]
