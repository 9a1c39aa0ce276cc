"""Shared fixtures: small, fast data and configs so the suite stays well inside CI's budget."""

from __future__ import annotations

import os

import pytest
import torch

from gankit.data import ImageDataset

# At most 2 threads (CI's cores), fewer when OMP_NUM_THREADS asks: oversubscribed threads
# spin against each other and make small-tensor tests many times slower.
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # No test may touch the network; the loaders fail fast instead of downloading.
    monkeypatch.setenv("GANKIT_OFFLINE", "1")


@pytest.fixture
def tiny_images() -> ImageDataset:
    """96 random 8x8 grayscale images in 3 classes."""
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(96, 1, 8, 8, generator=gen) * 2 - 1
    labels = torch.arange(96) % 3
    return ImageDataset("tiny", "train", images, labels, ("a", "b", "c"))


@pytest.fixture
def chromium():
    """A headless Chromium driven by Selenium (Debian's chromium and chromium-driver, which
    make test installs), at a 1400 x 900 window; skipped where they are missing."""
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver")
    driver_path, browser = shutil.which("chromedriver"), shutil.which("chromium")
    if driver_path is None or browser is None:
        pytest.skip("needs Debian's chromium and chromium-driver (installed by make test)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1400,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """An empty per-test cache so that nothing leaks between tests or into ~/.cache."""
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home
