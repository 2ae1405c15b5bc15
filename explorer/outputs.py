"""What the page shows, declared as data: the chart panels and the labels of the probabilities.

A panel lists model variables; a variable the model does not have (yet) is left out, so an
output added to the model appears in its panel without code (the official hukou rate, declared
below, appears once the model computes it). Every other ensemble variable is offered in the
"more outputs" chart, and every probability of ``summary.json`` appears as a tile (with the label
below, or its key when it has none).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    """One line with its 90 % band: a model variable and its labels."""

    variable: str
    label: str
    label_zh: str


@dataclass(frozen=True)
class Panel:
    """One chart.

    Attributes
    ----------
    key : str
        Identifier of the chart on the page.
    title, title_zh : str
    axis : str
        Axis label with the displayed unit.
    scale : float
        Displayed value = model value x ``scale`` (e.g. persons -> million).
    series : tuple of Series
    reference : str
        The plan's limit drawn on the chart: ``"targets"`` (69 % / 72 %), ``"land_quota"``,
        ``"land_standard"`` or ``""``.
    """

    key: str
    title: str
    title_zh: str
    axis: str
    scale: float
    series: tuple[Series, ...]
    reference: str = ""


PANELS: tuple[Panel, ...] = (
    Panel("urbanization", "Urbanization rate", "城镇化率", "% of residents", 1.0, (
        Series("urbanization_rate", "resident (常住人口城镇化率)", "常住人口城镇化率"),
        Series("official_hukou_urbanization_rate", "official hukou rate (户籍人口城镇化率)", "户籍人口城镇化率"),
        Series("hukou_urbanization_rate",
               "hukou, model approximation: urban hukou / residents (not the official rate)",
               "户籍城镇化率（模型近似：城镇户籍人口/常住人口，非官方口径）"),
    ), reference="targets"),
    Panel("population", "Resident population", "常住人口", "million persons", 1e-6, (
        Series("total_population", "total (常住人口)", "常住人口"),
        Series("urban_population", "urban (城镇人口)", "城镇人口"),
    )),
    Panel("water", "Water all sectors want against the cap in force", "各部门需水与用水总量控制（以水定城）",
          "10⁸ m³ per year", 1e-8, (
        Series("total_water_demand_before_cap", "water wanted, all sectors (各部门需水)", "各部门需水"),
        Series("effective_water_cap", "cap in force, after dry-year shortfalls (用水总量控制指标)", "用水总量控制指标"),
    )),
    Panel("land", "All urban construction land against the 2021–2025 quota", "城镇建设用地（全部）与新增指标",
          "km²", 1.0, (
        Series("total_urban_construction_land", "cities, towns, development zones, infrastructure (城镇建设用地)",
               "城镇建设用地"),
    ), reference="land_quota"),
    Panel("land_per_capita", "Land per urban resident against GB 50137-2011", "人均城镇建设用地与国家标准",
          "m² per person", 1.0, (
        Series("land_per_urban_resident", "land per urban resident (人均城镇建设用地)", "人均城镇建设用地"),
    ), reference="land_standard"),
)

#: Labels of the probabilities of ``summary.json`` (key -> English, Chinese). A probability
#: the summary gains later shows with its key until it is labelled here.
PROBABILITY_LABELS: dict[str, tuple[str, str]] = {
    "reach_69_2025": ("Reach 69 % urbanization in 2025", "2025年城镇化率达到69%"),
    "reach_72_2035": ("Reach 72 % urbanization in 2035", "2035年城镇化率达到72%"),
    "p_water_within_cap": ("Water cap never binds, every year to 2035", "用水总量约束至2035年不起作用"),
    "p_land_within_quota": ("New land 2021–2025 within the quota", "2021–2025年新增用地不超过指标"),
    "p_land_per_capita_in_standard": ("Land per resident in the standard (65–115 m²) in 2035",
                                      "2035年人均用地在国家标准内（65–115平方米）"),
}


def probability_label(key: str) -> tuple[str, str]:
    """English and Chinese label of a probability key (the key itself when unlabelled)."""
    return PROBABILITY_LABELS.get(key, (key.replace("_", " "), ""))
