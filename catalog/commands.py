"""CLI commands of the catalog: ingest a folder, statistics, the demo catalog."""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace
from pathlib import Path

from catalog import server_commands
from moodtune.cli import CommandLine
from moodtune.config import Settings


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from catalog.ingest import ingest_folder

    if args.cluster:  # through settings, so a music server's songs are analysed on the cluster too
        settings = replace(settings, cluster=args.cluster)
    if server_commands.is_server_address(args.path):
        return server_commands.ingest_from_server(args, settings)
    summary = ingest_folder(settings, Path(args.path), workers=args.workers)
    print(summary)
    for path, reason in sorted(summary.failed.items()):
        print(f"  failed: {path}: {reason}")
    for path, reason in sorted(summary.skipped.items())[:20]:
        print(f"  skipped: {path}: {reason}")
    return 0


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from catalog.store import CatalogStore

    store = CatalogStore.open(settings)
    tracks = list(store.iter_tracks())
    print(f"{len(tracks)} tracks ({dict(Counter(t.source for t in tracks))})")
    for label, counter in (
        ("genre", Counter(t.style.top for t in tracks)),
        ("mood", Counter(t.emotion.top for t in tracks)),
    ):
        print(f"by top {label}:")
        for name, count in counter.most_common():
            print(f"  {name:<10} {count}")
    return 0


def _build_demo(args: argparse.Namespace, settings: Settings) -> int:
    from catalog.demo import build_demo_catalog

    summary = build_demo_catalog(settings, limit=args.limit, workers=args.workers)
    print(f"{summary} in {summary.seconds:.0f}s")
    return 0


def register(cli: CommandLine) -> None:
    parser = cli.add(
        "ingest",
        help="add a music folder (mp3, flac, ogg, wav) to the catalog; re-runs skip unchanged files",
        handler=_ingest,
    )
    parser.add_argument("path", help="folder or file, or a Subsonic server: subsonic://USER@HOST[:PORT]")
    parser.add_argument("--workers", type=int, help="processes for audio analysis (default: all cores)")
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="analyse the audio on a Dask cluster's workers (tcp://HOST:8786; MOODTUNE_CLUSTER); needs the cluster extra",
    )
    server_commands.add_ingest_arguments(parser)
    server_commands.register(cli)
    cli.add("stats", group="catalog", help="counts by source, top genre and top mood", handler=_stats)
    parser = cli.add(
        "build-demo", group="catalog", help="render and ingest the synthetic demo catalog", handler=_build_demo
    )
    parser.add_argument("--limit", type=int, help="only this many clips (spread over the genres)")
    parser.add_argument("--workers", type=int, help="processes (default: all cores)")
