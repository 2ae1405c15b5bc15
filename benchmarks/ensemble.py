"""Ensemble speed of the vectorized engine against PySD: ``python -m benchmarks.ensemble``.

Measures, in one process:

- PySD, one run per parameter set (``model.pysd_engine.PySDEngine``, opened like every engine by
  ``simulator.run.open_engine``), median over ``--pysd-runs``;
- the vectorized engine at N = 1, 1,000 and 10,000 parameter sets per call (medians of a few
  repeats after a warm-up run; the one-time compile cost is reported separately), returning the
  ensemble outputs ``sim.py`` saves (``model/inner_mongolia.outputs.yaml``, use ``ensemble``):
  every cell of every variable for 10,000 members would be about 18 GB with the age model;
- the peak resident memory of the process;
- the largest relative difference (``|a - b| / max(|a|, 1e-300)``) between the PySD runs and the
  same members run by the vectorized engine, over every variable and saved time, and over the
  ensemble outputs of the 10,000-member call.

Parameter sets are drawn uniformly within the documented ranges of the ``.mdl`` (seeded), over
2015-2035 at the ``.mdl``'s time step.

Prints human-readable figures, then one JSON line with the keys ``pysd_ms_per_run``,
``ensemble_1k_s``, ``ensemble_10k_s``, ``speedup`` (PySD per-sample cost / vectorized per-sample
cost at N = 10,000), ``peak_mib`` and ``max_rel_err``. Targets on a 2-core machine: the population
core (issue 10) 10,000 members in <= 2 s; the league model (issue 12) 1,000 in <= 1 s, 10,000 in
<= 10 s, peak <= 4 GiB; both max_rel_err <= 1e-9. Not a test: timings depend on the machine and
its load.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from model import MODEL_PATH
from model.outputs import load_outputs
from model.spec import load_spec
from simulator.run import open_engine


def sample_parameters(spec, n_samples: int, seed: int) -> dict:
    """``n_samples`` values of every parameter with a range of non-zero width (uniform)."""
    rng = np.random.default_rng(seed)
    return {name: rng.uniform(var.limits[0], var.limits[1], size=n_samples)
            for name, var in sorted(spec.parameters.items()) if var.limits[1] > var.limits[0]}


def per_member(spec, name: str, values: np.ndarray) -> np.ndarray:
    """``values`` (one per member) shaped ``(members, *dims)`` for a subscripted parameter (unambiguous)."""
    dims = spec.variables[name].dims
    if not dims:
        return values
    shape = tuple(len(spec.coords[d]) for d in dims)
    return np.broadcast_to(values.reshape((-1,) + (1,) * len(shape)), values.shape[:1] + shape)


def peak_mib() -> float:
    """Peak resident memory of this process [MiB] (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(function, repeats: int) -> list:
    """Wall times of ``repeats`` calls of ``function`` [s]."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the figures and the final JSON line; return the JSON dict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pysd-runs", type=int, default=20, help="PySD runs (one per sample)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed repeats of the 1,000- and 10,000-member ensembles")
    parser.add_argument("--seed", type=int, default=20211122, help="seed of the parameter draws")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    # ---------------------------------------------------------------- vectorized: compile
    start = time.perf_counter()
    engine = open_engine("vectorized", MODEL_PATH)
    build_s = time.perf_counter() - start

    spec = load_spec(MODEL_PATH)
    params = sample_parameters(spec, 10_000, args.seed)
    print(f"model: {MODEL_PATH.name}, {len(spec.variables)} variables, "
          f"{len(params)} parameters drawn uniformly in their ranges (seed {args.seed})")
    start = time.perf_counter()
    engine.run(return_columns=None)  # generates and compiles the code of this call signature
    first_run_s = time.perf_counter() - start
    compile_s = sum(engine.compile_seconds.values())
    control = engine.control
    print(f"vectorized engine, one-time costs: VectorizedModel.from_mdl {build_s:.2f} s (import "
          f"PySD's parser, load the cached parse, build the IR); simulate() generated and "
          f"compiled in {compile_s * 1e3:.1f} ms")
    print(f"horizon {control['initial_time']}-{control['final_time']}, time step "
          f"{control['time_step']}, saved every {control['saveper']}")

    # ---------------------------------------------------------------- PySD, one run per sample
    pysd = open_engine("pysd", MODEL_PATH)
    pysd.run(n_samples=1)  # warm-up (first run loads lookups)
    references, pysd_times = [], []
    for i in range(args.pysd_runs):
        member = {name: float(values[i]) for name, values in params.items()}
        start = time.perf_counter()
        references.append(pysd.run(member, n_samples=1))
        pysd_times.append(time.perf_counter() - start)
    pysd_ms = statistics.median(pysd_times) * 1e3
    print(f"PySD: {pysd_ms:.1f} ms per run (median of {args.pysd_runs}, "
          f"range {min(pysd_times) * 1e3:.0f}-{max(pysd_times) * 1e3:.0f} ms)")

    # ---------------------------------------------------------------- vectorized ensembles
    columns = [name for name in load_outputs(MODEL_PATH, spec).names("ensemble") if name in spec.variables]
    print(f"ensembles return the {len(columns)} ensemble outputs sim.py saves")
    medians = {}
    result_10k = None
    for n_samples, repeats in ((1, 4 * args.repeats), (1_000, args.repeats),
                               (10_000, args.repeats)):
        subset = {name: values[:n_samples] for name, values in params.items()}
        result = engine.run(subset, return_columns=columns)  # warm-up: allocator and page cache
        times = timed(lambda: engine.run(subset, return_columns=columns), repeats)
        medians[n_samples] = statistics.median(times)
        if n_samples == 10_000:
            result_10k = result
        per_sample_us = medians[n_samples] / n_samples * 1e6
        print(f"vectorized N={n_samples:>6,}: {medians[n_samples] * 1e3:8.1f} ms per call "
              f"(median of {repeats}; {per_sample_us:8.1f} us per sample)")
    stocks = [n for n, v in engine.variables.items() if v.kind == "stock"]
    stocks_only = statistics.median(timed(lambda: engine.run(params, return_columns=stocks),
                                          args.repeats))
    print(f"vectorized N=10,000 returning the {len(stocks)} stocks only: "
          f"{stocks_only * 1e3:.1f} ms per call")

    # ---------------------------------------------------------------- agreement
    # one value per member for every element, shaped (members, *dims): a (members,) array for a parameter
    # with as many elements (20 PySD runs and the 20 noise years) would be read as one value per element
    compared = {name: per_member(spec, name, values[:len(references)]) for name, values in params.items()}
    all_columns = engine.run(compared)  # the PySD members, every variable
    max_rel_err = 0.0
    worst = ""
    for label, result, names in (("every variable", all_columns, None),
                                 ("ensemble outputs of the 10,000-member call", result_10k, columns)):
        for i, reference in enumerate(references):
            assert np.array_equal(reference.time, result.time)
            for name in names or reference.values:
                expected, actual = reference.values[name][:, 0], result[name][:, i]
                error = np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-300))
                if error > max_rel_err or not worst:
                    max_rel_err, worst = float(error), f"{name} (member {i}, {label})"
    print(f"largest relative difference from PySD over {len(references)} members x "
          f"{len(references[0].values)} variables x {len(all_columns.time)} times: "
          f"{max_rel_err:.3g} ({worst})")

    per_sample_10k = medians[10_000] / 10_000
    summary = {
        "pysd_ms_per_run": round(pysd_ms, 3),
        "ensemble_1k_s": round(medians[1_000], 4),
        "ensemble_10k_s": round(medians[10_000], 4),
        "speedup": round(pysd_ms / 1e3 / per_sample_10k, 1),
        "peak_mib": round(peak_mib(), 1),
        "max_rel_err": max_rel_err,
    }
    print(f"speedup at N=10,000: {summary['speedup']:,.0f}x; peak memory "
          f"{summary['peak_mib']:.0f} MiB (whole process, PySD included)")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
