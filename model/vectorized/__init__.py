"""The fast ensemble engine: the ``.mdl`` compiled to numpy, many parameter sets per call.

>>> from model.vectorized import VectorizedModel
>>> vm = VectorizedModel.from_mdl()
>>> result = vm.run({"tfr_trend": [-0.02, 0.0, 0.01]})
>>> result["total_population"].shape      # (n_time, n_samples)
(21, 3)

The code is generated automatically from PySD's parse of the ``.mdl``
(:mod:`model.vectorized.compiler`), so both engines always run the same equations. Constructs
the generator cannot reproduce exactly raise :class:`UnsupportedConstruct` naming the construct
and the variable.
"""
from .compiler import UnsupportedConstruct
from .engine import EngineVariable, TimeGrid, VectorizedModel, time_grid

__all__ = ["VectorizedModel", "UnsupportedConstruct", "EngineVariable", "TimeGrid", "time_grid"]
