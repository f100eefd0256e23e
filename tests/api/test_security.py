"""One gate for everything the server answers: a real uvicorn server with the real Gradio UI and
MCP mounted as in production, real HTTP requests (and a real MCP client over streamable HTTP).

The rule under test: with any token configured every request needs one, loopback included;
with none, only this machine is served (loopback address and loopback Host header).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import replace

import httpx
import pytest

from api.http import check_binding, create_app
from api.security import COOKIE, LOCAL, Credentials, Gate, is_loopback, is_loopback_host
from app import create_server_app
from moodtune.config import Settings
from moodtune.errors import ConfigError, InputError


def gradio_call(client: httpx.Client, base: str, name: str, data: list, headers: dict | None = None) -> tuple[str, str]:
    """Call a UI event through Gradio's own API: ("complete" | "error" | HTTP status, payload text)."""
    started = client.post(f"{base}/gradio_api/call/{name}", json={"data": data}, headers=headers or {})
    if started.status_code != 200:
        return str(started.status_code), started.text
    result = client.get(f"{base}/gradio_api/call/{name}/{started.json()['event_id']}", headers=headers or {})
    events = [
        line[7:] for line in result.text.splitlines() if line.startswith("event: ") and line != "event: heartbeat"
    ]
    event = events[-1]  # a streamed handler sends "generating" events before "complete"
    payload = next(line[6:] for line in reversed(result.text.splitlines()) if line.startswith("data: "))
    return event, payload


MCP_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
}


def test_every_face_needs_the_token_and_works_with_it(secured, demo_agent, serve, client, tokens):
    base = serve(create_server_app(secured, agent=demo_agent))
    owner, reviewer = tokens.header(tokens.owner), tokens.header(tokens.reviewer)
    reply = client.post(
        f"{base}/api/v1/recommend", json={"text": "calm music", "k": 2, "explain": 0}, headers=owner
    ).json()
    mcp_headers = {"accept": "application/json, text/event-stream"}
    faces = [
        ("GET", "/", None, owner, {}),
        ("GET", "/gradio_api/info", None, owner, {}),
        ("POST", "/gradio_api/call/list_sessions", {"data": ["en"]}, reviewer, {}),
        ("POST", "/gradio_api/call/show_reply", {"data": [reply["reply_id"], "en"]}, reviewer, {}),
        ("POST", "/gradio_api/call/on_reset", {"data": []}, owner, {}),
        ("GET", "/docs", None, owner, {}),
        ("GET", "/openapi.json", None, owner, {}),
        ("GET", "/api/v1/tracks", None, owner, {}),
        ("GET", "/api/v1/tracks/t0/audio", None, owner, {}),
        ("GET", "/api/v1/profile/default", None, owner, {}),
        ("GET", "/v1/models", None, owner, {}),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "calm music"}]}, owner, {}),
        ("POST", "/mcp", MCP_INITIALIZE, owner, mcp_headers),
    ]
    for method, path, body, good, extra in faces:
        kwargs = {"json": body} if body is not None else {}
        for bad in ({}, {"authorization": "Bearer wrong-token-wrong-token"}, {"authorization": tokens.owner}):
            refused = client.request(method, f"{base}{path}", headers={**extra, **bad}, **kwargs)
            assert refused.status_code == 401, (path, bad, refused.status_code)
            assert tokens.owner not in refused.text
        allowed = client.request(method, f"{base}{path}", headers={**extra, **good}, **kwargs)
        assert allowed.status_code == 200, (path, allowed.status_code, allowed.text[:200])
    # Gradio's calls answer through a second request, which needs the credential too.
    event, payload = gradio_call(client, base, "list_sessions", ["en"], reviewer)
    assert event == "complete" and reply["session_id"] in payload
    assert gradio_call(client, base, "list_sessions", ["en"])[0] == "401"


