#!/usr/bin/env bash
# Set up this checkout: a virtual environment in .venv with the pinned packages, and a CJK font for
# the Chinese plot labels. Safe to run again (fast when everything is already installed).
#   bash install.sh && .venv/bin/python sim.py          # install, then run the baseline
#   bash install.sh && .venv/bin/python -m pytest       # install, then run the tests
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "install.sh: Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

# 1. Python packages (pinned in requirements.txt), in .venv
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  .venv/bin/python -c "import numpy, scipy, pysd, xarray, netCDF4, matplotlib, hydra, SALib, dash, selenium" \
    || { echo "install.sh: the package installation failed (see the pip messages above)" >&2; exit 1; }
  echo "$wanted" > "$stamp"
fi

# 2. A CJK font for the Chinese plot labels (Debian package fonts-wqy-microhei). Optional:
#    without it the plots are labelled in English only.
if ! fc-list 2>/dev/null | grep -qiE "wqy|noto sans cjk|source han|uming|droid sans fallback"; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo -n"
  if command -v apt-get >/dev/null; then
    { $SUDO apt-get install -y -qq --no-install-recommends fonts-wqy-microhei >/dev/null 2>&1 \
      || { $SUDO apt-get update -qq >/dev/null 2>&1 \
           && $SUDO apt-get install -y -qq --no-install-recommends fonts-wqy-microhei >/dev/null 2>&1; }; } \
      || echo "install.sh: could not install fonts-wqy-microhei; plots will be labelled in English only" >&2
  else
    echo "install.sh: no apt-get; install a CJK font (e.g. WenQuanYi Micro Hei) for Chinese labels" >&2
  fi
fi
# 2b. matplotlib keeps its own list of fonts (fontlist-*.json in its cache directory), made once: a CJK
#     font installed after that (by this script or by hand) stays invisible to the plots, which are then
#     labelled in English only. Rebuild the list whenever the system has a CJK font that it lacks.
.venv/bin/python - <<'PY' || echo "install.sh: could not check matplotlib's font cache" >&2
from pathlib import Path
import matplotlib
from matplotlib import font_manager
from base.fonts import CJK_FONT_CANDIDATES
cached = {font.name for font in font_manager.fontManager.ttflist}
fresh = font_manager.FontManager()  # scans the system's font directories now
found = [name for name in CJK_FONT_CANDIDATES if name in {font.name for font in fresh.ttflist}]
if found and not any(name in cached for name in CJK_FONT_CANDIDATES):
    cache = Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
    font_manager.json_dump(fresh, cache)
    print(f"install.sh: matplotlib's font cache lacked {found[0]}: rebuilt {cache}")
PY
# 3. Debian's Chromium and its driver, for the lever explorer's browser test (tests/test_explorer_browser.py).
#    The test fails, saying so, when they are missing.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo -n"
  if command -v apt-get >/dev/null; then
    { $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 \
      || { $SUDO apt-get update -qq >/dev/null 2>&1 \
           && $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1; }; } \
      || echo "install.sh: could not install chromium and chromium-driver; the explorer's browser test will fail" >&2
  else
    echo "install.sh: no apt-get; install Chromium and chromedriver at /usr/bin for the explorer's browser test" >&2
  fi
fi
echo "install.sh: ready (.venv/bin/python)"
