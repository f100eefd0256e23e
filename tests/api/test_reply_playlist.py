"""GET /api/v1/replies/{id}/playlist.m3u8 and .xspf against a real server: a player can open every entry."""

from __future__ import annotations

from api.http import create_app


def test_a_reply_as_m3u8_points_at_the_audio_routes(settings, demo_agent, serve, client):
    base = serve(create_app(settings, agent=demo_agent))
    reply = client.post(f"{base}/api/v1/recommend", json={"text": "calm music", "user_id": "ana", "k": 5, "explain": 0}).json()
    response = client.get(f"{base}/api/v1/replies/{reply['reply_id']}/playlist.m3u8")
    assert response.status_code == 200 and response.headers["content-type"].startswith("audio/mpegurl")
    lines = response.text.splitlines()
    assert lines[0] == "#EXTM3U"
    urls = [line for line in lines if line and not line.startswith("#")]
    assert urls == [f"{base}/api/v1/tracks/t0/audio"], "only t0 has an audio file; the others are noted"
    assert client.get(urls[0]).content[:4] == b"fLaC"
    assert sum(line.startswith("# not playable") for line in lines) == 4
    assert client.get(f"{base}/api/v1/replies/nope/playlist.m3u8").status_code == 404


def test_a_scoped_token_reads_only_its_own_replies(secured, demo_agent, serve, client, tokens):
    base = serve(create_app(secured, agent=demo_agent))
    reply = client.post(
        f"{base}/api/v1/recommend", json={"text": "calm music", "k": 3, "explain": 0}, headers=tokens.header(tokens.ana)
    ).json()
    path = f"{base}/api/v1/replies/{reply['reply_id']}/playlist.m3u8"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=tokens.header(tokens.ben)).status_code == 403
    assert client.get(path, headers=tokens.header(tokens.ana)).status_code == 200


def test_a_reply_as_xspf_lists_the_playable_tracks(settings, demo_agent, serve, client):
    from xml.etree import ElementTree as ET

    base = serve(create_app(settings, agent=demo_agent))
    reply = client.post(f"{base}/api/v1/recommend", json={"text": "calm music", "user_id": "ana", "k": 5, "explain": 0}).json()
    response = client.get(f"{base}/api/v1/replies/{reply['reply_id']}/playlist.xspf")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/xspf+xml")
    ns = {"x": "http://xspf.org/ns/0/"}
    locations = [e.text for e in ET.fromstring(response.content).findall("x:trackList/x:track/x:location", ns)]
    assert locations == [f"{base}/api/v1/tracks/t0/audio"]
    assert client.get(f"{base}/api/v1/replies/nope/playlist.xspf").status_code == 404
