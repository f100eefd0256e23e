"""CLI commands of the agent: parse, recommend, chat."""

from __future__ import annotations

import argparse
import json
import sys

from catalog import server_commands
from moodtune.cli import CommandLine
from moodtune.config import Settings
from moodtune.errors import MoodtuneError
from moodtune.types import Reply


def _parse(args: argparse.Namespace, settings: Settings) -> int:
    from agent.parse import intent_to_json, parse_request

    print(intent_to_json(parse_request(args.text, settings=settings)))
    return 0


def print_reply(reply: Reply, *, out=None) -> None:
    out = out or sys.stdout  # looked up per call: a default bound at import misses a redirected stdout
    print(reply.message, file=out)
    for rec in reply.recommendations:
        track = rec.track
        source = " [synthetic demo rendering]" if track.source.startswith("demo") else ""
        parts = ", ".join(f"{name} {value:.2f}" for name, value in rec.scored.parts.items())
        print(
            f"{rec.rank:>2}. {track.title} - {track.artist}{source}  score {rec.scored.total:.2f} ({parts})", file=out
        )
        print(f"    {rec.explanation.llm or rec.explanation.template}", file=out)


def _recommend(args: argparse.Namespace, settings: Settings) -> int:
    from agent.session import Moodtune
    from moodtune.serialize import reply_to_dict

    reply = Moodtune(settings).recommend(args.text, user_id=args.user, k=args.k, clip_path=args.clip)
    if args.json:
        print(json.dumps(reply_to_dict(reply, with_candidates=False), ensure_ascii=False, indent=2))
    else:
        print_reply(reply)
    server_commands.deliver_reply(args, settings, reply)
    return 0


CHAT_HELP = (
    "commands: /up N, /down N, /skip N, /more N (more like track N), /voice FILE (a spoken request), /profile, "
    "/quit; anything else is a request"
)


def _voice_turn(agent, path: str, *, args: argparse.Namespace, session_id: str) -> Reply:
    """A spoken request: transcribed, answered as typed text would be, and the answer spoken to a WAV."""
    import shutil

    transcript = agent.listen(path)
    print(f"heard ({transcript.language}, {transcript.seconds:.1f} s): {transcript.text}")
    reply = agent.recommend(transcript.text, user_id=args.user, session_id=session_id, k=args.k)
    print_reply(reply)
    _, wav = agent.speak(reply)
    if getattr(args, "speech_out", None):
        wav = shutil.copyfile(wav, args.speech_out)
    print(f"spoken reply: {wav}")
    return reply


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    import uuid

    from agent.session import Moodtune

    agent = Moodtune(settings)
    session_id = uuid.uuid4().hex[:12]
    last: Reply | None = None
    print(f"Moodtune chat. {CHAT_HELP}")
    if getattr(args, "voice", None):
        last = _voice_turn(agent, args.voice, args=args, session_id=session_id)
    kinds = {"/up": "up", "/down": "down", "/skip": "skip", "/more": "more_like_this"}
    for line in sys.stdin if not sys.stdin.isatty() else iter(lambda: input("you> "), None):
        line = line.strip()
        if not line:
            continue
        try:
            command, _, arg = line.partition(" ")
            if command == "/quit":
                break
            if command == "/voice":
                last = _voice_turn(agent, arg.strip(), args=args, session_id=session_id)
            elif command == "/profile":
                print(json.dumps(agent.profile(args.user), indent=2))
            elif command in kinds:
                if last is None or not arg.isdigit() or not 1 <= int(arg) <= len(last.recommendations):
                    print("give the number of a track in the last list, e.g. /up 2")
                    continue
                track = last.recommendations[int(arg) - 1].track
                agent.feedback(user_id=args.user, track_id=track.id, kind=kinds[command], reply_id=last.reply_id)
                if command == "/more":
                    # Worded as a reference into the last list, so the target moves to the track itself.
                    last = agent.recommend(
                        f"more like track {arg}", user_id=args.user, session_id=session_id, k=args.k
                    )
                    print_reply(last)
                else:
                    print(f"noted: {kinds[command]} for {track.title}")
            elif command.startswith("/"):
                print(CHAT_HELP)
            else:
                last = agent.recommend(line, user_id=args.user, session_id=session_id, k=args.k)
                print_reply(last)
        except MoodtuneError as exc:
            print(f"moodtune: {exc}")
        except EOFError:
            break
    return 0


def register(cli: CommandLine) -> None:
    parser = cli.add("parse", help="show how a request is understood (the intent as JSON)", handler=_parse)
    parser.add_argument("text")
    parser = cli.add(
        "recommend", help="recommend tracks for a request, with score parts and explanations", handler=_recommend
    )
    parser.add_argument("text")
    parser.add_argument("--user", default="default", help="user id whose profile shapes the ranking")
    parser.add_argument("-k", type=int, default=10, help="how many tracks")
    parser.add_argument("--clip", help="an audio file: find music like it")
    parser.add_argument("--json", action="store_true", help="print the reply as JSON")
    server_commands.add_reply_outputs(parser)
    parser = cli.add("chat", help="a terminal conversation with refinements and feedback", handler=_chat)
    parser.add_argument("--user", default="default")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--voice", metavar="FILE", help="start with a spoken request: a WAV (or any audio file)")
    parser.add_argument("--speech-out", metavar="WAV", help="also write each spoken reply to this file")
