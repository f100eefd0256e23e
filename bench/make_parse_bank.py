"""Build the parser's few-shot bank (prompts/parse_bank.jsonl) from our labelled dev sets.

    python -m bench.make_parse_bank

Each labelled request becomes an example whose answer is written from its labels in the
model's compact JSON (moods -> m, rejected moods -> x, genres -> g, ...). Only dev data goes in:
`bench/data/cpcd_heldout{,2,3}.jsonl` are refused, so the held-out figures stay a first look.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agent.fewshot import BANK_FILE, Example, ExampleBank, embed_examples
from moodtune.config import REPO_ROOT

DATA = REPO_ROOT / "bench" / "data"
SOURCES = (
    DATA / "cpcd_dev.jsonl",
    DATA / "parse_zh.jsonl",
    *sorted(DATA.glob("parse_probe*.jsonl")),
)
HELD_OUT = {"cpcd_heldout.jsonl", "cpcd_heldout2.jsonl", "cpcd_heldout3.jsonl"}


def answer_for(expect: dict) -> str:
    """The compact answer the labels imply (keys left out when empty, as the prompt asks)."""
    out: dict = {"m": list(expect.get("moods_any", []))[:2]}
    if not out["m"] and expect.get("arousal"):
        # A label that says only "more energy" / "softer" is written as the mood nearest to it,
        # so the example still shows the model which way the request points.
        out["m"] = ["energetic"] if expect["arousal"] == "high" else ["calm"]
    rejected = [m for m in expect.get("not_top_mood", []) if m not in out["m"]]
    for key, field in (("x", None), ("g", "genres"), ("a", "artists"), ("xa", "exclude_artists"), ("xg", "exclude_genres")):
        values = rejected if key == "x" else list(expect.get(field, []))
        if values:
            out[key] = values
    if expect.get("context"):
        out["c"] = expect["context"][0]
    if expect.get("follow_up"):
        out["f"] = True
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def conversation_key(item: dict) -> str:
    """Lines of one conversation share its first request; an evaluation leaves them all out together."""
    history = item.get("history") or []
    return (history[0]["user"] if history else item["text"]).strip().lower()[:200]


def examples_from(path: Path) -> list[dict]:
    if path.name in HELD_OUT:
        raise SystemExit(f"{path} is held out: it never goes into the bank")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        item = json.loads(line)
        ident = item.get("id") or f"{path.stem}:{number}"
        history = item.get("history") or []
        rows.append(
            {
                "id": ident,
                "text": item["text"],
                "answer": answer_for(item["expect"]),
                "previous": history[-1]["user"] if history else "",
                "group": conversation_key(item),
            }
        )
    return rows


def main(sources: tuple[Path, ...] = SOURCES, out: Path = BANK_FILE) -> int:
    rows = [row for path in sources if path.is_file() for row in examples_from(path)]
    raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    out.write_bytes(raw)
    examples = [Example(**r) for r in rows]
    ExampleBank(examples, embed_examples(examples)).save_vectors(raw, out.with_suffix(".npz"))
    print(f"{len(rows)} examples from {sum(p.is_file() for p in sources)} files -> {out}")
    return len(rows)


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__).parse_args()
    main()
