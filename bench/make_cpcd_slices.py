"""Select and check the fresh CPCD slices: `cpcd_fresh{,2}.jsonl` (dev pool), `cpcd_heldout{2,3}.jsonl`.

    python -m bench.make_cpcd_slices draft --conversations 20 [--only FILE]  # every turn, empty `expect`
    python -m bench.make_cpcd_slices check [--only FILE]                     # validate the labelled files

The slices take, in the split's shuffled order, whole conversations of each pool that have no
line in the pool's earlier labelled files (`SLICES`; the block-1 method of bench/data/README.md).
`draft` writes every turn of the first N such conversations with its text and history and an
empty `expect`; the labels are written by hand into that file and turns that are not music
requests are deleted. `check` then verifies that each labelled file is still such a prefix (ids,
texts and histories as in the source, conversations in the split's order, stopping with the
conversation that brings it to the minimum) and that every `expect` uses the scorer's fields
and vocabulary. Which turns were skipped as not being music requests is not checkable here.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from moodtune.config import REPO_ROOT

DATA = REPO_ROOT / "bench" / "data"
SOURCE = REPO_ROOT.parent / "shared" / "data" / "cpcd" / "cpcd_v1.dialogs.dev.train.jsonl"
# (output, pool, files whose conversations are excluded, minimum labelled lines)
SLICES = (
    ("cpcd_fresh.jsonl", "dev", ("cpcd_dev.jsonl",), 70),
    ("cpcd_heldout2.jsonl", "heldout", ("cpcd_heldout.jsonl",), 90),
    ("cpcd_fresh2.jsonl", "dev", ("cpcd_dev.jsonl", "cpcd_fresh.jsonl"), 70),
    ("cpcd_heldout3.jsonl", "heldout", ("cpcd_heldout.jsonl", "cpcd_heldout2.jsonl"), 70),
)
# The README's check that the split is reproduced.
FIRST_IDS = {
    "dev": ["23d5b332d3b6c334", "349f4b23f4aebaa4", "a49d5872b6feee0c"],
    "heldout": ["00079c9c8dd7b55a", "06995d06fe0de38c", "5ef8dd6828ea3118"],
}
MOODS = {"happy", "sad", "calm", "energetic", "romantic", "nostalgic", "angry", "tense"}
LIST_FIELDS = {"moods_any", "not_top_mood", "genres", "artists", "exclude_artists", "exclude_genres", "context"}
FIELDS = LIST_FIELDS | {"arousal", "follow_up"}
# Spellings the README folds into one canonical genre name.
NON_CANONICAL = {"hip hop", "hip-hop", "rap", "rnb", "r n b", "kpop", "afro-beat", "afro-beats"}


def load_source(path: Path = SOURCE) -> dict[str, dict]:
    with path.open() as f:
        return {d["id"]: d for d in map(json.loads, f)}


def split(ids: list[str]) -> dict[str, list[str]]:
    """The README's split: sorted ids, shuffled with seed 14, first 267 dev, the rest held out."""
    shuffled = sorted(ids)
    random.Random(14).shuffle(shuffled)
    pools = {"dev": shuffled[:267], "heldout": shuffled[267:]}
    for name, first in FIRST_IDS.items():
        if pools[name][:3] != first:
            raise SystemExit(f"split does not reproduce the README: {name} starts {pools[name][:3]}")
    return pools


def conversations_of(path: Path) -> set[str]:
    with path.open() as f:
        return {json.loads(line)["id"].split(":")[0] for line in f}


def candidates(*, source: dict[str, dict], pool: list[str], used_files: tuple[Path, ...]) -> list[str]:
    """Pool conversations, in shuffled order, with no line in the existing labelled files."""
    used = set().union(*(conversations_of(path) for path in used_files))
    return [cid for cid in pool if cid not in used]


