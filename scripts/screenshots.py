"""Screenshots of the dashboard's main pages for the README (docs/img/ui-*.png), and of the
explanations: a logged prediction's waterfall (docs/img/ui-waterfall.png) and the report's
explanation plots (docs/img/report-explanations.png).

Builds a throwaway store (two quick training runs on the bundled Titanic data), serves it
with ``modelloop serve``'s app on a free port, sends a few real prediction requests so the
live view has something to show, and photographs the pages with Debian's Chromium
(headless, through Selenium and chromedriver; ``scripts/browser-up.sh`` installs them).

    .venv/bin/python scripts/screenshots.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import uvicorn

import modelloop as ml
from modelloop.config import Settings
from modelloop.data._bundled import load_bundled, titanic_path
from modelloop.serving import create_app
from modelloop.store import Store

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "screenshot-key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _train(settings: Settings, store: Store) -> None:
    # A time budget (not None) bounds every trial, so a stuck fit cannot stall the script.
    common = {"target": "Survived", "name": "titanic", "cv": 3, "time_budget": 90}
    ml.train(
        titanic_path(),
        models=["logistic_regression", "decision_tree"],
        max_trials=4,
        aliases=["production"],
        seed=0,
        settings=settings,
        store=store,
        **common,
    )
    ml.train(
        titanic_path(),
        models=["logistic_regression", "random_forest", "lightgbm"],
        max_trials=6,
        seed=1,
        settings=settings,
        store=store,
        **common,
    )
    ml.train(
        load_bundled("iris"),
        target="species",
        name="iris",
        models=["logistic_regression"],
        max_trials=1,
        cv=3,
        time_budget=60,
        aliases=["production"],
        settings=settings,
        store=store,
    )


def _traffic(url: str, seconds: float) -> None:
    frame = load_bundled("titanic").drop(columns=["Survived"])
    rows = frame.to_dict(orient="records")
    # The second half of the traffic drifts (older passengers, dearer tickets), so the live
    # view's drift panel has something to show.
    older = frame.assign(
        Age=pd.to_numeric(frame["Age"], errors="coerce") + 20,
        Fare=pd.to_numeric(frame["Fare"], errors="coerce") * 3,
    )
    shifted = older.astype(object).where(older.notna(), None).to_dict(orient="records")
    rng = random.Random(0)
    start = time.monotonic()
    end = start + seconds
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < end:
            late = time.monotonic() - start > seconds / 2
            batch = rng.sample(shifted if late else rows, rng.randint(1, 8))
            client.post("/v1/models/titanic/predict", json={"instances": batch})
            time.sleep(rng.uniform(0.05, 0.4))
        client.post("/v1/models/titanic/predict", json={"instances": [{"Age": "old"}]})


def _driver(width: int, height: int):  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        sys.exit("screenshots: chromium and chromedriver are needed; run scripts/browser-up.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument(f"--window-size={width},{height}")
    return webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)


def _report_loaded(driver) -> bool:  # type: ignore[no-untyped-def]
    return bool(
        driver.execute_script(
            "const f = document.getElementById('report');"
            "const d = f && f.contentDocument;"
            "return !f || Boolean(d && d.readyState === 'complete'"
            " && d.querySelector('img, #no-report'));"
        )
    )


def _drift_done(driver) -> bool:  # type: ignore[no-untyped-def]
    return bool(
        driver.execute_script(
            "const d = document.getElementById('drift');"
            "return !d || d.dataset.state !== 'computing';"
        )
    )


def _shoot(driver, url: str, path: Path, width: int) -> None:  # type: ignore[no-untyped-def]
    driver.set_window_size(width, 2400)  # tall, so the lazy report frame starts loading
    driver.get(url)
    deadline = time.monotonic() + 180
    while not (_report_loaded(driver) and _drift_done(driver)) and time.monotonic() < deadline:
        time.sleep(0.5)
    driver.set_window_size(width, 600)
    time.sleep(0.5)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(width, min(max(int(height) + 140, 600), 2400))
    time.sleep(0.3)
    driver.save_screenshot(str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def _shoot_element(driver, url: str, selector: str, path: Path, width: int) -> None:  # type: ignore[no-untyped-def]
    """A screenshot of the first element matching ``selector`` on the page at ``url``."""
    from selenium.webdriver.common.by import By

    driver.set_window_size(width, 2400)
    driver.get(url)
    deadline = time.monotonic() + 60
    while not driver.find_elements(By.CSS_SELECTOR, selector) and time.monotonic() < deadline:
        time.sleep(0.3)
    element = driver.find_element(By.CSS_SELECTOR, selector)
    driver.execute_script("arguments[0].scrollIntoView();", element)
    time.sleep(0.3)
    element.screenshot(str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--traffic-seconds", type=float, default=20.0)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["models", "run", "compare", "live", "waterfall", "report"],
        help="photograph only these pages (default: all)",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="modelloop-shots-") as home:
        settings = Settings(home=home, api_key=API_KEY, serve_poll_seconds=0)
        store = Store.from_settings(settings)
        _train(settings, store)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, store), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        try:
            _traffic(url, args.traffic_seconds)
            time.sleep(1.5)  # the prediction log writes in the background
            runs = store.list_runs()
            width = 1280
            driver = _driver(width, 900)
            try:
                titanic = [r for r in runs if r.name == "titanic"]
                ids = ",".join(r.short_id for r in titanic[:2])
                pages = {
                    "models": f"{url}/ui/models",
                    "run": f"{url}/ui/runs/{titanic[0].id}",
                    "compare": f"{url}/ui/compare?ids={ids}",
                    "live": f"{url}/ui/live/titanic",
                }
                for page, address in pages.items():
                    if not args.only or page in args.only:
                        _shoot(driver, address, args.out / f"ui-{page}.png", width)
                if not args.only or "waterfall" in args.only:
                    logged = store.get_predictions("titanic", limit=40)
                    rid = logged[-1].request_id
                    address = f"{url}/ui/live/titanic/predictions/{rid}"
                    _shoot(driver, address, args.out / "ui-waterfall.png", width)
                if not args.only or "report" in args.only:
                    address = f"{url}/ui/runs/{titanic[0].id}/report"
                    out = args.out / "report-explanations.png"
                    _shoot_element(driver, address, "section#explanations", out, 1100)
            finally:
                driver.quit()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            store.close()


if __name__ == "__main__":
    main()
