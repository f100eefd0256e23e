"""POST /api/v1/replies/{id}/edit against a real server: the reading as chips, edited, searched again without the LLM."""

from __future__ import annotations

from api.http import create_app


def test_a_reply_lists_its_reading_and_an_edit_searches_again(settings, demo_agent, serve, client):
    demo_agent._llm.answer = {**demo_agent._llm.answer, "x": ["sad"]}
    base = serve(create_app(settings, agent=demo_agent))
    reply = client.post(f"{base}/api/v1/recommend", json={"text": "calm but not sad", "session_id": "h1", "k": 5, "explain": 0}).json()
    assert [c["id"] for c in reply["understood"]] == ["mood:calm", "not_mood:sad"]
    assert reply["message"].startswith("Calm, not sad: 5 tracks")
    calls = len(demo_agent.llm.calls)
    edited = client.post(f"{base}/api/v1/replies/{reply['reply_id']}/edit",
                         json={"session_id": "h1", "keep": ["mood:calm"], "add": ["not_genre:rock"], "k": 5})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert [c["id"] for c in body["understood"]] == ["mood:calm", "not_genre:rock"] and len(demo_agent.llm.calls) == calls
    assert body["replaces"] == reply["reply_id"] and body["intent"]["exclude_moods"] == []
    assert all(r["track"]["style"]["rock"] < 0.5 for r in body["recommendations"])
    assert client.get(f"{base}/api/v1/replies/{body['reply_id']}/playlist.xspf").status_code == 200

    bad = client.post(f"{base}/api/v1/replies/{body['reply_id']}/edit", json={"session_id": "h1", "keep": [], "add": ["mood:sleepy"]})
    assert bad.status_code == 400 and "moods" in bad.json()["message"] and "calm" in bad.json()["hint"]
    stale = client.post(f"{base}/api/v1/replies/{reply['reply_id']}/edit", json={"session_id": "h1", "keep": []})
    assert stale.status_code == 400 and "latest reply" in stale.json()["message"]
    other = client.post(f"{base}/api/v1/replies/{body['reply_id']}/edit",
                        json={"session_id": "h1", "keep": [], "user_id": "ben"})
    assert other.status_code == 403