def test_a_browser_signs_in_and_gets_a_signed_http_only_cookie(secured, demo_agent, serve, tokens):
    base = serve(create_server_app(secured, agent=demo_agent))
    page = {"accept": "text/html"}
    with httpx.Client(timeout=60, follow_redirects=False) as browser:
        first = browser.get(f"{base}/", headers=page)
        assert first.status_code == 303 and first.headers["location"] == "/login?next=%2F"
        form = browser.get(f"{base}/login?next=%2F", headers=page)
        assert form.status_code == 200 and 'name="token"' in form.text and form.headers["cache-control"] == "no-store"
        wrong = browser.post(f"{base}/login", data={"token": "not-the-token-at-all", "next": "/"})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
        signed = browser.post(f"{base}/login", data={"token": tokens.ana, "next": "//evil.example/"})
        assert signed.status_code == 303 and signed.headers["location"] == "/", "no open redirect"
        set_cookie = signed.headers["set-cookie"]
        assert set_cookie.startswith(f"{COOKIE}=") and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
        value = set_cookie.split(";")[0].split("=", 1)[1]
        assert tokens.ana not in value
        cookie = {"cookie": f"{COOKIE}={value}"}
        assert browser.get(f"{base}/", headers={**page, **cookie}).status_code == 200
        assert browser.get(f"{base}/gradio_api/info", headers=cookie).status_code == 200
        event, payload = gradio_call(browser, base, "on_load", [{"session_id": ""}], cookie)
        assert event == "complete" and "Signed in as **ana**" in payload
        assert '"visible": false' in payload, "the Review tab stays hidden from a user"
        tampered = value[:-1] + ("0" if value[-1] != "0" else "1")
        assert browser.get(f"{base}/api/v1/tracks", headers={"cookie": f"{COOKIE}={tampered}"}).status_code == 401
        out = browser.get(f"{base}/logout", headers=cookie)
        assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    # A cookie is signed with a key derived from its token: a new token signs the browser out.
    rotated = Credentials(replace(secured, api_tokens=f"{tokens.ana}-rotated:ana,{tokens.ben}:ben"))
    assert Credentials(secured).from_cookie(value, max_age_s=3600) is not None
    assert rotated.from_cookie(value, max_age_s=3600) is None
    assert Credentials(secured).from_cookie(value, max_age_s=3600, now=10**10) is None, "it expires"


def test_users_are_kept_apart_across_rest_openai_and_the_ui(secured, demo_agent, serve, client, tokens):
    base = serve(create_server_app(secured, agent=demo_agent))
    ana, ben = tokens.header(tokens.ana), tokens.header(tokens.ben)
    mine = client.post(
        f"{base}/api/v1/recommend", json={"text": "calm music for ana", "k": 2, "explain": 0}, headers=ana
    )
    assert mine.status_code == 200 and mine.json()["user_id"] == "ana"
    session, reply_id = mine.json()["session_id"], mine.json()["reply_id"]
    track = mine.json()["recommendations"][0]["track"]["id"]
    assert (
        client.post(f"{base}/api/v1/feedback", json={"track_id": track, "kind": "up"}, headers=ana).status_code == 200
    )

    # Ben, with his own token, can neither name Ana nor reach her conversation.
    refused = [
        client.post(f"{base}/api/v1/recommend", json={"text": "hi", "session_id": session, "explain": 0}, headers=ben),
        client.post(f"{base}/api/v1/recommend", json={"text": "hi", "user_id": "ana", "explain": 0}, headers=ben),
        client.post(f"{base}/api/v1/feedback", json={"user_id": "ana", "track_id": track, "kind": "down"}, headers=ben),
        client.get(f"{base}/api/v1/profile/ana", headers=ben),
        client.delete(f"{base}/api/v1/profile/ana", headers=ben),
        client.delete(f"{base}/api/v1/users/ana", headers=ben),
        client.post(
            f"{base}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}], "user": "ana"},
            headers=ben,
        ),
        client.get(f"{base}/api/v1/review/export", headers=ben),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]

    # Through the UI's own API, a browser state naming Ana's conversation gets Ben a new one.
    event, payload = gradio_call(client, base, "on_load", [{"session_id": session}], ben)
    assert event == "complete" and "calm music for ana" not in payload and session not in payload
    event, payload = gradio_call(
        client, base, "on_send", ["calm music for ben", None, {"session_id": session}, []], ben
    )
    assert event == "complete" and "calm music for ana" not in payload
    assert demo_agent.session_owner(session) == "ana" and len(demo_agent.history(session)) == 1
    for name, data in (("list_sessions", ["en"]), ("show_reply", [reply_id, "en"]), ("list_replies", [session, "en"])):
        event, payload = gradio_call(client, base, name, data, ben)
        assert event == "error" and "calm music for ana" not in payload, name
    assert "reviewer's credential" in gradio_call(client, base, "list_sessions", ["en"], ben)[1]
    refused = json.loads(gradio_call(client, base, "list_sessions", ["zh"], ben)[1])["error"]
    assert "审阅者的凭据" in refused, "the refusal in the page's language"
    assert gradio_call(client, base, "on_reset", ["en"], ben)[0] == "complete"
    assert demo_agent.profile("ana")["counts"]["up"] == 1, "Ben's reset is Ben's"

    # The reviewer sees every conversation; the owner's token may name any user (a chat bot).
    event, payload = gradio_call(client, base, "list_sessions", ["en"], tokens.header(tokens.reviewer))
    assert event == "complete" and session in payload
    export = client.get(f"{base}/api/v1/review/export", headers=tokens.header(tokens.reviewer)).json()
    assert {r["user_id"] for r in export["replies"]} == {"ana", "ben"}
    assert client.get(f"{base}/api/v1/profile/ana", headers=tokens.header(tokens.owner)).json()["counts"]["up"] == 1


