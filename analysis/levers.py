"""The policy levers of the model and the README tables generated from the ``.mdl`` and scenarios.

A *lever* is a model parameter that a policy of the New Urbanization Plan sets. Its unit,
documented range and default are read from ``model/inner_mongolia.mdl`` (through
:func:`model.spec.load_spec`), never restated here; this module adds only what the ``.mdl`` does
not hold in a structured form: the lever group, the plan chapter with a phrase quoted from it, and
a one-line description of what the lever does in the model.

``python -m analysis.levers`` prints the lever and scenario tables; ``--write`` rewrites them
in README.md (only between their markers, inside the levers block); ``--check`` exits with
status 1 if README.md differs from what the model and scenario files give (the test suite runs
the same check, so the tables cannot drift).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import yaml

from base.paths import REPO_ROOT, SCENARIOS_DIR
from model.spec import load_spec
from simulator.cli import run_command, strip_debug_flag

README_PATH = REPO_ROOT / "README.md"
SCENARIO_DIR = SCENARIOS_DIR / "scenario"
#: The plan text (Chinese); used only to check the quoted phrases (tests).
PLAN_TEXT_PATH = Path(os.environ.get(
    "IMSIM_PLAN_TEXT", "/work/shared/plan/inner_mongolia_new_urbanization_plan_2021_2035.txt"))

LEVERS_BLOCK = ("<!-- levers:start -->", "<!-- levers:end -->")
LEVER_TABLE_MARKERS = ("<!-- lever-table:start -->", "<!-- lever-table:end -->")
SCENARIO_TABLE_MARKERS = ("<!-- scenario-table:start -->", "<!-- scenario-table:end -->")
#: Keys a scenario file may hold (anything else is a typo that Hydra would accept silently).
SCENARIO_KEYS = {"name", "title", "title_zh", "params"}
_PLAN_CITATION = re.compile(r"\bch\.\s*(\d+)(?: sec\.\s*(\d+)(?:\s*-\s*(\d+))?)?")


@dataclass(frozen=True)
class Lever:
    """One policy lever.

    Attributes
    ----------
    name : str
        Python name of the model parameter (a constant of the ``.mdl`` with a documented range).
    group : str
        The policy family (settlement ease, county towns, water cap, land quota, water saving,
        students and talent).
    plan : str
        Where the plan sets the policy, e.g. ``"ch.5 sec.1"`` (chapters and sections of the
        plan text), with the source of the value when it is not the plan.
    plan_quote : str
        A phrase of the plan text in the first section cited in ``plan`` (checked by the tests).
    effect : str
        What the lever does in the model, in one sentence.
    marked_in_mdl : bool
        Whether the ``.mdl`` comment calls the constant a lever (``Lever:``). ``False`` only for
        constants the plan sets but the ``.mdl`` documents as an assumption.
    """

    name: str
    group: str
    plan: str
    plan_quote: str
    effect: str
    marked_in_mdl: bool = True


#: The levers, in the order of the README table.
LEVERS: tuple[Lever, ...] = (
    Lever("residence_permit_universal_year", "settlement ease", "ch.5 sec.1",
          "居住证制度实现全覆盖",
          "year by which every urban resident without local hukou holds a residence permit "
          "(linear from the 2020 coverage, from 2021); raises migrants' public-service access, hence migration and the "
          "willingness to settle"),
    Lever("equal_public_services_year", "settlement ease", "ch.5 sec.1",
          "享有与城镇居民同等基本公共服务",
          "year by which permit holders get the basic public services of urban residents "
          "(linear from the 2020 progress, from 2021); with permit coverage it sets migrants' service access"),
    Lever("cluster_hukou_transfer_boost", "settlement ease", "ch.5 sec.1",
          "率先在呼包鄂乌城市群实行户籍通迁制度",
          "relative increase of the settlement rate for the Hohhot-Baotou-Ordos-Ulanqab "
          "cluster's share of urban residents once hukou transfer inside the cluster is free"),
    Lever("cluster_hukou_transfer_year", "settlement ease", "ch.5 sec.1",
          "率先在呼包鄂乌城市群实行户籍通迁制度",
          "year-end from which the cluster boost applies (a step)"),
    Lever("student_and_talent_settlement", "students and talent", "ch.5 sec.3",
          "鼓励和支持在校大学生落户",
          "settlements per year of students and skilled workers on top of the rate-driven "
          "settlement, from 2021"),
    Lever("county_town_investment", "county towns", "ch.3 sec.4",
          "促进公共服务设施提标扩面",
          "share of the full county-town public-service programme, phased in over 2021-2025; "
          "raises urban attractiveness (by up to `county_town_attractiveness_gain`)"),
    Lever("regional_water_cap_2025", "water cap",
          "ch.8 sec.3 (value: 2025 water-saving action plan)",
          "加强水资源总量和强度双控",
          "regional total water-use cap from 2021 (the 2020 red line before); domestic use has the "
          "first claim, then irrigation is compressed and industry and ecology are cut, which costs "
          "urban jobs and attractiveness (以水定产、以水定人)"),
    Lever("water_cap_phase_in", "water cap", "ch.8 sec.3",
          "加强水资源总量和强度双控",
          "how the 2025 figure applies in 2021-2024: 1 = linearly from the 2020 red line, 0 = in "
          "full from 2021"),
    Lever("water_cap_enforcement", "water cap", "ch.8 sec.3",
          "强化水资源开发利用控制红线",
          "how strictly the cap binds (1 = hard limit, 0 = the excess is used anyway)"),
    Lever("water_cap_growth_after_2025", "water cap", "ch.8 sec.3",
          "加强水资源总量和强度双控",
          "relative annual change of the regional cap after 2025 (0 = held at the 2025 level)"),
    Lever("irrigated_area_trend_after_2020", "water cap", "ch.8 sec.3",
          "以水定城、以水定地、以水定人、以水定产",
          "relative annual change of the irrigated area after 2020 (0 = no net expansion); sets "
          "agricultural water demand against the cap"),
    Lever("new_land_quota_2021_2025", "land quota", "ch.2 sec.3",
          "城镇新增建设用地规模控制在64万亩以内",
          "new urban construction land allowed in 2021-2025, spread evenly over the five years"),
    Lever("land_quota_enforcement", "land quota", "ch.2 sec.4; ch.2 sec.3",
          "严格实行建设用地总量与强度双控",
          "how strictly the annual quota limits land conversion from 2021 (1 = hard limit, 0 = "
          "none); unmet land demand lowers attractiveness"),
    Lever("planned_land_per_urban_resident_2035", "land quota", "ch.2 sec.3",
          "人均城镇建设用地控制在国家规定标准以内",
          "land per urban resident the land-use plan steers to by 2035 (linear from its 2020 "
          "value, from 2021); sets the land demand of the urban population"),
    Lever("annual_land_quota_after_2025", "land quota",
          "ch.2 sec.4 (no figure in the plan)",
          "严格实行建设用地总量与强度双控",
          "annual quota after 2025 (default: the 2021-2025 annual rate)"),
    Lever("town_land_per_resident_2035_relative_to_2020", "land quota", "ch.2 sec.4; ch.4 sec.1",
          "严格实行建设用地总量与强度双控",
          "construction land per town resident in 2035 relative to 2020, linearly from 2021; sets "
          "the land demand of designated towns"),
    Lever("development_zone_land_intensity_gain_after_2020", "land quota", "ch.2 sec.4",
          "严格实行建设用地总量与强度双控",
          "additional relative annual fall of development-zone land per unit of industrial output "
          "after 2020; sets the land demand of development zones"),
    Lever("domestic_water_saving_2025", "water saving", "ch.8 sec.3",
          "全面普及城镇生活节水",
          "relative reduction of urban domestic water use per resident by the end of 2025 "
          "against 2015 (linear over 2021-2025)"),
    Lever("leakage_reduction_achievement", "water saving",
          "ch.8 sec.3 (target: 2025 water-saving action plan)",
          "全力推进节水城市建设",
          "share of the gap between the 2015 leakage and the target closed by 2025 "
          "(1 = target met, 0 = no reduction)"),
    Lever("leakage_target", "water saving",
          "ch.8 sec.3 (value: 2025 water-saving action plan)",
          "全力推进节水城市建设",
          "network leakage reached by the end of 2025 (linear over 2021-2025); urban demand is "
          "use / (1 - leakage)"),
    Lever("irrigation_efficiency_gain_after_2020", "water saving", "ch.8 sec.3",
          "全面推行各种节水技术和措施",
          "relative annual fall of irrigation water per irrigated area after 2020"),
    Lever("industrial_water_intensity_trend_after_2020", "water saving", "ch.8 sec.3",
          "加大工业用水技术改造力度",
          "relative annual change of water per unit of industrial output after 2020 (default: "
          "water per unit of GDP -12 % on 2020 by 2025)"),
    Lever("settlement_linked_quota_share", "land quota", "ch.7 sec.1",
          "健全新增建设用地指标与吸纳落户数量相挂钩机制",
          "share of the 2021-2025 annual land quota that follows the number settled (人地挂钩, "
          "relative to 60,000 a year, at most doubled)")
)


#: The meaning of each lever in Chinese (for bilingual displays such as the explorer's tooltips).
LEVER_MEANING_ZH: dict[str, str] = {
    "residence_permit_universal_year": "居住证制度实现全覆盖的年份；提高未落户常住人口的公共服务覆盖",
    "equal_public_services_year": "居住证持有者享有与城镇居民同等基本公共服务的年份",
    "cluster_hukou_transfer_boost": "呼包鄂乌城市群户籍通迁后落户率的相对提高幅度（假设值）",
    "cluster_hukou_transfer_year": "呼包鄂乌城市群实行户籍通迁的起始年份",
    "student_and_talent_settlement": "在校大学生和人才每年额外落户人数",
    "county_town_investment": "县城补短板强弱项公共服务投入（0 = 无，1 = 全面实施）",
    "regional_water_cap_2025": "2025年全区用水总量控制指标（2021年起；此前为2020年红线）；优先保证生活用水，其后压减灌溉、限制工业和生态用水",
    "water_cap_phase_in": "2021–2024年2025年指标的执行方式（1 = 自2020年红线线性过渡，0 = 2021年起全额执行）",
    "water_cap_enforcement": "用水总量控制的严格程度（1 = 刚性约束，0 = 不约束）",
    "water_cap_growth_after_2025": "2025年后用水总量控制指标的年变化率（0 = 保持2025年水平）",
    "irrigated_area_trend_after_2020": "2020年后灌溉面积的年变化率（0 = 不再净增，以水定地）",
    "irrigation_efficiency_gain_after_2020": "2020年后亩均灌溉用水的年降幅（节水灌溉）",
    "industrial_water_intensity_trend_after_2020": "2020年后单位工业产出用水量的年变化率",
    "settlement_linked_quota_share": "年度新增建设用地指标中与吸纳落户数量挂钩的比例（人地挂钩）",
    "new_land_quota_2021_2025": "2021–2025年城镇新增建设用地规模（亩）",
    "land_quota_enforcement": "建设用地指标约束的严格程度（1 = 刚性约束，0 = 不约束）",
    "planned_land_per_urban_resident_2035": "2035年规划人均城镇建设用地（平方米/人）",
    "annual_land_quota_after_2025": "2025年后的年度新增建设用地指标",
    "town_land_per_resident_2035_relative_to_2020": "2035年建制镇人均建设用地相对2020年的倍数（2021年起线性变化）",
    "development_zone_land_intensity_gain_after_2020": "2020年后开发区单位工业产出用地的额外年降幅（节约集约用地）",
    "domestic_water_saving_2025": "到2025年城镇居民人均生活用水较2015年的节约比例",
    "leakage_reduction_achievement": "到2025年管网漏损率目标的完成程度（1 = 达到目标）",
    "leakage_target": "2025年城市公共供水管网漏损率目标",
}
#: The lever groups in Chinese.
LEVER_GROUP_ZH: dict[str, str] = {
    "settlement ease": "落户便利",
    "students and talent": "大学生和人才落户",
    "county towns": "县城建设",
    "water cap": "用水总量控制",
    "land quota": "建设用地指标",
    "water saving": "节水",
}


def lever_names() -> list[str]:
    """Names of the levers, in table order."""
    return [lever.name for lever in LEVERS]


def levers_marked_in_mdl(spec) -> set[str]:
    """Parameters whose ``.mdl`` comment calls them a lever (``Lever:`` or ``Lever (...)``)."""
    return {name for name, var in spec.parameters.items() if re.search(r"\bLever\b", var.description)}


def check_levers(spec) -> list[str]:
    """Problems of the lever registry against the ``.mdl`` (empty when consistent).

    Checks that every lever is a parameter of the model, that the set of levers equals the
    constants the ``.mdl`` marks as levers (plus the documented exceptions), and that every
    default lies in its range.
    """
    problems = []
    names = lever_names()
    if len(set(names)) != len(names):
        problems.append("a lever is listed twice in analysis.levers.LEVERS")
    for lever in LEVERS:
        if lever.name not in spec.parameters:
            problems.append(f"lever '{lever.name}' is not a parameter of {spec.mdl_path.name} "
                            f"(renamed or its range removed?)")
    marked = levers_marked_in_mdl(spec)
    expected = {lever.name for lever in LEVERS if lever.marked_in_mdl}
    for name in sorted(marked - expected):
        problems.append(f"'{name}' is marked 'Lever' in {spec.mdl_path.name} but missing from "
                        f"analysis.levers.LEVERS (or listed with marked_in_mdl=False)")
    for name in sorted(expected - marked):
        problems.append(f"lever '{name}' is not marked 'Lever' in {spec.mdl_path.name}; set "
                        f"marked_in_mdl=False with a reason, or mark it in the .mdl")
    return problems


_CHINESE_NUMBERS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}
_HEADING = re.compile(r"^第([一二三四五六七八九十])([章节])")


def plan_sections(text: str) -> dict[tuple[int, int], str]:
    """The plan's body split by chapter and section: ``{(chapter, section): text}``.

    Section 0 of a chapter is its introduction. The table of contents at the top of the file
    (the same headings without text) is skipped: the body starts at the second heading of
    chapter one.
    """
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("第一章")]
    body = lines[starts[1] if len(starts) > 1 else (starts[0] if starts else 0):]
    sections: dict[tuple[int, int], list[str]] = {}
    chapter, section = 0, 0
    for line in body:
        match = _HEADING.match(line.strip())
        if match:
            number = _CHINESE_NUMBERS[match.group(1)]
            if match.group(2) == "章":
                chapter, section = number, 0
            else:
                section = number
        sections.setdefault((chapter, section), []).append(line)
    return {key: "\n".join(value) for key, value in sections.items()}


def first_citation(plan: str) -> tuple[int, int]:
    """``(chapter, section)`` of the first ``ch.N sec.M`` in a lever's ``plan`` field."""
    match = _PLAN_CITATION.search(plan)
    if not match or not match.group(2):
        raise ValueError(f"'{plan}' cites no 'ch.N sec.M'")
    return int(match.group(1)), int(match.group(2))


