"""Faults on a real server: a full disk under the feedback writes, a damaged profile file."""

from __future__ import annotations

from agent.profile import ProfileStore
from api.http import create_app


def test_a_full_disk_during_feedback_is_a_clear_507_and_nothing_acknowledged_is_lost(
    settings, demo_agent, serve, client, small_tmpfs, fill_disk
):
    demo_agent.profiles = ProfileStore(small_tmpfs / "profiles.sqlite3")  # the feedback file on a 1 MB disk
    base = serve(create_app(settings, agent=demo_agent))
    thumb = {"user_id": "ana", "track_id": "t0", "kind": "up"}
    assert client.post(f"{base}/api/v1/feedback", json=thumb).status_code == 200
    filler = fill_disk(small_tmpfs)
    acknowledged, refused = 1, None
    for _ in range(3000):
        response = client.post(f"{base}/api/v1/feedback", json=thumb)
        if response.status_code != 200:
            refused = response
            break
        acknowledged += 1
    assert refused is not None and refused.status_code == 507
    assert refused.json()["error"] == "StorageError" and "free disk space" in refused.json()["hint"]
    assert client.get(f"{base}/api/v1/tracks").status_code == 200, "the server keeps serving"
    assert client.get(f"{base}/api/v1/profile/ana").json()["counts"]["up"] == acknowledged
    filler.unlink()
    assert client.post(f"{base}/api/v1/feedback", json=thumb).status_code == 200
    assert demo_agent.profiles.count() == acknowledged + 1


def test_a_damaged_profile_file_names_the_command_that_rebuilds_it(settings, demo_agent, serve, client):
    base = serve(create_app(settings, agent=demo_agent))
    assert client.post(f"{base}/api/v1/feedback", json={"user_id": "ana", "track_id": "t0", "kind": "up"}).status_code == 200
    for suffix in ("", "-wal", "-shm"):
        path = settings.profile_db.with_name(settings.profile_db.name + suffix)
        if path.exists():
            path.write_bytes(b"garbage, not SQLite " * 500)
    response = client.get(f"{base}/api/v1/profile/ana")
    assert response.status_code == 507
    assert "moodtune repair profiles" in response.json()["hint"]
    assert client.get(f"{base}/api/v1/tracks").status_code == 200, "the server keeps serving"
