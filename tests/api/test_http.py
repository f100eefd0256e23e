"""The HTTP API against a real server: REST, OpenAI-compatible chat, auth, bad input, busy."""

from __future__ import annotations

import json
import threading
import time

import pytest

from api.http import FairGate, check_binding, create_app
from moodtune.errors import BusyError, InputError

OWNER_TOKEN = "owner-s3cret-token-0123"  # the `with_token` fixture's (tests/api/conftest.py)


def test_recommend_feedback_profile_round_trip(settings, demo_agent, serve, client):
    base = serve(create_app(settings, agent=demo_agent))
    reply = client.post(f"{base}/api/v1/recommend", json={"text": "calm music", "user_id": "ana", "k": 3}).json()
    assert len(reply["recommendations"]) == 3 and reply["intent"]["moods"]["calm"] > 0.5
    track_id = reply["recommendations"][0]["track"]["id"]
    assert client.post(f"{base}/api/v1/feedback", json={"user_id": "ana", "track_id": track_id, "kind": "up"}).json() == {"ok": True}
    profile = client.get(f"{base}/api/v1/profile/ana").json()
    assert profile["counts"]["up"] == 1
    assert client.get(f"{base}/api/v1/tracks/{track_id}").json()["id"] == track_id
    assert client.get(f"{base}/api/v1/tracks").json()["total"] == 5
    assert client.get(f"{base}/openapi.json").status_code == 200


@pytest.mark.parametrize(("explain", "worded"), [(0, 0), (1, 1), (3, 3)])
def test_recommend_words_only_the_tracks_asked_for(settings, demo_agent, serve, client, explain, worded):
    base = serve(create_app(settings, agent=demo_agent))
    reply = client.post(f"{base}/api/v1/recommend", json={"text": "calm music", "k": 4, "explain": explain}).json()
    assert [bool(r["explanation"]["llm"]) for r in reply["recommendations"]] == [True] * worded + [False] * (4 - worded)
    assert all(r["explanation"]["template"] for r in reply["recommendations"])


def test_audio_is_served(settings, demo_agent, serve, client):
    base = serve(create_app(settings, agent=demo_agent))
    response = client.get(f"{base}/api/v1/tracks/t0/audio")
    assert response.status_code == 200 and response.content[:4] == b"fLaC"


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("post", "/api/v1/feedback", {"user_id": "u", "track_id": "nope", "kind": "up"}, 404),
    ("post", "/api/v1/feedback", {"user_id": "u", "track_id": "t1", "kind": "love"}, 422),
    ("get", "/api/v1/tracks/nope", None, 404),
    ("post", "/api/v1/recommend", {"text": "   "}, 400),
    ("post", "/api/v1/recommend", {"text": "x" * 200_000}, 413),
    ("post", "/api/v1/recommend", {"text": "x" * 20_001}, 422),
    ("post", "/v1/chat/completions", {"messages": []}, 400),
])
def test_bad_requests_get_clear_4xx_and_the_server_keeps_serving(settings, demo_agent, serve, client, method, path, body, status):
    base = serve(create_app(settings, agent=demo_agent))
    response = getattr(client, method)(f"{base}{path}", **({"json": body} if body is not None else {}))
    assert response.status_code == status
    assert client.get(f"{base}/v1/models").status_code == 200


def test_malformed_json_is_a_4xx(settings, demo_agent, serve, client):
    base = serve(create_app(settings, agent=demo_agent))
    response = client.post(f"{base}/api/v1/recommend", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize(("header", "status"), [(None, 401), ("Bearer wrong", 401), (f"Bearer {OWNER_TOKEN}", 200)])
def test_token_is_required_beyond_localhost(with_token, demo_agent, serve, client, header, status):
    base = serve(create_app(with_token, agent=demo_agent))
    response = client.get(f"{base}/api/v1/tracks", headers={"authorization": header} if header else {})
    assert response.status_code == status
    if status == 401:
        assert set(response.json()) == {"error", "message", "hint"}
        assert OWNER_TOKEN not in response.text


def test_binding_beyond_localhost_without_token_is_refused(settings):
    from dataclasses import replace

    with pytest.raises(InputError, match="MOODTUNE_API_TOKEN"):
        check_binding(replace(settings, host="0.0.0.0"))


def test_openai_compatible_chat(settings, demo_agent, serve, client):
    base = serve(create_app(settings, agent=demo_agent))
    body = {"model": "moodtune", "messages": [{"role": "user", "content": "calm music"}]}
    plain = client.post(f"{base}/v1/chat/completions", json=body).json()
    assert plain["object"] == "chat.completion" and "1." in plain["choices"][0]["message"]["content"]
    assert plain["moodtune"]["recommendations"]
    chunks = []
    with client.stream("POST", f"{base}/v1/chat/completions", json={**body, "stream": True}) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunks.append(json.loads(line[6:]))
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["moodtune"]["recommendations"]


def test_gate_is_fifo_and_bounded():
    gate = FairGate(max_waiting=2)
    order: list[int] = []
    gate.__enter__()
    threads = []
    for n in range(2):
        thread = threading.Thread(target=lambda n=n: (gate.__enter__(), order.append(n), gate.__exit__(None, None, None)))
        thread.start()
        threads.append(thread)
        time.sleep(0.1)
    with pytest.raises(BusyError):
        gate.__enter__()
    gate.__exit__(None, None, None)
    for thread in threads:
        thread.join(timeout=5)
    assert order == [0, 1]
