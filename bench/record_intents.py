"""Parse the e2e benchmark's requests and write the intents, one JSON line each ({"text", "intent"}).

Written to run unchanged at older commits too (it uses only `parse_request`, `LocalLLM.load`,
`moodtune.serialize.intent_to_dict` and the dev set), so that `bench.e2e_eval --intents` can rank another parser's intents on today's
catalog and tell the parser's share of a change from the catalog's:

    git worktree add --detach /tmp/old 182ee27
    cd /tmp/old && PYTHONPATH=$PWD python /path/to/bench/record_intents.py intents.jsonl
"""

from __future__ import annotations

import json
import sys

from agent.llm import LocalLLM
from agent.parse import parse_request
from bench.parse_eval import DEV_SET, _norm_genre
from moodtune.config import Settings
from moodtune.serialize import intent_to_dict
from moodtune.types import GENRES


def main(path: str) -> None:
    settings = Settings.load()
    llm = LocalLLM.load(settings, purpose="parse")
    with open(path, "w", encoding="utf-8") as out:
        for line in (json.loads(x) for x in DEV_SET.read_text(encoding="utf-8").splitlines() if x.strip()):
            expect = line["expect"]
            # The same requests bench.e2e_eval scores: those that name a genre among the ten or a mood.
            if not any(_norm_genre(g) in GENRES for g in expect.get("genres", [])) and not expect.get("moods_any"):
                continue
            intent = parse_request(line["text"], llm=llm, settings=settings)
            out.write(json.dumps({"text": line["text"], "intent": intent_to_dict(intent)}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