# --------------------------------------------------------------------------- formatting
def format_number(value: float) -> str:
    """A compact, exact-enough rendering of a parameter value (``1.963e+10``, ``640000``)."""
    if value == int(value) and abs(value) < 1e7:
        return f"{int(value)}"
    return f"{value:.6g}"


def lever_table(spec) -> str:
    """The README lever table (Markdown), from the ``.mdl`` and :data:`LEVERS`."""
    lines = [
        "| lever | group | unit | range | default | plan | what it does |",
        "|---|---|---|---|---|---|---|",
    ]
    for lever in LEVERS:
        var = spec.parameters[lever.name]
        low, high = var.limits
        lines.append(
            f"| `{lever.name}` | {lever.group} | {var.units} | "
            f"[{format_number(low)}, {format_number(high)}] | {format_number(var.value)} | "
            f"{lever.plan} | {lever.effect} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class ScenarioFile:
    """A scenario delta file as written (``scenarios/scenario/<name>.yaml``)."""

    path: Path
    name: str
    title: str
    title_zh: str
    params: dict
    comment: str

    @property
    def plan_citations(self) -> list[str]:
        """The plan chapters and sections cited in the file's comment (``"ch.5 sec.1"``...)."""
        found = set()
        for chapter, first, last in _PLAN_CITATION.findall(self.comment):
            found.add((int(chapter), int(first) if first else 0, int(last) if last else 0))
        return [f"ch.{chapter}" + (f" sec.{first}" if first else "") + (f"-{last}" if last else "")
                for chapter, first, last in sorted(found)]


class ScenarioFileError(ValueError):
    """A scenario file that is malformed (unknown key, name not matching the file...)."""


def read_scenario_file(path: str | Path) -> ScenarioFile:
    """Read and check one scenario file.

    Raises
    ------
    ScenarioFileError
        If a key is not one of ``name``, ``title``, ``title_zh``, ``params``, the name differs
        from the file name, ``params`` is not a mapping, or the comment cites no plan chapter.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ScenarioFileError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise ScenarioFileError(f"{path}: a scenario file must be a mapping")
    unknown = sorted(set(data) - SCENARIO_KEYS)
    if unknown:
        raise ScenarioFileError(
            f"{path}: unknown key(s) {', '.join(unknown)}; a scenario file holds only "
            f"{', '.join(sorted(SCENARIO_KEYS))} (a misspelt 'params' would be ignored silently)")
    missing = sorted(SCENARIO_KEYS - set(data))
    if missing:
        raise ScenarioFileError(f"{path}: missing key(s) {', '.join(missing)}")
    if data["name"] != path.stem:
        raise ScenarioFileError(f"{path}: name '{data['name']}' must equal the file name '{path.stem}'")
    params = data["params"] or {}
    if not isinstance(params, dict):
        raise ScenarioFileError(f"{path}: params must be a mapping of parameter names to numbers")
    comment = " ".join(line.lstrip("# ").rstrip() for line in text.splitlines() if line.startswith("#"))
    scenario = ScenarioFile(path, str(data["name"]), str(data["title"]), str(data["title_zh"]),
                            dict(params), comment)
    if not scenario.plan_citations:
        raise ScenarioFileError(f"{path}: the comment must cite the plan (e.g. 'plan ch.5 sec.1')")
    return scenario


#: Order of the scenarios in tables: baseline first, the coordinated package last.
SCENARIO_ORDER = ("baseline", "business_as_usual", "faster_settlement", "county_town_push",
                  "strict_water", "water_saving", "strict_land", "loose_land",
                  "demographic_pessimism", "coordinated")


def scenario_files(directory: str | Path = SCENARIO_DIR) -> list[ScenarioFile]:
    """Every scenario file of ``directory``, checked, in :data:`SCENARIO_ORDER` then by name."""
    files = [read_scenario_file(path) for path in sorted(Path(directory).glob("*.yaml"))]
    rank = {name: i for i, name in enumerate(SCENARIO_ORDER)}
    return sorted(files, key=lambda s: (rank.get(s.name, len(rank)), s.name))


def spec_default(spec, name: str):
    """The ``.mdl`` value of ``name`` (an array for a subscripted constant)."""
    return spec.defaults()[name]


def scenario_table(spec, scenarios: Iterable[ScenarioFile]) -> str:
    """The README scenario table (Markdown): what each scenario changes and where the plan says so."""
    levers = set(lever_names())
    lines = ["| scenario | title | changes from the baseline | plan |", "|---|---|---|---|"]
    for scenario in scenarios:
        changes = []
        for name, value in scenario.params.items():
            if isinstance(value, Mapping):  # a parameter by league or group (simulator.by_element)
                by_name = ", ".join(f"{key} {format_number(float(v))}" for key, v in value.items())
                changes.append(f"`{name}` by league or group: {by_name} (elsewhere the baseline "
                               f"{format_number(float(np.ravel(spec_default(spec, name))[0]))})")
                continue
            if name not in levers:
                note = "uncertain parameter, fixed in every member"
            elif float(value) == spec.parameters[name].value:
                note = "as in the baseline, stated for clarity"
            else:
                note = f"baseline {format_number(spec.parameters[name].value)}"
            changes.append(f"`{name}` = {format_number(float(value))} ({note})")
        lines.append(
            f"| `{scenario.name}` | {scenario.title} / {scenario.title_zh} | "
            f"{'; '.join(changes) if changes else 'none (the .mdl and calibrated values)'} | "
            f"{', '.join(scenario.plan_citations)} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- README block
def replace_between(text: str, markers: Sequence[str], content: str) -> str:
    """``text`` with everything between the two ``markers`` replaced by ``content``."""
    start, end = markers
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"README.md must contain {start} ... {end} exactly once")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content}\n{end}{tail}"


def between(text: str, markers: Sequence[str]) -> str:
    """The text between the two ``markers`` (stripped)."""
    start, end = markers
    if start not in text or end not in text:
        raise ValueError(f"README.md has no {start} ... {end} section")
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def generated_tables(spec=None, directory: str | Path = SCENARIO_DIR) -> dict[tuple, str]:
    """The generated tables keyed by their README markers."""
    if spec is None:
        spec = load_spec()
    return {LEVER_TABLE_MARKERS: lever_table(spec),
            SCENARIO_TABLE_MARKERS: scenario_table(spec, scenario_files(directory))}


def readme_with_tables(readme: str, tables: Mapping[tuple, str]) -> str:
    """``readme`` with each generated table written between its markers (inside the levers block)."""
    block = between(readme, LEVERS_BLOCK)
    for markers, table in tables.items():
        block = replace_between(block, markers, table)
    return replace_between(readme, LEVERS_BLOCK, block)


def readme_drift(readme_path: str | Path = README_PATH, spec=None) -> list[str]:
    """Names of the README tables that differ from the generated ones (empty: up to date)."""
    readme = Path(readme_path).read_text(encoding="utf-8")
    block = between(readme, LEVERS_BLOCK)
    drift = []
    for markers, table in generated_tables(spec).items():
        try:
            written = between(block, markers)
        except ValueError:
            drift.append(f"{markers[0]} missing")
            continue
        if written != table.strip():
            drift.append(markers[0])
    return drift


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m analysis.levers",
        description="Print the lever and scenario tables; --write updates README.md, --check tests it.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the tables in README.md")
    group.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date")
    args = parser.parse_args(argv)
    spec = load_spec()
    problems = check_levers(spec)
    if problems:
        print("analysis.levers: error:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    tables = generated_tables(spec)
    if args.write:
        README_PATH.write_text(readme_with_tables(README_PATH.read_text(encoding="utf-8"), tables),
                               encoding="utf-8")
        print(f"updated the lever and scenario tables in {README_PATH}")
        return 0
    if args.check:
        drift = readme_drift(README_PATH, spec)
        if drift:
            print(f"README.md is out of date ({', '.join(drift)}); run python -m analysis.levers --write",
                  file=sys.stderr)
            return 1
        print("README.md lever and scenario tables are up to date")
        return 0
    for table in tables.values():
        print(table, end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_command("analysis.levers", lambda: main(strip_debug_flag(sys.argv[1:]))))
