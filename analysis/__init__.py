"""Scenario analysis of the Inner Mongolia urbanization model: levers, comparison, sensitivity.

The package keeps the three parts of an exploratory-modelling study apart (as the EMA Workbench
does):

- **model**: ``model/inner_mongolia.mdl`` and its engines (not in this package);
- **experiment design**: the policy levers (:mod:`analysis.levers`), the scenario files under
  ``scenarios/scenario/`` run by ``python sim.py -m`` (one Monte Carlo ensemble per job), and the
  Sobol design of :mod:`analysis.sensitivity`;
- **analysis**: :mod:`analysis.compare` reads finished run archives (files only, checked against
  their manifests) and writes a comparison archive; :mod:`analysis.decomposition` splits the
  change in urbanization into its flows; :mod:`analysis.sobol` estimates Sobol indices.

Every command writes an archive atomically (:func:`base.archive.staged_archive`) with a
``manifest.json``, so results are files that later analysis can verify and read.
"""