def test_deleting_a_user_over_http_and_from_the_profile_tab(secured, demo_agent, serve, client, tokens):
    base = serve(create_server_app(secured, agent=demo_agent))
    ana, ben = tokens.header(tokens.ana), tokens.header(tokens.ben)
    for who in (ana, ben):
        reply = client.post(
            f"{base}/api/v1/recommend", json={"text": "calm music", "k": 2, "explain": 0}, headers=who
        ).json()
        client.post(
            f"{base}/api/v1/feedback", json={"track_id": "t0", "kind": "up", "reply_id": reply["reply_id"]}, headers=who
        )
        demo_agent.review.record_verdict(reply["reply_id"], fits=True, note="quoting: calm music", reviewer="reviewer")
    deleted = client.delete(f"{base}/api/v1/users/ana", headers=ana)
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] == {"feedback": 1, "replies": 1, "verdicts_anonymised": 1, "conversations": 1}
    assert demo_agent.profiles.rows("ana") == [] and demo_agent.profiles.rows("ben")
    assert [v["note"] for v in demo_agent.review.verdicts()] == ["", "quoting: calm music"]
    assert {s["user_id"] for s in demo_agent.review.sessions()} == {"ben"}

    # The Profile tab asks for a tick first, then deletes the signed-in user's data only.
    event, payload = gradio_call(client, base, "on_delete", [False, "en"], ben)
    assert event == "complete" and "Tick the box" in payload and demo_agent.profiles.rows("ben")
    event, payload = gradio_call(client, base, "on_delete", [True, "en"], ben)
    assert event == "complete" and "Deleted 1 feedback rows, 1 logged replies" in payload
    assert demo_agent.profiles.count() == 0 and demo_agent.review.sessions() == []


def test_the_cli_deletes_a_users_stored_data(settings, track_factory, capsys):
    from agent.profile import ProfileStore
    from agent.review import ReviewLog
    from moodtune.cli import main

    ProfileStore(settings.profile_db).record(
        user_id="ana", track=track_factory("t", mood="calm", genre="jazz"), kind="up"
    )
    assert main(["--home", str(settings.home), "user", "delete", "ana"]) == 0
    assert json.loads(capsys.readouterr().out)["deleted"] == {"feedback": 1, "replies": 0, "verdicts_anonymised": 0}
    assert ProfileStore(settings.profile_db).count() == 0 and ReviewLog(settings).sessions() == []


def test_without_tokens_only_this_machine_is_served(settings, demo_agent, serve, client):
    base = serve(create_server_app(settings, agent=demo_agent))
    assert client.get(f"{base}/api/v1/tracks").status_code == 200
    event, _ = gradio_call(client, base, "list_sessions", ["en"])
    assert event == "complete", "this machine's user may review"
    # uvicorn takes the client address from X-Forwarded-For when the peer is 127.0.0.1 (a local
    # proxy): a request a local proxy forwards from the LAN is no local request.
    lan = client.get(f"{base}/api/v1/tracks", headers={"x-forwarded-for": "192.168.1.20"})
    assert lan.status_code == 403 and "MOODTUNE_API_TOKEN" in lan.json()["hint"]
    # A web page that rebinds its own name to 127.0.0.1 sends its own Host: refused.
    assert client.get(f"{base}/api/v1/tracks", headers={"host": "evil.example:7860"}).status_code == 403
    assert client.get(f"{base}/login", follow_redirects=False).headers["location"] == "/"


def http_scope(client: str, host: str, headers: dict | None = None) -> dict:
    raw = [(b"host", host.encode())] + [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    return {"type": "http", "path": "/api/v1/tracks", "method": "GET", "headers": raw, "client": (client, 50000)}


@pytest.mark.parametrize(
    ("client_address", "host", "status"),
    [
        ("127.0.0.1", "127.0.0.1:7860", None),
        ("::1", "[::1]:7860", None),
        ("::ffff:127.0.0.1", "localhost:7860", None),
        ("127.0.0.5", "localhost", None),
        ("192.168.1.20", "192.168.1.10:7860", 403),
        ("10.0.0.2", "127.0.0.1:7860", 403),
        ("2001:db8::1", "[::1]:7860", 403),
        ("127.0.0.1", "evil.example", 403),
        ("127.0.0.1", "", 403),
    ],
)
def test_the_decision_without_tokens(settings, client_address, host, status):
    identity, denial = Gate(None, settings=settings).identify(http_scope(client_address, host))
    assert (identity, denial) == (LOCAL, None) if status is None else (identity is None and denial.status == status)


@pytest.mark.parametrize("client_address", ["127.0.0.1", "::1", "192.168.1.20"])
def test_with_a_token_loopback_is_not_trusted(with_token, tokens, client_address):
    gate = Gate(None, settings=with_token)
    identity, denial = gate.identify(http_scope(client_address, "127.0.0.1:7860"))
    assert identity is None and denial.status == 401
    identity, _ = gate.identify(http_scope(client_address, "moodtune.lan", tokens.header(tokens.owner)))
    assert identity.name == "owner" and identity.user_id is None and not identity.reviewer


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("192.168.1.20", False),
        ("0.0.0.0", False),
        ("::", False),
        ("example.com", False),
        ("", False),
        (None, False),
    ],
)
def test_is_loopback(address, loopback):
    assert is_loopback(address) is loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:7860", True),
        ("localhost", True),
        ("[::1]:7860", True),
        ("app.localhost:80", True),
        ("evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("192.168.1.10:7860", False),
    ],
)
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback


