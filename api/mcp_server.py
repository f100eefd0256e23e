"""The tools and `recommend` as an MCP server (official `mcp` package, 2.x), for assistant apps.

Over stdio the caller is this machine's user. Over streamable HTTP (mounted at /mcp by
`moodtune serve`, or alone with `moodtune mcp --transport streamable-http`) every request
passes the same gate as the rest of the server (api/security.py), and each tool acts for the
request's identity: a user's own token acts only as that user, and only unscoped identities
(this machine without tokens, the owner's token) may name a file on the server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from agent.session import Moodtune
from api.security import LOCAL, Gate, Identity, identity_of
from moodtune.config import Settings
from moodtune.errors import InputError, MoodtuneError, PermissionDeniedError
from moodtune.serialize import reply_to_dict

MAX_TEXTS = 64
MAX_TEXT_CHARS = 20_000


@contextlib.contextmanager
def _clear_errors() -> Iterator[None]:
    """Our errors reach the assistant with their message and fix, not as "Error executing tool"."""
    try:
        yield
    except MoodtuneError as exc:
        raise ToolError(str(exc)) from exc


def _identity(ctx: Context | None) -> Identity:
    """stdio and in-process callers are this machine's user; HTTP callers are who the gate says."""
    request = None
    if ctx is not None:
        with contextlib.suppress(ValueError):
            request = ctx.request_context.request
    return LOCAL if request is None else identity_of(request)


def build_mcp_server(settings: Settings, *, agent: Moodtune | None = None) -> MCPServer:
    server = MCPServer("moodtune")
    holder: dict[str, Moodtune] = {}

    def get_agent() -> Moodtune:
        if "agent" not in holder:
            holder["agent"] = agent or Moodtune(settings)
        return holder["agent"]

    @server.tool()
    def recommend(text: str, ctx: Context, user_id: str | None = None, k: int = 10) -> dict:
        """Recommend tracks from the local catalog for a request in English or Chinese, with explanations."""
        with _clear_errors():
            user = _identity(ctx).user(user_id)
            if not 1 <= k <= 50:
                raise InputError("k is 1-50")
            if len(text) > MAX_TEXT_CHARS:
                raise InputError(f"messages are limited to {MAX_TEXT_CHARS} characters")
            return reply_to_dict(get_agent().recommend(text, user_id=user, k=k), with_candidates=False)

    @server.tool()
    def classify_emotion(texts: list[str]) -> list[dict[str, float]]:
        """Mood distribution (happy, sad, calm, energetic, romantic, nostalgic, angry, tense) of English or Chinese texts."""
        from tools.langchain_tools import emotion_tool

        with _clear_errors():
            if len(texts) > MAX_TEXTS or any(len(t) > MAX_TEXT_CHARS for t in texts):
                raise InputError(f"at most {MAX_TEXTS} texts of {MAX_TEXT_CHARS} characters each")
            return emotion_tool.invoke({"texts": texts})

    @server.tool()
    def classify_style(audio_path: str, ctx: Context) -> dict:
        """Genre distribution and audio mood of a local audio file."""
        from tools.langchain_tools import style_tool

        with _clear_errors():
            if not _identity(ctx).may_read_server_files:
                raise PermissionDeniedError(
                    "classify_style reads a file on the server, which a user's own token may not name",
                    hint="use the owner's token, or call it over stdio on that machine",
                )
            path = Path(audio_path).expanduser()
            if not path.is_file():
                raise InputError(
                    f"no audio file at {audio_path!r}"[:300], hint="give the path of an mp3, flac, ogg or wav file"
                )
            if path.stat().st_size > settings.max_upload_mb * 1024 * 1024:
                raise InputError(f"the file is larger than {settings.max_upload_mb} MB", hint="use a shorter clip")
            return style_tool.invoke({"audio_path": str(path)})

    @server.tool()
    def feedback(track_id: str, kind: str, ctx: Context, user_id: str | None = None) -> dict:
        """Record thumbs up/down/skip/more_like_this for a track."""
        with _clear_errors():
            user = _identity(ctx).user(user_id)
            if len(track_id) > 200:
                raise InputError("track ids are at most 200 characters")
            get_agent().feedback(user_id=user, track_id=track_id, kind=kind)
        return {"ok": True}

    return server


def _streamable_app(server: MCPServer, settings: Settings):
    # Mounted behind the gate, which already checks credentials and (without tokens) the Host
    # header; MCP's own DNS-rebinding check stays on for loopback as well.
    return server.streamable_http_app(streamable_http_path="/mcp", host=settings.host)


def mount_mcp(app, settings: Settings, *, agent: Moodtune | None = None) -> None:
    """Serve MCP over streamable HTTP at /mcp of a FastAPI app (inside its middleware, so behind the gate)."""
    server = build_mcp_server(settings, agent=agent)
    mcp_app = _streamable_app(server, settings)
    app.router.routes.extend(mcp_app.routes)
    old_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(parent):
        async with old_lifespan(parent) as state, server.session_manager.run():
            yield state

    app.router.lifespan_context = lifespan


def mcp_http_app(settings: Settings, *, agent: Moodtune | None = None):
    """`moodtune mcp --transport streamable-http`: the MCP app alone, behind the same gate."""
    server = build_mcp_server(settings, agent=agent)
    return Gate(_streamable_app(server, settings), settings=settings)
