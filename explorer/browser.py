"""Headless Debian Chromium driven by Selenium, for the browser test and the benchmark.

Uses the system browser and driver (``/usr/bin/chromium``, ``/usr/bin/chromedriver``, installed by
``install.sh``); nothing is downloaded. :func:`chromium` raises :class:`BrowserUnavailable` with
the fix when they are missing.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import psutil
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: Flags for a headless, root, offline-friendly Chromium (no background connections; only the
#: explorer's local address is resolved, so an asset fetched from the internet would fail).
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         "--window-size=1500,1250", "--lang=en-US")


class BrowserUnavailable(RuntimeError):
    """Chromium or chromedriver is missing."""


@contextlib.contextmanager
def chromium(user_data_dir: str | Path | None = None) -> Iterator[webdriver.Chrome]:
    """A headless Chromium session; the browser and its driver are ended on exit, whatever happens."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).is_file()]
    if missing:
        raise BrowserUnavailable(
            f"{', '.join(missing)} not found: the browser test needs Debian's chromium and "
            f"chromium-driver; run `bash install.sh` (as root, or with sudo) or "
            f"`apt-get install -y chromium chromium-driver`")
    own_dir = user_data_dir is None
    profile = Path(tempfile.mkdtemp(prefix="explorer-chromium-")) if own_dir else Path(user_data_dir)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    service = Service(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    driver_pid = service.process.pid if service.process else None
    try:
        driver.set_page_load_timeout(60)
        driver.set_script_timeout(60)
        yield driver
    finally:
        with contextlib.suppress(Exception):
            driver.quit()
        _end_leftovers(driver_pid, str(profile))
        if own_dir:
            shutil.rmtree(profile, ignore_errors=True)


def _end_leftovers(driver_pid: int | None, profile: str) -> None:
    """End the driver and any browser process of this profile still alive after ``quit()``."""
    leftovers = []
    if driver_pid is not None and psutil.pid_exists(driver_pid):
        with contextlib.suppress(psutil.Error):
            leftovers.append(psutil.Process(driver_pid))
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if any(f"--user-data-dir={profile}" == arg for arg in proc.info["cmdline"] or []):
                leftovers.append(proc)
    for proc in leftovers:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(leftovers, timeout=5)
