"""Bad input on every face (REST, OpenAI-compatible, Gradio's API and uploads, MCP, CLI): each gets
a clear 4xx or error message, and the server keeps serving. A real uvicorn server with the
real Gradio UI and MCP mounted as in production; the fake LLM only (nothing here is about the model).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket

import httpx
import pytest

from app import create_server_app

JSON = {"content-type": "application/json"}


@pytest.fixture
def base(settings, demo_agent, serve):
    return serve(create_server_app(settings, agent=demo_agent))


def still_serving(client: httpx.Client, base: str) -> bool:
    return client.get(f"{base}/v1/models").status_code == 200


def short_and_clear(response: httpx.Response) -> bool:
    """Our error shape, and no echo of a huge input."""
    body = response.json()
    return {"error", "message"} <= set(body) and len(response.content) < 2000


REST_BODIES = [
    ({"text": ""}, 400, "empty"),
    ({"text": " \n\t  "}, 400, "empty"),
    ({"text": "x" * 20_001}, 422, "20000"),
    ({"text": "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b" * 20}, 400, "binary"),
    ({"text": "\ufffd" * 50}, 400, "binary"),
    ({"text": "calm", "colour": "blue"}, 422, "colour"),  # an unknown field is named, not ignored
    ({"text": 5}, 422, "text"),
    ({"text": ["calm"]}, 422, "text"),
    ({"text": "calm", "k": 0}, 422, "k"),
    ({"text": "calm", "k": 10**12}, 422, "k"),
    ({"text": "calm", "user_id": "../../etc/passwd"}, 400, "user ids"),
    ({"text": "calm", "session_id": "s" * 100}, 422, "session_id"),
    ([], 422, "body"),
]


def test_rest_bodies(base, client):
    for body, status, says in REST_BODIES:
        response = client.post(f"{base}/api/v1/recommend", json=body)
        assert response.status_code == status, (str(body)[:80], response.text[:300])
        assert short_and_clear(response) and says in response.text, str(body)[:80]
        assert still_serving(client, base)


def test_a_long_message_is_read_in_part_with_a_note(base, client):
    response = client.post(f"{base}/api/v1/recommend", json={"text": "calm piano " * 1818, "explain": 0, "k": 2})
    assert response.status_code == 200 and any("first 2000 characters" in note for note in response.json()["notes"])


NOT_JSON_TEXT = [
    (b'{"text": "\xff\xfe calm"}', 400),  # not UTF-8
    (os.urandom(3000), 400),  # binary
    (b'{"text": "calm \\ud800 music"}', 422),  # a lone surrogate: no Unicode text
    (b'{"text": "calm", "k": ' + b"[" * 60_000 + b"]" * 60_000 + b"}", 400),  # nested past the parser
    (b'{"text": "calm", "deep": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_000 + b"}", 400),
    (b"{not json", 422),
    (b"", 422),
]


def test_bodies_that_are_not_json_text(base, client):
    for content, status in NOT_JSON_TEXT:
        response = client.post(f"{base}/api/v1/recommend", content=content, headers=JSON)
        assert response.status_code == status, (content[:40], response.text[:300])
        assert short_and_clear(response), content[:40]
        assert still_serving(client, base)


def test_huge_and_chunked_bodies_get_413(base, client, settings):
    huge = client.post(f"{base}/api/v1/recommend", json={"text": "calm", "pad": "x" * 1_000_000})
    assert huge.status_code == 413 and "128 KB" in huge.json()["message"]

    def chunks():  # no Content-Length: the gate counts what arrives
        for _ in range(40):
            yield b"x" * 65536

    chunked = client.post(f"{base}/api/v1/recommend", content=chunks(), headers=JSON)
    assert chunked.status_code == 413
    openai = client.post(f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": "x" * 300_000}]})
    assert openai.status_code == 413
    mcp = client.post(
        f"{base}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "recommend", "arguments": {"text": "x" * 300_000}}},
        headers={"accept": "application/json, text/event-stream"},
    )
    assert mcp.status_code == 413
    assert still_serving(client, base)


PATH_LIKE = [
    ("post", "/api/v1/feedback", {"track_id": "../../etc/passwd", "kind": "up"}, 404),
    ("post", "/api/v1/feedback", {"track_id": "t0", "kind": "up", "extra": 1}, 422),
    ("post", "/api/v1/feedback", {"track_id": "x" * 201, "kind": "up"}, 422),
    ("get", "/api/v1/tracks/..%2F..%2Fetc%2Fpasswd", None, 404),
    ("get", "/api/v1/tracks/..%2F..%2Fetc%2Fpasswd/audio", None, 404),
    ("get", "/api/v1/tracks/%2e%2e/audio", None, 404),
    ("get", "/api/v1/tracks/t0%00/audio", None, 400),
    ("get", "/api/v1/tracks/" + "a" * 300, None, 400),
    ("get", "/api/v1/tracks/t1/audio", None, 404),  # in the catalog, but its file is gone
    ("get", "/api/v1/profile/..%2Fother", None, 404),
    ("get", "/api/v1/profile/" + "u" * 65, None, 400),
    ("delete", "/api/v1/users/%2e%2e", None, 400),
]


def test_path_like_and_missing_ids(base, client):
    for method, path, body, status in PATH_LIKE:
        response = getattr(client, method)(f"{base}{path}", **({"json": body} if body is not None else {}))
        assert response.status_code == status, (path, response.text[:300])
        assert b"root:" not in response.content
        assert still_serving(client, base)


OPENAI_BODIES = [
    ({"messages": [{"role": "user", "content": ""}]}, 400),
    ({"messages": [{"role": "user", "content": "   "}]}, 400),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, 400),
    ({"messages": "calm music"}, 422),
    ({"messages": [{"content": "calm"}]}, 422),
    ({"messages": [{"role": "user", "content": "\x00\x01\x02\x03\x04\x05" * 10}]}, 400),
    # OpenAI clients send fields Moodtune does not use: accepted and ignored.
    (
        {
            "messages": [{"role": "user", "content": "calm music", "name": "ana"}],
            "temperature": 0.2,
            "top_p": 1,
            "n": 1,
        },
        200,
    ),
]


def test_openai_compatible_bodies(base, client):
    for body, status in OPENAI_BODIES:
        response = client.post(f"{base}/v1/chat/completions", json=body)
        assert response.status_code == status, (str(body)[:80], response.text[:300])
        assert still_serving(client, base)


def gradio_call(client: httpx.Client, base: str, name: str, data: list) -> tuple[str, str]:
    # json.dumps escapes a lone surrogate (\\ud800), which httpx's own encoder refuses to send.
    started = client.post(f"{base}/gradio_api/call/{name}", content=json.dumps({"data": data}), headers=JSON)
    if started.status_code != 200:
        return str(started.status_code), started.text
    result = client.get(f"{base}/gradio_api/call/{name}/{started.json()['event_id']}")
    events = [
        line[7:] for line in result.text.splitlines() if line.startswith("event: ") and line != "event: heartbeat"
    ]
    return events[-1], next(line[6:] for line in reversed(result.text.splitlines()) if line.startswith("data: "))


def test_gradio_chat_reports_bad_messages(base, client):
    for text, says in [
        ("", "your message is empty"),
        ("   ", "your message is empty"),
        ("\x00\x01\x02\x03\x04\x05\x06\x07" * 10, "binary data"),
        ("\ud800 calm", "not valid UTF-8"),
        ("calm piano " * 1818, "first 2000 characters"),  # 20,000 characters: read in part, with a note
    ]:
        event, payload = gradio_call(client, base, "on_send", [text, None, {"session_id": ""}, []])
        assert event == "complete" and says in payload, (text[:20], payload[-300:])
        assert still_serving(client, base)


def test_bad_uploads_get_a_clear_message(base, client):
    for name, content, says in [
        ("notes.mp3", b"these are my notes, not audio\n" * 200, "could not be decoded"),  # not audio, named .mp3
        ("noise.mp3", os.urandom(60_000), "could not be decoded"),  # corrupt
        ("empty.wav", b"", "is empty"),
        ("clip.exe", b"MZ" + os.urandom(2000), "not a supported audio format"),
    ]:
        uploaded = client.post(f"{base}/gradio_api/upload", files={"files": (name, content, "audio/mpeg")})
        assert uploaded.status_code == 200, name
        clip = {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": name}
        event, payload = gradio_call(client, base, "on_send", ["calm music", clip, {"session_id": ""}, []])
        assert event in ("complete", "error") and says in payload, (name, payload[-400:])
        assert still_serving(client, base)


def test_a_200_mb_upload_gets_413(base, client):
    def multipart():  # streamed (chunked): the gate stops reading at the limit
        yield b'--b0\r\nContent-Disposition: form-data; name="files"; filename="big.mp3"\r\nContent-Type: audio/mpeg\r\n\r\n'
        for _ in range(200):
            yield b"\0" * (1 << 20)
        yield b"\r\n--b0--\r\n"

    streamed = client.post(
        f"{base}/gradio_api/upload", content=multipart(), headers={"content-type": "multipart/form-data; boundary=b0"}
    )
    assert streamed.status_code == 413 and "50 MB" in streamed.json()["message"]
    # Declared up front: refused before a byte of the body is read.
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as raw:
        raw.sendall(
            f"POST /gradio_api/upload HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: multipart/form-data; boundary=b0\r\n"
            f"Content-Length: {200 << 20}\r\n\r\n".encode()
        )
        assert raw.recv(200).startswith(b"HTTP/1.1 413")
    broken = client.post(
        f"{base}/gradio_api/upload", content=b"x" * 5000, headers={"content-type": "multipart/form-data; boundary=b0"}
    )
    assert broken.status_code == 400 and "multipart" in broken.json()["message"]
    assert still_serving(client, base)


def test_mcp_tools_report_bad_arguments(settings, demo_agent):
    from mcp import Client

    from api.mcp_server import build_mcp_server

    server = build_mcp_server(settings, agent=demo_agent)
    calls = [
        ("recommend", {"text": ""}, "empty"),
        ("recommend", {"text": "   "}, "empty"),
        ("recommend", {"text": "x" * 20_001}, "20000"),
        ("recommend", {"text": "calm", "k": 0}, "k is 1-50"),
        ("recommend", {"text": "\x00\x01\x02\x03\x04\x05" * 10}, "binary"),
        ("recommend", {"text": "calm", "user_id": "../../etc/passwd"}, "user ids"),
        ("feedback", {"track_id": "../../etc/passwd", "kind": "up"}, "no track"),
        ("feedback", {"track_id": "t0", "kind": "love"}, "unknown feedback"),
        ("classify_style", {"audio_path": "/nonexistent/clip.mp3"}, "no audio file"),
        ("classify_style", {"audio_path": "/etc/passwd"}, "not a supported audio format"),
        ("classify_emotion", {"texts": ["calm"] * 100}, "at most 64"),
    ]

    async def run():
        async with Client(server) as client:
            results = [await client.call_tool(name, args) for name, args, _ in calls]
            good = await client.call_tool("recommend", {"text": "calm music", "k": 2})
            return results, good

    results, good = asyncio.run(run())
    for (name, _, says), result in zip(calls, results, strict=True):
        assert result.is_error and says in result.content[0].text, (name, result.content[0].text[:200])
        assert "Traceback" not in result.content[0].text
    assert not good.is_error


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["recommend", ""], "your message is empty"),
        (["recommend", "   "], "your message is empty"),
        (["recommend", "caf\udce9 music"], "not valid UTF-8"),  # how Python hands over argv bytes that are not UTF-8
        (["recommend", "\x01\x02\x03\x04\x05\x06\x07\x08" * 5], "binary data"),
    ],
)
def test_cli_reports_bad_messages(settings, argv, says, capsys):
    from moodtune.cli import main

    assert main(["--home", str(settings.home), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and "Traceback" not in err


def test_cli_chat_survives_stdin_that_is_not_utf8(settings, monkeypatch, capsys):
    from moodtune.cli import main

    stdin = io.TextIOWrapper(io.BytesIO(b"\xff\xfe\xfa calm\n/quit\n"), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", stdin)
    assert main(["--home", str(settings.home), "chat"]) == 2
    assert "not valid UTF-8" in capsys.readouterr().err


def test_the_review_export_over_http_is_json(base, client):
    client.post(f"{base}/api/v1/recommend", json={"text": "calm music", "explain": 0, "k": 2})
    export = client.get(f"{base}/api/v1/review/export")
    assert export.status_code == 200 and export.json()["summary"]["replies"] == 1
    assert json.dumps(export.json())
