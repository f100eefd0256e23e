"""HTTP API for chat-bot integrations: REST under /api/v1 and an OpenAI-compatible /v1/chat/completions.

One `Moodtune` agent (one LLM) serves every request. Turns that need the LLM pass through a
FIFO gate: one at a time, in arrival order, at most `settings.max_queue` waiting; past that a
request gets 503 "busy" at once rather than an unbounded wait. Feedback and reads skip the gate.
"""

from __future__ import annotations

import collections
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from agent.session import Moodtune, validate_user_id
from moodtune.config import Settings
from moodtune.errors import BusyError, InputError, MoodtuneError
from moodtune.serialize import reply_to_dict, track_to_dict

MAX_BODY_BYTES = 64 * 1024
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


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


class RecommendBody(BaseModel):
    text: str = Field(max_length=20_000)
    user_id: str = "default"
    session_id: str | None = None
    k: int = Field(default=10, ge=1, le=50)
    # The LLM's wording costs ~2 s a track here and requests queue for the one model: a bot
    # that shows only the list asks for 0 and gets the template explanations in ~2 s.
    explain: int = Field(default=5, ge=0, le=10, description="top tracks worded by the LLM; 0: templates only")


class FeedbackBody(BaseModel):
    user_id: str = "default"
    track_id: str
    kind: Literal["up", "down", "skip", "more_like_this"]
    reply_id: str | None = None


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


def create_app(settings: Settings, *, agent: Moodtune | None = None) -> FastAPI:
    agent = agent or Moodtune(settings)
    gate = FairGate(settings.max_queue)
    app = FastAPI(title="Moodtune API", version="1", description="Local-first conversational music recommendations.")
    app.state.agent = agent

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if path.startswith(("/api/", "/v1/")):
            if settings.api_token:
                supplied = request.headers.get("authorization", "")
                if not hmac.compare_digest(supplied.encode(), f"Bearer {settings.api_token}".encode()):
                    return JSONResponse(
                        {"error": "Unauthorized", "message": "missing or wrong bearer token"}, status_code=401
                    )
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
                return JSONResponse(
                    {"error": "PayloadTooLarge", "message": f"bodies are limited to {MAX_BODY_BYTES} bytes"},
                    status_code=413,
                )
        return await call_next(request)

    @app.exception_handler(MoodtuneError)
    async def moodtune_error(request: Request, exc: MoodtuneError):
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.post("/api/v1/recommend")
    def recommend(body: RecommendBody) -> dict:
        validate_user_id(body.user_id)
        with gate:
            reply = agent.recommend(
                body.text, user_id=body.user_id, session_id=body.session_id, k=body.k, explain_top=body.explain
            )
        return reply_to_dict(reply, with_candidates=False)

    @app.post("/api/v1/feedback")
    def feedback(body: FeedbackBody) -> dict:
        validate_user_id(body.user_id)
        agent.feedback(user_id=body.user_id, track_id=body.track_id, kind=body.kind, reply_id=body.reply_id)
        return {"ok": True}

    @app.get("/api/v1/tracks")
    def tracks(limit: int = 50, offset: int = 0) -> dict:
        limit = max(1, min(limit, 500))
        found = agent.store.affect.get(limit=limit, offset=max(0, offset), include=[])["ids"]
        return {"total": agent.store.count(), "tracks": [track_to_dict(t) for t in agent.store.get(found)]}

    @app.get("/api/v1/tracks/{track_id}")
    def track(track_id: str) -> dict:
        return track_to_dict(agent.track(track_id))

    @app.get("/api/v1/tracks/{track_id}/audio")
    def audio(track_id: str):
        return FileResponse(agent.track(track_id).path)

    @app.get("/api/v1/profile/{user_id}")
    def profile(user_id: str) -> dict:
        return agent.profile(validate_user_id(user_id))

    @app.delete("/api/v1/profile/{user_id}")
    def reset_profile(user_id: str) -> dict:
        agent.reset_profile(validate_user_id(user_id))
        return {"ok": True}

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": "moodtune", "object": "model", "owned_by": "local"}]}

    @app.post("/v1/chat/completions")
    def chat(body: ChatBody):
        user_messages = [m for m in body.messages if m.role == "user" and isinstance(m.content, str)]
        if not user_messages:
            raise InputError("no user message with text content", hint="send messages=[{role: 'user', content: '...'}]")
        user_id = validate_user_id(body.user or "default")
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
    """Refuse to listen beyond this machine without a token."""
    if settings.host not in LOCAL_HOSTS and not settings.api_token:
        raise InputError(
            f"binding to {settings.host} exposes Moodtune beyond this machine",
            hint="set MOODTUNE_API_TOKEN (clients send 'Authorization: Bearer <token>') or bind to 127.0.0.1",
        )
