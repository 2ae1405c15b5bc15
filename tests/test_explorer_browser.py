"""The lever explorer in a real headless browser (Debian's chromium), as a planner uses it.

Opens the page, moves a lever slider, picks a preset, moves a slider again, waits for each update,
reads the displayed probabilities and checks them against ``python sim.py`` for the same setting;
checks that a refused value shows the server's message, that a second window does not see the
first one's setting, and saves a screenshot into the test's temporary folder. If Chromium cannot
be started the test fails, saying why.
"""
from __future__ import annotations

import re
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from explorer.app import percent
from explorer.backend import Backend
from explorer.browser import BrowserUnavailable, chromium
from explorer.server import BackgroundServer
from test_explorer import run_sim

TIMEOUT_S = 60
READ = """return {
  status: (document.getElementById('status') || {}).textContent || '',
  error: (document.getElementById('error') || {}).textContent || '',
  probabilities: Object.fromEntries(Array.from(document.querySelectorAll('.tile-value[data-key]'))
                   .map(e => [e.dataset.key, e.textContent])),
  sliders: Object.fromEntries(Array.from(document.querySelectorAll('[data-lever]'))
                   .map(e => [e.dataset.lever, (e.querySelector('[role=slider]') || {ariaValueNow: ''}).ariaValueNow]))}"""


def wait_for(driver, condition, what: str) -> dict:
    """Poll the page until ``condition(state)`` holds and the state is stable for 0.5 s (bounded)."""
    deadline = time.monotonic() + TIMEOUT_S
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = driver.execute_script(READ)
        if state != last:
            last, since = state, time.monotonic()
        elif condition(state) and time.monotonic() - since >= 0.5:
            return state
        time.sleep(0.1)
    raise AssertionError(f"timed out after {TIMEOUT_S} s waiting for {what}; page shows {last}")


def command_of(state: dict) -> list[str]:
    match = re.search(r"same numbers as: python sim\.py (.*)$", state["status"])
    assert match, state["status"]
    return match.group(1).split()


def shows_slider(state: dict, lever: str) -> bool:
    """Whether the status line's ``sim.py`` command sets ``lever`` to the value its slider shows.

    Each arrow press triggers its own server update, and on a loaded machine these can be more
    than the 0.5 s of :func:`wait_for` apart, so a test waits for the figures of the slider's
    *final* position, not for the first update that names the lever.
    """
    match = re.search(rf"params\.{lever}=(\S+)", state["status"])
    shown = state["sliders"].get(lever) or ""
    if not match or not shown:
        return False
    value = float(shown)
    return abs(float(match.group(1)) - value) <= 1e-9 * max(1.0, abs(value))


def move_slider(driver, lever: str, presses: int) -> None:
    thumb = driver.find_element(By.CSS_SELECTOR, f"[data-lever={lever}] [role=slider]")
    thumb.click()
    for _ in range(presses):
        thumb.send_keys(Keys.ARROW_RIGHT)
    # the key events are handled asynchronously: wait until the slider itself is still for 0.5 s
    deadline = time.monotonic() + TIMEOUT_S
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        shown = thumb.get_attribute("aria-valuenow")
        if shown != last:
            last, since = shown, time.monotonic()
        elif time.monotonic() - since >= 0.5:
            return
        time.sleep(0.1)
    raise AssertionError(f"slider {lever} still moving after {TIMEOUT_S} s")


def pick_preset(driver, title: str) -> None:
    driver.find_element(By.ID, "preset").click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        options = [o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]") if title in o.text]
        if options:
            options[0].click()
            return
        time.sleep(0.1)
    raise AssertionError(f"preset {title!r} not in the menu")


def test_a_planner_moves_levers_and_reads_the_same_odds_as_sim_py(tmp_path):
    backend = Backend(max_samples=5000)
    try:
        browser = chromium()
        driver = browser.__enter__()
    except (BrowserUnavailable, Exception) as error:  # noqa: BLE001 - any failure to start is reported
        pytest.fail(f"Chromium could not be started for the browser test: {error}")
    try:
        with BackgroundServer(backend=backend) as server:
            driver.get(server.url)
            first = wait_for(driver, lambda s: s["probabilities"] and "python sim.py" in s["status"], "first numbers")
            assert "scenario=baseline" in first["status"] and not first["error"]

            move_slider(driver, "county_town_investment", 3)
            moved = wait_for(driver, lambda s: shows_slider(s, "county_town_investment"), "slider update")
            assert "params.county_town_investment=0.003" in moved["status"]

            pick_preset(driver, "Strict land")
            preset = wait_for(driver, lambda s: "scenario=strict_land" in s["status"]
                              and "county_town_investment" not in s["status"], "preset update")
            move_slider(driver, "leakage_target", 20)
            final = wait_for(driver, lambda s: "scenario=strict_land" in s["status"]
                             and shows_slider(s, "leakage_target"), "second slider update")
            assert final["probabilities"] != {} and not final["error"]
            driver.save_screenshot(str(tmp_path / "explorer.png"))

            summary = run_sim(command_of(final), tmp_path / "run")
            expected = {f"reach_{e['target_pct']:g}_{y}": percent(e["probability"]) for y, e in summary["targets"].items()}
            expected.update({k: percent(v) for k, v in summary["ensemble"].items() if k.startswith("p_")})
            assert final["probabilities"] == expected
            assert preset["probabilities"] != moved["probabilities"] or preset["status"] != moved["status"]

            # a value out of range is refused by the server, the figures keep the last valid setting
            box = driver.find_element(By.CSS_SELECTOR, "[data-lever=leakage_target] input[type=text]")
            box.clear()
            box.send_keys("0.5", Keys.ENTER)
            refused = wait_for(driver, lambda s: "outside its documented range" in s["error"], "refusal")
            assert refused["probabilities"] == final["probabilities"]

            # a second window starts from its own setting (state lives in each page)
            driver.switch_to.new_window("window")
            driver.get(server.url)
            other = wait_for(driver, lambda s: s["probabilities"] and "python sim.py" in s["status"], "second window")
            assert "scenario=baseline" in other["status"] and "params." not in other["status"]
            assert (tmp_path / "explorer.png").stat().st_size > 10_000
    finally:
        browser.__exit__(None, None, None)
