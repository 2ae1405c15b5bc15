"""Lever change -> updated numbers in the explorer, at 1,000 members (target <= 200 ms, province model).

``python -m benchmarks.explorer [--samples 1000] [--repeats 10]`` prints the server-side time (the
backend run of a new setting, no cache) and the browser time (typing a new lever value into the
page of a real headless Chromium until the probability tiles show the new setting), then a JSON
line. Speed figures live here, never in timed tests.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from explorer.backend import Backend
from explorer.browser import chromium
from explorer.server import BackgroundServer

STATUS = "return (document.getElementById('status') || {}).textContent || ''"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explorer", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    backend = Backend()
    values = [0.05 + 0.01 * k for k in range(1, args.repeats + 2)]
    backend.evaluate(backend.setting("baseline", {}, args.samples))  # warm up (config, engine)
    server_ms = []
    for value in values[:args.repeats]:
        setting = backend.setting("baseline", {"leakage_target": round(value, 4)}, args.samples)
        started = time.perf_counter()
        backend.evaluate(setting)
        server_ms.append(1000 * (time.perf_counter() - started))
    browser_ms = []
    with BackgroundServer(backend=Backend()) as server, chromium() as driver:
        driver.get(server.url)
        deadline = time.monotonic() + 60
        while "python sim.py" not in driver.execute_script(STATUS) and time.monotonic() < deadline:
            time.sleep(0.05)
        box = driver.find_element(By.CSS_SELECTOR, "[data-lever=leakage_target] input[type=text]")
        for k, value in enumerate(values[:args.repeats]):
            text = f"{0.1 + 0.005 * k:.3f}".rstrip("0")
            box.clear()
            started = time.perf_counter()
            box.send_keys(text, Keys.ENTER)
            deadline = time.monotonic() + 30
            while f"params.leakage_target={text}" not in driver.execute_script(STATUS):
                if time.monotonic() > deadline:
                    raise SystemExit(f"benchmarks.explorer: the page did not update for leakage_target={text}")
                time.sleep(0.005)
            browser_ms.append(1000 * (time.perf_counter() - started))
    result = {"samples": args.samples, "repeats": args.repeats,
              "server_ms_median": statistics.median(server_ms), "server_ms_max": max(server_ms),
              "browser_ms_median": statistics.median(browser_ms), "browser_ms_max": max(browser_ms),
              "target_ms": 200}
    print(f"lever change -> updated numbers at {args.samples:,} members (median of {args.repeats}):")
    print(f"  server side: {result['server_ms_median']:.0f} ms (max {result['server_ms_max']:.0f})")
    print(f"  in the browser: {result['browser_ms_median']:.0f} ms (max {result['browser_ms_max']:.0f}); target <= 200 ms")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
