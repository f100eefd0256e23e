"""CLI commands of the tools: training the emotion and style models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from moodtune.cli import CommandLine
from moodtune.config import Settings


def _train_emotion(args: argparse.Namespace, settings: Settings) -> int:
    from tools.emotion_model import ARTEFACT_DIR, GOEMOTIONS_DIR, train_emotion_model

    manifest = train_emotion_model(
        data_dir=Path(args.data or GOEMOTIONS_DIR),
        out_dir=Path(args.out or ARTEFACT_DIR),
        reuse_encoder=args.reuse_encoder,
    )
    print(json.dumps(manifest["meta"], indent=2))
    return 0


def _train_emotion_multilingual(args: argparse.Namespace, settings: Settings) -> int:
    from tools.emotion_model import GOEMOTIONS_DIR
    from tools.emotion_multilingual import ARTEFACT_DIR, train_multilingual_head

    manifest = train_multilingual_head(data_dir=Path(args.data or GOEMOTIONS_DIR), out_dir=Path(args.out or ARTEFACT_DIR))
    print(json.dumps(manifest["meta"], indent=2))
    return 0


def _train_style(args: argparse.Namespace, settings: Settings) -> int:
    from tools.style import ARTEFACT_DIR, GTZAN_TABLE, SYNTHETIC_TABLE, train_style_model

    if args.render_synthetic:
        from catalog.demo import write_style_training_table

        path, rows = write_style_training_table(per_genre=args.render_synthetic, workers=settings.workers)
        print(f"wrote {rows} synthetic feature rows to {path}")
    manifest = train_style_model(
        table=Path(args.data or GTZAN_TABLE),
        synthetic_table=None if args.gtzan_only else SYNTHETIC_TABLE,
        out_dir=Path(args.out or ARTEFACT_DIR),
    )
    meta = manifest["meta"]
    subsets = ", ".join(f"{name} {s['accuracy']:.3f}" for name, s in meta["cv"]["subsets"].items())
    print(f"10-fold CV accuracy {meta['cv']['accuracy']:.3f} ({subsets}), macro-F1 {meta['cv']['macro_f1']:.3f} (C={meta['C']})")
    return 0


def register(cli: CommandLine) -> None:
    parser = cli.add(
        "emotion",
        group="train",
        handler=_train_emotion,
        help="fine-tune the emotion classifier on GoEmotions + our mood sentences (~15 min on 2 cores)",
    )
    parser.add_argument("--data", help="folder with the GoEmotions TSVs (default data/goemotions)")
    parser.add_argument("--out", help="artefact folder (default models/emotion)")
    parser.add_argument(
        "--reuse-encoder", action="store_true", help="keep the fine-tuned encoder, refit only the mood head"
    )
    parser = cli.add(
        "emotion-multilingual",
        group="train",
        handler=_train_emotion_multilingual,
        help="fit the multilingual (USE v3) mood head that reads Chinese requests, on the English mood rows (~1-10 min)",
    )
    parser.add_argument("--data", help="folder with the GoEmotions TSVs (default data/goemotions)")
    parser.add_argument("--out", help="artefact folder (default models/emotion_multilingual)")
    parser = cli.add(
        "style", group="train", handler=_train_style, help="train the SVM style classifier on GTZAN features"
    )
    parser.add_argument("--data", help="GTZAN features_30_sec.csv (default data/gtzan/features_30_sec.csv)")
    parser.add_argument(
        "--render-synthetic", type=int, metavar="PER_GENRE",
        help="first render this many clips per genre and write data/synthetic/style_features.csv",
    )
    parser.add_argument("--gtzan-only", action="store_true", help="train on GTZAN alone (no synthetic rows)")
    parser.add_argument("--out", help="artefact folder (default models/style)")
