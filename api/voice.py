"""Voice over HTTP: `POST /api/v1/voice` (a recording in; the transcript, the reply and its speech out).

The recording is the raw body (`Content-Type: audio/wav`, or any format PyAV reads) or the
form field `audio` of a multipart form; the rest are query parameters. Like every route it
passes the gate first (api/security.py), which lets its body be as large as an upload
(MOODTUNE_MAX_UPLOAD_MB); recordings longer than MOODTUNE_VOICE_MAX_SECONDS get 413, silence
422, what is not audio 400. The transcript's turn is an ordinary turn (in the FIFO gate of
the one LLM); the spoken reply is a WAV in the JSON (base64) and at `GET /api/v1/speech/NAME`.
"""

from __future__ import annotations

import base64
from typing import Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from agent.session import Moodtune
from api.security import identity_of
from moodtune.config import Settings
from moodtune.errors import AudioReadError, NotFoundError
from moodtune.serialize import reply_to_dict


async def _recording(request: Request) -> bytes:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("audio")
        if not isinstance(upload, UploadFile):
            raise AudioReadError("the form has no file field 'audio'", hint="send the recording as the form field 'audio'")
        data = await upload.read()
    else:
        data = await request.body()
    if not data:
        raise AudioReadError("the request has no audio", hint="send the recording as the body (Content-Type: audio/wav)")
    return data


def add_voice_routes(app: FastAPI, *, agent: Moodtune, gate, settings: Settings) -> None:
    @app.post("/api/v1/voice")
    async def voice(
        request: Request,
        user_id: str | None = Query(default=None, description="omit with a user's own token"),
        session_id: str | None = Query(default=None, max_length=64),
        k: int = Query(default=5, ge=1, le=50),
        # A voice reply speaks the top tracks' short reasons from their facts at once; the LLM's
        # wording (~2 s a track) is asked for, if wanted, with explain > 0.
        explain: int = Query(default=0, ge=0, le=10, description="top tracks worded by the LLM"),
        language: Literal["en", "zh"] | None = Query(default=None, description="omit: told from the audio"),
        speak: bool = Query(default=True, description="render the spoken reply"),
        inline_audio: bool = Query(default=True, description="include the spoken reply's WAV as base64"),
    ) -> dict:
        """A spoken request: its transcript, the reply (as /api/v1/recommend), and the reply spoken."""
        user = identity_of(request).user(user_id)
        recording = await _recording(request)

        def turn() -> dict:
            transcript = agent.listen(recording, language=language)
            with gate:
                reply = agent.recommend(transcript.text, user_id=user, session_id=session_id, k=k, explain_top=explain)
            speech = None
            if speak:
                text, path = agent.speak(reply)
                speech = {"text": text, "language": reply.intent.language, "url": f"/api/v1/speech/{path.name}",
                          "media_type": "audio/wav"}
                if inline_audio:
                    speech["audio_base64"] = base64.b64encode(path.read_bytes()).decode("ascii")
            return {"transcript": transcript.as_dict(), "reply": reply_to_dict(reply, with_candidates=False),
                    "speech": speech}

        return await run_in_threadpool(turn)

    @app.get("/api/v1/speech/{name}")
    def speech_file(name: str):
        """A spoken reply's WAV (its name is the digest of what it says)."""
        from tools.speech import cached_speech

        path = cached_speech(name, settings)
        if path is None:
            raise NotFoundError(f"no spoken reply {name[:40]!r}", hint="use the speech url of a /api/v1/voice reply")
        return FileResponse(path, media_type="audio/wav")
