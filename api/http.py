"""HTTP API for chat-bot integrations: REST under /api/v1 and an OpenAI-compatible /v1/chat/completions.

Every request passes `api.security.Gate` first (credentials, body size); each route takes the
user it acts for from the request's identity (`Identity.user`), never from the body alone.
One `Moodtune` agent (one LLM) serves every request. Turns that need the LLM pass through a
FIFO gate: one at a time, in arrival order, at most `settings.max_queue` waiting; past that a
request gets 503 "busy" at once rather than an unbounded wait. Feedback and reads skip the gate.
"""

from __future__ import annotations

import collections
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from agent.session import Moodtune
from api.security import Credentials, Gate, identity_of, is_loopback_host
from moodtune.config import Settings
from moodtune.errors import BusyError, InputError, MoodtuneError, NotFoundError
from moodtune.serialize import reply_to_dict, track_to_dict

MAX_TRACK_ID_CHARS = 200
HTTP_ERRORS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}


class FairGate:
    """One holder at a time, first come first served, bounded waiting line."""

    def __init__(self, max_waiting: int) -> None:
        self.max_waiting = max_waiting
        self._condition = threading.Condition()
        self._line: collections.deque[int] = collections.deque()
        self._busy = False
        self._tickets = 0

    def __enter__(self) -> FairGate:
        with self._condition:
            if len(self._line) >= self.max_waiting:
                raise BusyError(
                    f"{len(self._line)} requests are already waiting for the model", hint="retry in a few seconds"
                )
            self._tickets += 1
            ticket = self._tickets
            self._line.append(ticket)
            while self._busy or self._line[0] != ticket:
                self._condition.wait()
            self._line.popleft()
            self._busy = True
        return self

    def __exit__(self, *exc_info) -> None:
        with self._condition:
            self._busy = False
            self._condition.notify_all()


class EditBody(BaseModel):
    """A reply's reading edited: the chips kept and added (ids from the reply's "understood")."""

    model_config = ConfigDict(extra="forbid")

    session_id: str = Field(max_length=64)
    keep: list[str] = Field(max_length=40, description='chip ids kept, e.g. ["mood:calm", "not_genre:jazz"]')
    add: list[str] = Field(default=[], max_length=10, description='chip ids added, e.g. ["not_mood:sad", "tempo:slow"]')
    user_id: str | None = Field(default=None, description="omit with a user's own token; default: 'default'")
    k: int = Field(default=10, ge=1, le=50)


def reply_json(reply) -> dict:
    """A reply for the API, with its reading as chips ("understood": id, kind, value, label)."""
    from agent.understood import chips

    data = reply_to_dict(reply, with_candidates=False)
    data["understood"] = [{"id": c.id, "kind": c.kind, "value": c.value, "label": c.label} for c in chips(reply.intent)]
    return data


class RecommendBody(BaseModel):
    # REST bodies name only known fields: a misspelt one is a 422, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=20_000)
    user_id: str | None = Field(default=None, description="omit with a user's own token; default: 'default'")
    session_id: str | None = Field(default=None, max_length=64)
    k: int = Field(default=10, ge=1, le=50)
    # The LLM's wording costs ~2 s a track here and requests queue for the one model: a bot
    # that shows only the list asks for 0 and gets the template explanations in ~2 s.
    explain: int = Field(default=5, ge=0, le=10, description="top tracks worded by the LLM; 0: templates only")


class FeedbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: str | None = None
    track_id: str = Field(max_length=MAX_TRACK_ID_CHARS)
    kind: Literal["up", "down", "skip", "more_like_this"]
    reply_id: str | None = Field(default=None, max_length=64)


# OpenAI clients send many fields Moodtune does not use (temperature, top_p, ...): ignored here.
class ChatMessage(BaseModel):
    role: str
    content: str | list | None = None


class ChatBody(BaseModel):
    model: str = "moodtune"
    messages: list[ChatMessage]
    stream: bool = False
    user: str | None = None


def reply_text(reply) -> str:
    lines = [reply.message]
    for rec in reply.recommendations:
        synthetic = " (synthetic demo)" if rec.track.source.startswith("demo") else ""
        lines.append(
            f"{rec.rank}. {rec.track.title} — {rec.track.artist}{synthetic}: {rec.explanation.llm or rec.explanation.template}"
        )
    return "\n".join(lines)


