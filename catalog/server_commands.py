"""CLI glue for where people's music lives: `moodtune ingest subsonic://…`, `moodtune play`,
and the outputs of `moodtune recommend` (--m3u, --xspf, --subsonic-playlist, --mpd).

Only argument handling; the work is in catalog.subsonic_ingest, catalog.subsonic_sync,
catalog.mpd_queue and catalog.playlists. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from moodtune.config import Settings
from moodtune.types import Reply

SERVER_PREFIXES = ("subsonic://", "subsonics://")


def is_server_address(text: str) -> bool:
    return text.strip().lower().startswith(SERVER_PREFIXES)


# -- moodtune ingest subsonic://USER@HOST[:PORT] -----------------------------------------------
def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "Subsonic servers (PATH = subsonic://USER@HOST[:PORT], password from MOODTUNE_SUBSONIC_PASSWORD or a prompt)"
    )
    group.add_argument("--user", default="default", help="the Moodtune user whose profile the server's stars and ratings feed")
    group.add_argument("--no-feedback", action="store_true", help="do not turn the server's stars and ratings into feedback")
    group.add_argument("--cache-mb", type=int, help="room for downloads awaiting analysis (default: $MOODTUNE_SUBSONIC_CACHE_MB or 1024)")


def ingest_from_server(args: argparse.Namespace, settings: Settings) -> int:
    from catalog.subsonic_ingest import ingest_server

    summary = ingest_server(
        settings,
        args.path,
        workers=args.workers,
        user_id=getattr(args, "user", "default"),
        cache_mb=getattr(args, "cache_mb", None),
        feedback=not getattr(args, "no_feedback", False),
    )
    print(summary)
    for song_id, reason in sorted(summary.failed.items()):
        print(f"  failed: song {song_id}: {reason}")
    return 0


# -- outputs of a reply -----------------------------------------------------------------------
def add_reply_outputs(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where the reply goes besides the terminal")
    group.add_argument("--m3u", metavar="FILE", help="save the tracks as an m3u8 playlist")
    group.add_argument("--xspf", metavar="FILE", help="save the tracks as an XSPF playlist")
    group.add_argument(
        "--subsonic-playlist",
        metavar="SERVER",
        help="save the tracks as a playlist 'Moodtune: <request>' on subsonic://USER@HOST[:PORT]",
    )
    add_mpd_arguments(group, flag=True)


def add_mpd_arguments(parser, *, flag: bool) -> None:
    if flag:
        parser.add_argument(
            "--mpd",
            nargs="?",
            const="",
            metavar="ADDRESS",
            help="queue the tracks in MPD (HOST:PORT or socket; default $MOODTUNE_MPD, $MPD_HOST, localhost:6600)",
        )
    parser.add_argument("--mpd-music-dir", help="MPD's music_directory (default $MOODTUNE_MPD_MUSIC_DIR, or asked of MPD)")
    parser.add_argument("--clear", action="store_true", help="clear MPD's queue first")
    parser.add_argument(
        "--allow-password-in-urls",
        action="store_true",
        help="for servers without token auth (supysonic): let MPD's stream URLs carry the password",
    )


def deliver_reply(args: argparse.Namespace, settings: Settings, reply: Reply) -> None:
    """Whatever outputs the arguments ask for; a line each on stderr (stdout may be the reply's JSON)."""
    from catalog.playlists import reply_tracks, write_playlist

    for option in ("m3u", "xspf"):
        if getattr(args, option, None):
            path = write_playlist(reply, Path(getattr(args, option)))
            print(f"saved {len(reply.recommendations)} tracks to {path}", file=sys.stderr)
    if getattr(args, "subsonic_playlist", None):
        from catalog.subsonic import Credentials, ServerAddress, SubsonicClient
        from catalog.subsonic_sync import playlist_name, push_playlist

        address = ServerAddress.parse(args.subsonic_playlist)
        with SubsonicClient(address, Credentials.from_environment(prompt_for=address.key)) as client:
            pushed = push_playlist(settings, client, reply_tracks(reply), name=playlist_name(reply.request))
        verb = "updated" if pushed.updated else "created"
        print(
            f"{verb} playlist {pushed.name!r} on {address.key}: {len(pushed.song_ids)} songs, "
            f"{len(pushed.skipped)} not on the server",
            file=sys.stderr,
        )
    if getattr(args, "mpd", None) is not None:
        result = queue_reply(args, settings, reply)
        print(result, file=sys.stderr)


def queue_reply(args: argparse.Namespace, settings: Settings, reply: Reply, *, play: bool = False):
    from catalog.mpd_queue import queue_tracks
    from catalog.playlists import reply_tracks
    from catalog.subsonic_sync import ServerStreams

    with ServerStreams(settings, allow_password=getattr(args, "allow_password_in_urls", False)) as streams:
        result = queue_tracks(
            reply_tracks(reply),
            address=getattr(args, "mpd", None) or None,
            settings=settings,
            music_dir=Path(args.mpd_music_dir) if getattr(args, "mpd_music_dir", None) else None,
            stream_url=streams,
            clear=getattr(args, "clear", False),
            play=play,
        )
    for track_id, reason in result.skipped.items():
        title = next((r.track.title for r in reply.recommendations if r.track.id == track_id), track_id)
        print(f"  skipped {title}: {reason}", file=sys.stderr)
    return result


# -- moodtune play ----------------------------------------------------------------------------
def _play(args: argparse.Namespace, settings: Settings) -> int:
    from moodtune.errors import InputError

    if args.reply:
        from agent.review import ReviewLog

        reply = ReviewLog(settings).reply(args.reply)
    elif args.text:
        from agent.session import Moodtune

        reply = Moodtune(settings).recommend(args.text, user_id=args.user, k=args.k, explain_top=0)
        print(f"reply {reply.reply_id}: {len(reply.recommendations)} tracks for {reply.request!r}")
    else:
        raise InputError("say what to play, or name a reply", hint='moodtune play "calm piano" or moodtune play --reply ID')
    result = queue_reply(args, settings, reply, play=not args.no_start)
    print(result)
    return 0


def register(cli) -> None:
    parser = cli.add(
        "play",
        help="queue a reply's tracks in a running MPD (local files and Subsonic streams) and start playing",
        handler=_play,
    )
    parser.add_argument("text", nargs="?", help="a request; its reply is queued")
    parser.add_argument("--reply", help="queue this logged reply instead (its id, from --json or the review export)")
    parser.add_argument("--user", default="default")
    parser.add_argument("-k", type=int, default=10, help="how many tracks")
    parser.add_argument("--mpd", metavar="ADDRESS", help="MPD's HOST:PORT or socket (default $MOODTUNE_MPD, $MPD_HOST, localhost:6600)")
    parser.add_argument("--no-start", action="store_true", help="queue only; do not start playing")
    add_mpd_arguments(parser, flag=False)