def turn_lines(conv: dict) -> list[dict]:
    """Every turn of a conversation as a line: text as typed, all earlier turns as history."""
    turns = conv["turns"]
    return [
        {
            "id": f"{conv['id']}:{i}",
            "text": t["user_query"],
            "history": [{"user": p["user_query"], "system": p["system_response"]} for p in turns[:i]],
            "expect": {},
        }
        for i, t in enumerate(turns)
    ]


def expect_errors(expect: dict) -> list[str]:
    errors = [f"unknown field {k}" for k in expect if k not in FIELDS]
    for key in LIST_FIELDS & expect.keys():
        value = expect[key]
        if not (isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)):
            errors.append(f"{key} must be a non-empty list of strings")
            continue
        if key in {"moods_any", "not_top_mood"} and not set(value) <= MOODS:
            errors.append(f"{key} outside the mood vocabulary: {value}")
        if key in {"genres", "exclude_genres"}:
            bad = [g for g in value if g != g.lower() or g in NON_CANONICAL]
            if bad:
                errors.append(f"{key} not lowercase canonical: {bad}")
    if "arousal" in expect and expect["arousal"] not in {"high", "low"}:
        errors.append(f"arousal must be high or low: {expect['arousal']}")
    if "follow_up" in expect and not isinstance(expect["follow_up"], bool):
        errors.append("follow_up must be a boolean")
    if not expect:
        errors.append("empty expect")
    return errors


def check_slice(*, path: Path, source: dict[str, dict], order: list[str], minimum: int) -> list[str]:
    """Errors in one labelled slice (empty when it is a valid block-1 prefix of `order`)."""
    errors: list[str] = []
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    seen: list[str] = []
    for line in lines:
        cid, _, index = line["id"].partition(":")
        if cid not in seen:
            seen.append(cid)
        expected = turn_lines(source[cid])[int(index)]
        for key in ("text", "history"):
            if line[key] != expected[key]:
                errors.append(f"{line['id']}: {key} differs from the source")
        errors += [f"{line['id']}: {e}" for e in expect_errors(line["expect"])]
    ids = [line["id"] for line in lines]
    if ids != sorted(ids, key=lambda i: (seen.index(i.split(":")[0]), int(i.split(":")[1]))) or len(set(ids)) != len(ids):
        errors.append("lines are not in conversation and turn order, or repeat")
    if seen != order[: len(seen)]:
        # A conversation whose turns were all skipped leaves a gap; allow that, nothing else.
        missing = [c for c in order[: order.index(seen[-1]) + 1] if c not in seen]
        if [c for c in order if c in seen] != seen:
            errors.append("conversations are not in the split's shuffled order")
        if missing:
            print(f"{path.name}: conversations with no labelled turn: {missing}", file=sys.stderr)
    if len(lines) < minimum:
        errors.append(f"{len(lines)} lines, fewer than {minimum}")
    elif sum(1 for line in lines if not line["id"].startswith(seen[-1] + ":")) >= minimum:
        errors.append(f"the minimum of {minimum} was reached before the last conversation {seen[-1]}")
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("draft", "check"))
    parser.add_argument("--conversations", type=int, default=20, help="draft: conversations per slice")
    parser.add_argument("--out-dir", type=Path, default=DATA, help="draft: where to write (default bench/data)")
    parser.add_argument("--only", action="append", help="this slice file alone (repeatable)")
    args = parser.parse_args(argv)

    source = load_source()
    pools = split(list(source))
    status = 0
    for name, pool, used, minimum in SLICES:
        if args.only and name not in args.only:
            continue
        order = candidates(source=source, pool=pools[pool], used_files=tuple(DATA / u for u in used))
        if args.mode == "draft":
            out = args.out_dir / name
            rows = [line for cid in order[: args.conversations] for line in turn_lines(source[cid])]
            out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            print(f"{out}: {len(rows)} turns from {order[:args.conversations][:3]}... ({len(order)} available)")
            continue
        errors = check_slice(path=DATA / name, source=source, order=order, minimum=minimum)
        print(f"{name}: {'ok' if not errors else f'{len(errors)} errors'}")
        for error in errors:
            print(f"  {error}")
        status |= bool(errors)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
