"""Shared fixtures: the Melexis reference vectors and generated sensors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

# The store's fixtures (each test once on SQLite and once on PostgreSQL), for every test file that asks for them.
pytest_plugins = ["store_backends"]

REPO = Path(__file__).resolve().parent.parent
VECTORS = REPO.parent / "shared" / "vectors" / "melexis_example_xlsx.json"


# What a test needs, read from the fixtures it uses, as markers (pyproject.toml lists them; `make test-fast`
# leaves the browser, postgres and slow ones out). Tests that need root or run long carry their marker.
BROWSER_FIXTURES = {"browser"}
POSTGRES_FIXTURES = {"pg_database", "pg_url", "pg_empty_url", "_pg_migrated"}
BACKEND_PARAMETRIZED = {"store_url", "empty_store_url"}  # sqlite or postgresql


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if names & POSTGRES_FIXTURES or any(params.get(n) == "postgresql" for n in BACKEND_PARAMETRIZED):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def melexis_example() -> dict:
    """The vendor's published example device (EEPROM, two frames, expected To)."""
    if not VECTORS.exists():
        pytest.fail(f"reference vectors not found at {VECTORS}: the checkout needs ../shared beside it")
    return json.loads(VECTORS.read_text())


@pytest.fixture(scope="session")
def melexis_frames(melexis_example) -> list[np.ndarray]:
    return [np.array(f, dtype=np.uint16) for f in melexis_example["frames"]]


@pytest.fixture
def controller_service(tmp_path, mqtt_broker):
    """Factory: ``controller_service(gates=("sim-1",), store=None, extra="", http=False)`` -> a started
    ControllerService on the test's broker, connected, serving those simulated gates; stopped at the end."""
    from controller.app import build_controller
    from controller.service.config import load_config
    from controller_harness import write_config

    services = []

    def start(gates=("sim-1",), *, store: str | None = None, extra: str = "", http: bool = False,
              site_extra: str = "", doors_extra: str = ""):
        config = load_config(write_config(tmp_path, mqtt_broker, list(gates), store=store, extra=extra,
                                          site_extra=site_extra, doors_extra=doors_extra))
        services.append(build_controller(config, http=http).start())
        assert services[-1].dispatcher.connected.wait(10)
        return services[-1]

    yield start
    for s in services:
        s.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium under Playwright, one for the whole session: every browser test file
    shares it (two Playwright sync instances cannot run at once in one process)."""
    from chromium import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium package "
                    "(apt-get install -y chromium; `make test` installs it on Debian as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def pages(browser):
    """A factory of console pages: ``pages(viewport={...}, **context_options)`` opens a page in a browser
    context of its own (its own cookies: one console user each). A script error on any page fails the test."""
    contexts, errors = [], []

    def new(viewport: dict | None = None, **options):
        context = browser.new_context(viewport=viewport or {"width": 1366, "height": 768}, **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        return page

    yield new
    for c in contexts:
        c.close()
    assert not errors, errors


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where a browser test keeps its screenshots: THERMOGATE_SCREENSHOTS (``docs/img`` makes the ones the docs
    show), else a directory of the test's own."""
    d = Path(os.environ.get("THERMOGATE_SCREENSHOTS") or tmp_path / "shots")
    d.mkdir(parents=True, exist_ok=True)
    return d
