"""Debian's Chromium through chromedriver (Selenium), headless, offline, with a fresh profile: no browser is
downloaded. `chrome(tmp)` or skip when the packages are missing (`make test` installs them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1")
LAPTOP = (1366, 768)
TABLET = (768, 1024)


def chrome(profile: Path, size: tuple[int, int] = LAPTOP):
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium / chromium-driver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={size[0]},{size[1]}")
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return driver


def resize(driver, size: tuple[int, int]) -> None:
    """Make the viewport (not the window) `size`: headless windows have no chrome, but be exact anyway."""
    driver.set_window_size(*size)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight];")
    driver.set_window_size(size[0] * 2 - inner[0], size[1] * 2 - inner[1])


def full_page_screenshot(driver, path: Path, width: int, height: int | None = None) -> None:
    """The page at `width` CSS pixels, saved as PNG: its whole height, or the first `height` pixels (a screen)."""
    def emulate(height: int) -> None:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    emulate(800)                  # lay the page out at this width first, then measure its height
    emulate(height or int(driver.execute_script("return document.documentElement.scrollHeight;")))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(path))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
