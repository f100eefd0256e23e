"""Real servers for the catalog's server tests: supysonic over rendered clips, Debian's MPD."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from moodtune.types import EmotionVector, Explanation, Intent, Recommendation, Reply, ScoredTrack, Track

# Six genres, so the clips differ in tempo, mode and style.
CLIP_PLANS = (0, 60, 100, 140, 200, 260)
CLIP_SECONDS = 6.0


def require_servers(what: str, missing: bool, fix: str) -> None:
    if missing:
        # ./run.sh test installs them and sets this, so CI can never skip silently.
        if os.environ.get("MOODTUNE_REQUIRE_SERVERS"):
            pytest.fail(f"{what} is missing: {fix}")
        pytest.skip(f"{what} is not installed ({fix}; ./run.sh test does)")


@pytest.fixture(scope="session")
def clip_library(tmp_path_factory) -> Path:
    """Rendered FLAC clips with tags, in two album folders (read-only: copy before changing)."""
    from catalog.demo import plan_clips, render_plan

    folder = tmp_path_factory.mktemp("clips")
    plans = plan_clips()
    for n, index in enumerate(CLIP_PLANS):
        render_plan(plans[index], folder / f"album {n % 2}", seconds=CLIP_SECONDS)
    return folder


@pytest.fixture(scope="session")
def spare_clip(tmp_path_factory) -> Path:
    """One more clip, for a song added to the server later."""
    from catalog.demo import plan_clips, render_plan

    return render_plan(plan_clips()[230], tmp_path_factory.mktemp("spare"), seconds=CLIP_SECONDS)


@pytest.fixture(scope="session")
def start_supysonic():
    require_servers("supysonic", importlib.util.find_spec("supysonic") is None, 'pip install -e ".[servers]"')
    from bench.servers import start_supysonic as start

    servers = []

    def started(music: Path, workdir: Path):
        server = start(music, workdir)
        servers.append(server)
        return server

    yield started
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def start_mpd():
    from bench.servers import mpd_binary
    from bench.servers import start_mpd as start

    require_servers("mpd", mpd_binary() is None, "apt-get install mpd")
    require_servers("python-mpd2", importlib.util.find_spec("mpd") is None, 'pip install -e ".[servers]"')
    servers = []

    def started(music: Path, workdir: Path):
        server = start(music, workdir)
        servers.append(server)
        return server

    yield started
    for server in servers:
        server.stop()


def copy_library(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def make_reply(tracks: list[Track], request: str = "calm piano for a rainy evening", *, user_id: str = "ana") -> Reply:
    """A reply as the agent would give it, for tests about what happens to a reply afterwards."""
    recs = tuple(
        Recommendation(ScoredTrack(t, {"emotion_match": 0.9}, 0.9), Explanation(template=f"{t.title} fits."), rank=i + 1)
        for i, t in enumerate(tracks)
    )
    return Reply(
        reply_id=f"r-{abs(hash(tuple(t.id for t in tracks))) % 10**8}",
        session_id="s1",
        user_id=user_id,
        request=request,
        intent=Intent(emotion=EmotionVector.one_hot("calm"), text=request),
        user_mood=EmotionVector.uniform(),
        message="Here is something calm.",
        recommendations=recs,
    )


@pytest.fixture
def reply_factory():
    return make_reply
