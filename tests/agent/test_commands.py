"""The terminal chat: requests, feedback commands and refinements, on a real store with a fake LLM."""

from __future__ import annotations

import argparse
import io

import pytest

import agent.session
from agent.commands import _chat
from catalog.store import CatalogStore


@pytest.fixture
def chat(settings, track_factory, fake_llm, monkeypatch, capsys):
    store = CatalogStore.open(settings)
    store.upsert([
        track_factory(f"t{i}", mood=mood, genre=genre, artist=f"Artist {i}", title=f"{mood} {genre} {i}")
        for i, (mood, genre) in enumerate([("calm", "jazz"), ("happy", "pop"), ("sad", "blues"), ("energetic", "rock")] * 3)
    ])
    llm = fake_llm({"m": ["calm"]})
    real = agent.session.Moodtune
    monkeypatch.setattr(agent.session, "Moodtune", lambda s: real(s, llm=llm, store=store))

    def run(*lines: str) -> str:
        monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
        _chat(argparse.Namespace(user="chatter", k=4), settings)
        return capsys.readouterr().out

    return run


def test_more_like_a_track_aims_at_that_track(chat):
    out = chat("something calm", "/more 2", "/quit")
    listed = [line for line in out.splitlines() if line.startswith(" 2. ")]
    title = listed[0][4:].split(" - ")[0]
    assert f"aimed at tracks like {title}" in out


@pytest.mark.parametrize(("line", "reply"), [("/up 9", "give the number"), ("/frobnicate", "commands:"), ("/up 1", "noted: up")])
def test_feedback_commands_check_their_track_number(chat, line, reply):
    assert reply in chat("something calm", line, "/quit")


def test_a_spoken_request_from_a_file_is_heard_answered_and_spoken(settings, real_whisper_dir, track_factory, fake_llm,
                                                                   monkeypatch, capsys, tmp_path):
    """`moodtune chat --voice FILE` with the real speech models (the LLM is a fake: the turn is not under test)."""
    from dataclasses import replace

    import soundfile

    from tools.speech import speak

    settings = replace(settings, whisper_dir=real_whisper_dir)
    store = CatalogStore.open(settings)
    store.upsert([track_factory(f"t{i}", mood="calm", genre=g, title=f"Calm {g}") for i, g in enumerate(["jazz", "pop", "rock"])])
    real = agent.session.Moodtune
    monkeypatch.setattr(agent.session, "Moodtune", lambda s: real(s, llm=fake_llm({"m": ["calm"]}), store=store))
    request = speak("calm music for reading", language="en", settings=settings)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    out_wav = tmp_path / "reply.wav"
    _chat(argparse.Namespace(user="talker", k=3, voice=str(request), speech_out=str(out_wav)), settings)
    out = capsys.readouterr().out
    assert "heard (en, " in out and "calm music for reading" in out.lower()
    assert " 1. Calm " in out and f"spoken reply: {out_wav}" in out
    assert soundfile.info(str(out_wav)).duration > 2.0
