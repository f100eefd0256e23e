"""A real uvicorn server on a free 127.0.0.1 port, serving a real store and a fake LLM."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn

from agent.session import Moodtune
from catalog.store import CatalogStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def serve():
    servers = []

    def start(app) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def demo_agent(settings, track_factory, fake_llm, tmp_path):
    from catalog.demo import plan_clips, render_plan

    store = CatalogStore.open(settings)
    tracks = [track_factory(f"t{i}", mood=m, genre=g, artist=f"Artist {i}", title=f"Song {i}")
              for i, (m, g) in enumerate([("calm", "jazz"), ("sad", "blues"), ("happy", "pop"), ("energetic", "rock"), ("calm", "classical")])]
    clip = render_plan(plan_clips()[0], tmp_path / "audio", seconds=4.0)
    tracks[0] = tracks[0].with_(path=str(clip), source="demo-synthetic")
    store.upsert(tracks)
    answer = {"m": ["calm"], "x": [], "g": [], "a": [], "xa": [], "xg": [], "c": "", "f": False, "s": "match", "e": "", "music": True}
    return Moodtune(settings, llm=fake_llm(answer, "1. Calm and soft.\n2. Gentle.\n"), store=store)


OWNER_TOKEN = "owner-s3cret-token-0123"
ANA_TOKEN = "ana-s3cret-token-456789"
BEN_TOKEN = "ben-s3cret-token-abcdef"
REVIEWER_TOKEN = "reviewer-s3cret-token-42"


@pytest.fixture
def tokens():
    """The test credentials, and `tokens.header(token)` for the Authorization header."""
    return SimpleNamespace(
        owner=OWNER_TOKEN,
        ana=ANA_TOKEN,
        ben=BEN_TOKEN,
        reviewer=REVIEWER_TOKEN,
        header=lambda token: {"authorization": f"Bearer {token}"},
    )


@pytest.fixture
def with_token(settings):
    return replace(settings, api_token=OWNER_TOKEN, host="0.0.0.0")


@pytest.fixture
def secured(settings):
    """Every kind of credential: the owner's, two users' own, the reviewer's; bound beyond localhost."""
    return replace(
        settings,
        api_token=OWNER_TOKEN,
        api_tokens=f"{ANA_TOKEN}:ana,{BEN_TOKEN}:ben",
        reviewer_token=REVIEWER_TOKEN,
        host="0.0.0.0",
    )


@pytest.fixture
def client():
    with httpx.Client(timeout=60) as http:
        yield http


# Headless Chromium for the UI tests (test_browser.py, test_voice.py).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        # ./run.sh test installs Chromium and sets this, so CI can never skip silently.
        if os.environ.get("MOODTUNE_REQUIRE_BROWSER"):
            pytest.fail("Chromium/ChromeDriver missing: apt-get install chromium chromium-driver")
        pytest.skip("Chromium is not installed (./run.sh test installs it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The machine's network is closed: without these Chromium retries Google's hosts at every start.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