def test_binding_and_tokens_are_checked_when_the_server_starts(settings, tokens):
    with pytest.raises(InputError, match="MOODTUNE_API_TOKEN"):
        check_binding(replace(settings, host="0.0.0.0"))
    check_binding(replace(settings, host="0.0.0.0", api_tokens=f"{tokens.ana}:ana"))  # a user's token is a token
    with pytest.raises(ConfigError, match="shorter than 16") as short:
        create_app(replace(settings, api_token="s3cret"))
    assert "s3cret" not in str(short.value)
    with pytest.raises(ConfigError, match="not 'token:user_id'") as malformed:
        Credentials(replace(settings, api_tokens=f"{tokens.ana}:ana,{tokens.ben}"))
    assert tokens.ben not in str(malformed.value)
    with pytest.raises(ConfigError, match="another role"):
        Credentials(replace(settings, api_token=tokens.ana, api_tokens=f"{tokens.ana}:ana"))


def test_tokens_come_from_the_environment_and_stay_out_of_repr(monkeypatch, tmp_path, tokens):
    monkeypatch.setenv("MOODTUNE_API_TOKENS", f"{tokens.ana}:ana, {tokens.ben}:ben")
    monkeypatch.setenv("MOODTUNE_REVIEWER_TOKEN", tokens.reviewer)
    loaded = Settings.load(home=tmp_path)
    assert loaded.scoped_tokens == {tokens.ana: "ana", tokens.ben: "ben"}
    assert tokens.ana not in repr(loaded) and tokens.reviewer not in repr(loaded)


def test_no_secret_reaches_the_logs(secured, demo_agent, serve, client, tokens, caplog):
    caplog.set_level(logging.DEBUG)
    base = serve(create_server_app(secured, agent=demo_agent))
    client.get(f"{base}/api/v1/tracks", headers=tokens.header(tokens.owner))
    client.get(f"{base}/api/v1/tracks", headers={"authorization": f"Bearer {tokens.ana}x"})
    client.post(f"{base}/login", data={"token": tokens.ben})
    client.post(f"{base}/login", data={"token": tokens.reviewer + "x"})
    client.post(f"{base}/api/v1/recommend", json={"text": "calm", "explain": 0}, headers=tokens.header(tokens.ana))
    logged = caplog.text
    assert all(secret not in logged for secret in (tokens.owner, tokens.ana, tokens.ben, tokens.reviewer))


def test_mcp_over_http_needs_the_token_and_acts_as_its_user(secured, demo_agent, serve, tokens):
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    from api.mcp_server import mcp_http_app

    mounted = serve(create_server_app(secured, agent=demo_agent)) + "/mcp"
    alone = serve(mcp_http_app(secured, agent=demo_agent)) + "/mcp"

    async def session(url: str, token: str | None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
        async with Client(transport) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            mine = await client.call_tool("recommend", {"text": "calm music", "k": 2})
            other = await client.call_tool("recommend", {"text": "calm music", "k": 2, "user_id": "ben"})
            # A traversal that reaches a real file from wherever the suite runs (CI's clone is deeper).
            style = await client.call_tool("classify_style", {"audio_path": os.path.relpath("/etc/passwd")})
            return tools, mine, other, style

    for url in (mounted, alone):
        with httpx.Client(timeout=30) as http:
            assert (
                http.post(
                    url, json=MCP_INITIALIZE, headers={"accept": "application/json, text/event-stream"}
                ).status_code
                == 401
            )
        tools, mine, other, style = asyncio.run(session(url, tokens.ana))
        assert {"recommend", "feedback", "classify_emotion", "classify_style"} <= tools
        assert json.loads(mine.content[0].text)["user_id"] == "ana"
        assert other.is_error and "its own user" in other.content[0].text
        assert style.is_error and "own token may not name" in style.content[0].text
        _, mine, other, style = asyncio.run(session(url, tokens.owner))
        assert json.loads(mine.content[0].text)["user_id"] == "default"
        assert json.loads(other.content[0].text)["user_id"] == "ben", "the owner's token serves many users"
        assert style.is_error and "not a supported audio format" in style.content[0].text