def track_path(agent: Moodtune, track_id: str) -> Path:
    """The audio file of a catalog track; NotFoundError when the id or the file is not there."""
    path = Path(agent.track(checked_track_id(track_id)).path)
    if not path.is_file():
        raise NotFoundError(f"the audio file of track {track_id!r} is missing", hint="re-run `moodtune ingest` on its folder")
    return path


def checked_track_id(track_id: str) -> str:
    if not track_id or len(track_id) > MAX_TRACK_ID_CHARS or not track_id.isprintable():
        raise InputError(f"track ids are 1-{MAX_TRACK_ID_CHARS} printable characters", hint="use an id from /api/v1/tracks")
    return track_id


def _validation_message(exc: RequestValidationError) -> str:
    # FastAPI's own 422 echoes every bad input back, a 20,000-character text included.
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(problems)


def create_app(settings: Settings, *, agent: Moodtune | None = None) -> FastAPI:
    Credentials(settings)  # a malformed or short token is a ConfigError now, not at the first request
    agent = agent or Moodtune(settings)
    gate = FairGate(settings.max_queue)
    app = FastAPI(title="Moodtune API", version="1", description="Local-first conversational music recommendations.")
    app.state.agent = agent
    # One gate in front of the whole app: routes, docs, and whatever is mounted later (the UI, MCP).
    app.add_middleware(Gate, settings=settings)

    @app.exception_handler(MoodtuneError)
    async def moodtune_error(request: Request, exc: MoodtuneError):
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        # FastAPI's own errors in the same shape as ours; its "error parsing the body" is a body
        # that is not JSON, not UTF-8, or nested past what the parser takes.
        message = str(exc.detail)
        hint = "send a UTF-8 JSON object; see /docs" if "parsing the body" in message else ""
        if "parsing the body" in message:
            message = "the body could not be read as JSON"
        return JSONResponse(
            {"error": HTTP_ERRORS.get(exc.status_code, "HTTPError"), "message": message, "hint": hint},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return JSONResponse(
            {"error": "InvalidRequest", "message": _validation_message(exc), "hint": "see /docs for the request bodies"},
            status_code=422,
        )

    @app.post("/api/v1/recommend")
    def recommend(body: RecommendBody, request: Request) -> dict:
        user_id = identity_of(request).user(body.user_id)
        with gate:
            reply = agent.recommend(
                body.text, user_id=user_id, session_id=body.session_id, k=body.k, explain_top=body.explain
            )
        return reply_json(reply)

    @app.post("/api/v1/replies/{reply_id}/edit")
    def edit_reply(reply_id: str, body: EditBody, request: Request) -> dict:
        """The latest reply of a conversation searched again with its reading edited; no LLM call."""
        user_id = identity_of(request).user(body.user_id)
        if any(len(chip) > 200 for chip in [*body.keep, *body.add]):
            raise InputError("a chip id is at most 200 characters")
        reply = agent.edited(
            reply_id[:64], keep=body.keep, add=body.add, user_id=user_id, session_id=body.session_id, k=body.k
        )
        return reply_json(reply)

    @app.post("/api/v1/feedback")
    def feedback(body: FeedbackBody, request: Request) -> dict:
        user_id = identity_of(request).user(body.user_id)
        agent.feedback(user_id=user_id, track_id=checked_track_id(body.track_id), kind=body.kind, reply_id=body.reply_id)
        return {"ok": True}

    @app.get("/api/v1/tracks")
    def tracks(limit: int = 50, offset: int = 0) -> dict:
        limit = max(1, min(limit, 500))
        found = agent.store.affect.get(limit=limit, offset=max(0, offset), include=[])["ids"]
        return {"total": agent.store.count(), "tracks": [track_to_dict(t) for t in agent.store.get(found)]}

    @app.get("/api/v1/tracks/{track_id}")
    def track(track_id: str) -> dict:
        return track_to_dict(agent.track(checked_track_id(track_id)))

    @app.get("/api/v1/tracks/{track_id}/audio")
    def audio(track_id: str):
        return FileResponse(track_path(agent, track_id))

    @app.get("/api/v1/replies/{reply_id}/playlist.m3u8")
    def reply_playlist(reply_id: str, request: Request):
        """A logged reply as m3u8, each track as its audio URL here (catalog/playlists.py)."""
        from catalog.playlists import http_m3u8

        reply = agent.review.reply(reply_id)
        identity_of(request).user(reply.user_id)  # a token scoped to another user may not read it
        return Response(http_m3u8(reply, base_url=str(request.base_url)), media_type="audio/mpegurl")

    @app.get("/api/v1/replies/{reply_id}/playlist.xspf")
    def reply_playlist_xspf(reply_id: str, request: Request):
        """A logged reply as XSPF, each track as its audio URL here (catalog/playlists.py)."""
        from catalog.playlists import http_xspf

        reply = agent.review.reply(reply_id)
        identity_of(request).user(reply.user_id)
        return Response(http_xspf(reply, base_url=str(request.base_url)), media_type="application/xspf+xml")

    @app.get("/api/v1/profile/{user_id}")
    def profile(user_id: str, request: Request) -> dict:
        return agent.profile(identity_of(request).user(user_id))

    @app.delete("/api/v1/profile/{user_id}")
    def reset_profile(user_id: str, request: Request) -> dict:
        agent.reset_profile(identity_of(request).user(user_id))
        return {"ok": True}

    @app.delete("/api/v1/users/{user_id}")
    def delete_user(user_id: str, request: Request) -> dict:
        """Everything stored about the user: feedback, profile, logged replies and live conversations."""
        return {"ok": True, "deleted": agent.delete_user(identity_of(request).user(user_id))}

    @app.get("/api/v1/review/export")
    def review_export(request: Request) -> dict:
        """Every logged reply and every verdict (the reviewer's credential, or this machine without tokens)."""
        identity_of(request).require_reviewer()
        return agent.review.export_dict()

    from api.voice import add_voice_routes

    add_voice_routes(app, agent=agent, gate=gate, settings=settings)

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": "moodtune", "object": "model", "owned_by": "local"}]}

    @app.post("/v1/chat/completions")
    def chat(body: ChatBody, request: Request):
        user_messages = [m for m in body.messages if m.role == "user" and isinstance(m.content, str)]
        if not user_messages:
            raise InputError("no user message with text content", hint="send messages=[{role: 'user', content: '...'}]")
        user_id = identity_of(request).user(body.user)
        # The conversation's first message identifies it, so follow-ups refine the same session.
        session_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{user_id}:{user_messages[0].content}").hex[:16]
        text = user_messages[-1].content
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:20]}"
        created = int(time.time())
        if not body.stream:
            with gate:
                reply = agent.recommend(text, user_id=user_id, session_id=session_id)
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": "moodtune",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply_text(reply)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                "moodtune": reply_to_dict(reply, with_candidates=False),
            }

        def chunk(delta: dict, *, finish: str | None = None, extra: dict | None = None) -> str:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": "moodtune",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **(extra or {}),
            }
            return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

        def events() -> Iterator[str]:
            try:
                with gate:
                    for event in agent.stream(text, user_id=user_id, session_id=session_id):
                        if event.kind == "reply":
                            yield chunk({"role": "assistant", "content": reply_text(event.reply) + "\n"})
                        elif event.kind == "explanation_done":
                            yield chunk({"content": f"\n{event.index + 1}. {event.text}"})
                        elif event.kind == "done":
                            yield chunk(
                                {}, finish="stop", extra={"moodtune": reply_to_dict(event.reply, with_candidates=False)}
                            )
            except MoodtuneError as exc:
                yield chunk({"content": f"\n{exc}"}, finish="stop", extra={"error": exc.to_dict()})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


def check_binding(settings: Settings) -> None:
    """Refuse to listen beyond this machine without a credential."""
    if not is_loopback_host(settings.host) and not Credentials(settings).required:
        raise InputError(
            f"binding to {settings.host} exposes Moodtune beyond this machine",
            hint="set MOODTUNE_API_TOKEN (clients send 'Authorization: Bearer <token>') or bind to 127.0.0.1",
        )
