"""The league parameters' uncertainty in the ensemble (simulator.league_uncertainty, scenarios/league_fit/)."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from base.leagues import load_leagues
from base.paths import REPO_ROOT
from model import MODEL_PATH
from model.spec import load_spec
from model.vectorized import VectorizedModel
from simulator.league_uncertainty import LeagueUncertainty
from simulator.validation import SettingsError

FIT = REPO_ROOT / "scenarios" / "league_fit" / "default.yaml"


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module")
def section():
    return yaml.safe_load(FIT.read_text(encoding="utf-8"))


def test_the_tracked_fit_matches_the_model(section, spec):
    """Every parameter of the fit is a constant of the model; its point value is the fit's estimate."""
    defaults = VectorizedModel.from_mdl(MODEL_PATH).parameters
    uncertainty = LeagueUncertainty.from_config(section)
    assert uncertainty.enabled
    logs = [k for k, p in enumerate(uncertainty.parameters) if p.transform == "log"]
    for k, parameter in enumerate(uncertainty.parameters):
        assert parameter.name in spec.variables
        if parameter.element is None:
            assert defaults[parameter.name] == pytest.approx(uncertainty.mean[k], rel=1e-5)
    propensity = np.exp(uncertainty.mean[logs])
    assert abs(uncertainty.mean[logs].mean()) < 1e-3  # geometric mean 1
    name = uncertainty.parameters[logs[0]].name
    np.testing.assert_allclose(np.ravel(defaults[name]), propensity, rtol=1e-5)


def test_draws_are_seeded_in_range_and_on_the_league_axis(section, spec):
    uncertainty = LeagueUncertainty.from_config(section)
    a = uncertainty.draw(spec, 500, np.random.SeedSequence(5))
    b = uncertainty.draw(spec, 500, np.random.SeedSequence(5))
    c = uncertainty.draw(spec, 500, np.random.SeedSequence(6))
    n_leagues = len(load_leagues().names)
    for name, values in a.items():
        np.testing.assert_array_equal(values, b[name])
        assert not np.array_equal(values, c[name])
        low, high = spec.variables[name].limits
        assert np.all(values >= low) and np.all(values <= high)
    assert a["league_urbanization_propensity"].shape == (500, n_leagues)
    assert a["inter_league_distance_scale"].shape == (500,)
    assert np.std(a["destination_size_elasticity"]) > 0


def test_a_parameter_set_by_the_user_stays_fixed(section, spec):
    uncertainty = LeagueUncertainty.from_config(section)
    drawn = uncertainty.draw(spec, 10, np.random.SeedSequence(1), fixed={"inter_league_distance_scale"})
    assert "inter_league_distance_scale" not in drawn and "destination_size_elasticity" in drawn


def test_disabled_draws_nothing(spec):
    assert LeagueUncertainty.from_config({"enabled": False}).draw(spec, 10, np.random.SeedSequence(1)) == {}
    assert LeagueUncertainty.from_config(None).draw(spec, 10, np.random.SeedSequence(1)) == {}


@pytest.mark.parametrize("change, message", [
    (lambda s: s.update(mean=s["mean"][:-1]), "mean and covariance"),
    (lambda s: s["covariance"][0].__setitem__(1, 1e6), "symmetric positive semi-definite"),
    (lambda s: s["parameters"][0].update(transform="sqrt"), "transform must be one of"),
    (lambda s: s["parameters"][1].pop("bounds"), "parameters[1] must be"),
])
def test_a_bad_fit_file_is_a_one_line_error(section, change, message):
    broken = yaml.safe_load(yaml.safe_dump(section))
    change(broken)
    with pytest.raises(SettingsError) as error:
        LeagueUncertainty.from_config(broken)
    assert message in str(error.value) and "\n" not in str(error.value)
