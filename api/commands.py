"""CLI commands of the integrations: serve (UI + HTTP API + MCP), mcp, review export, user delete, repair."""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

from moodtune.cli import CommandLine
from moodtune.config import Settings


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from agent.session import Moodtune
    from api.http import check_binding
    from app import create_server_app
    from moodtune.errors import MoodtuneError

    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    check_binding(settings)
    agent = Moodtune(settings)

    def warm_up() -> None:
        start = time.perf_counter()
        try:
            agent.warm_up()
            print(f"Models and prompts loaded ({time.perf_counter() - start:.0f}s): answers are quick now", flush=True)
        except MoodtuneError as exc:  # serve anyway: each request then reports the problem and its fix
            print(f"warning: {exc}", flush=True)

    # The page is up while the models load (~15 s here, more on a busy machine): the first
    # request waits for them (the page says so), instead of the whole UI waiting.
    print("Loading the models and prompts in the background ...", flush=True)
    threading.Thread(target=warm_up, name="moodtune-warm-up", daemon=True).start()
    from api.security import Credentials

    signed = "every request needs a token; browsers sign in at /login" if Credentials(settings).required else "this machine only"
    print(
        f"Moodtune at http://{settings.host}:{settings.port}/  (API: /api/v1, OpenAI-compatible: /v1/chat/completions, "
        f"MCP: /mcp, docs: /docs; {signed})"
    )
    uvicorn.run(create_server_app(settings, agent=agent), host=settings.host, port=settings.port, log_level="warning")
    return 0


def _mcp(args: argparse.Namespace, settings: Settings) -> int:
    if args.transport == "stdio":
        from api.mcp_server import build_mcp_server

        build_mcp_server(settings).run(transport="stdio")
        return 0
    import uvicorn

    from api.http import check_binding
    from api.mcp_server import mcp_http_app

    # The same rule as `serve`: beyond localhost only with a token, and every request passes the gate.
    settings = replace(settings, host=args.host or settings.host, port=args.port or MCP_HTTP_PORT)
    check_binding(settings)
    print(f"Moodtune MCP at http://{settings.host}:{settings.port}/mcp", flush=True)
    uvicorn.run(mcp_http_app(settings), host=settings.host, port=settings.port, log_level="warning")
    return 0


MCP_HTTP_PORT = 8000


def _user_delete(args: argparse.Namespace, settings: Settings) -> int:
    from agent.profile import ProfileStore
    from agent.review import ReviewLog
    from agent.session import validate_user_id

    user_id = validate_user_id(args.user)
    # The files directly (no catalog or model needed); a running server forgets the user's
    # live conversations only through DELETE /api/v1/users/{user} or the Profile tab.
    deleted = {"feedback": ProfileStore(settings.profile_db).reset(user_id), **ReviewLog(settings).delete_user(user_id)}
    print(json.dumps({"user": user_id, "deleted": deleted}, indent=2))
    return 0


def _review_export(args: argparse.Namespace, settings: Settings) -> int:
    from agent.review import ReviewLog

    out = Path(args.out)
    summary = ReviewLog(settings).export(out / "review.jsonl", out / "verdicts.csv")
    print(json.dumps(summary, indent=2))
    return 0


def _repair(args: argparse.Namespace, settings: Settings) -> int:
    from agent import profile, review
    from moodtune.storage import REPAIRABLE, is_healthy, rebuild

    path = settings.home / REPAIRABLE[args.name]
    schema, what = {"profiles": (profile._SCHEMA, profile.WHAT), "review": (review._SCHEMA, review.WHAT)}[args.name]
    if path.exists() and is_healthy(path) and not args.force:
        print(json.dumps({"file": str(path), "healthy": True, "rebuilt": False}, indent=2))
        return 0
    print(json.dumps(rebuild(path, schema, what=what), indent=2))
    return 0


def register(cli: CommandLine) -> None:
    parser = cli.add("serve", help="start the chat UI and the HTTP API (127.0.0.1:7860 by default)", handler=_serve)
    parser.add_argument("--host", help="bind address; beyond localhost needs MOODTUNE_API_TOKEN")
    parser.add_argument("--port", type=int)
    parser = cli.add("mcp", help="serve the tools and recommend over MCP (for assistant apps)", handler=_mcp)
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    parser.add_argument("--host", help="streamable-http bind address; beyond localhost needs a token")
    parser.add_argument("--port", type=int, help=f"streamable-http port (default {MCP_HTTP_PORT})")
    parser = cli.add(
        "delete",
        group="user",
        help="delete a user's feedback, profile and logged replies (reviewers' verdicts stay, anonymised)",
        handler=_user_delete,
    )
    parser.add_argument("user", help="the user id")
    parser = cli.add(
        "repair",
        help="rebuild a damaged profiles or review file: the readable rows go into a fresh one (stop the server first)",
        handler=_repair,
    )
    parser.add_argument("name", choices=["profiles", "review"])
    parser.add_argument("--force", action="store_true", help="rebuild even if the file checks out")
    parser = cli.add(
        "export",
        group="review",
        help="write logged replies (JSONL) and verdicts (CSV) with a summary",
        handler=_review_export,
    )
    parser.add_argument("--out", default="review-export", help="output folder")
