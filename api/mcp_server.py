"""The tools and `recommend` as an MCP server (official `mcp` package, 2.x), for assistant apps."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from agent.session import Moodtune
from moodtune.config import Settings
from moodtune.errors import MoodtuneError
from moodtune.serialize import reply_to_dict


@contextlib.contextmanager
def _clear_errors() -> Iterator[None]:
    """Our errors reach the assistant with their message and fix, not as "Error executing tool"."""
    try:
        yield
    except MoodtuneError as exc:
        raise ToolError(str(exc)) from exc


def build_mcp_server(settings: Settings, *, agent: Moodtune | None = None) -> MCPServer:
    server = MCPServer("moodtune")
    holder: dict[str, Moodtune] = {}

    def get_agent() -> Moodtune:
        if "agent" not in holder:
            holder["agent"] = agent or Moodtune(settings)
        return holder["agent"]

    @server.tool()
    def recommend(text: str, user_id: str = "default", k: int = 10) -> dict:
        """Recommend tracks from the local catalog for a request in English or Chinese, with explanations."""
        with _clear_errors():
            return reply_to_dict(get_agent().recommend(text, user_id=user_id, k=k), with_candidates=False)

    @server.tool()
    def classify_emotion(texts: list[str]) -> list[dict[str, float]]:
        """Mood distribution (happy, sad, calm, energetic, romantic, nostalgic, angry, tense) of English texts."""
        from tools.langchain_tools import emotion_tool

        with _clear_errors():
            return emotion_tool.invoke({"texts": texts})

    @server.tool()
    def classify_style(audio_path: str) -> dict:
        """Genre distribution and audio mood of a local audio file."""
        from tools.langchain_tools import style_tool

        with _clear_errors():
            return style_tool.invoke({"audio_path": audio_path})

    @server.tool()
    def feedback(track_id: str, kind: str, user_id: str = "default") -> dict:
        """Record thumbs up/down/skip/more_like_this for a track."""
        with _clear_errors():
            get_agent().feedback(user_id=user_id, track_id=track_id, kind=kind)
        return {"ok": True}

    return server
