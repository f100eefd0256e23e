"""The review log: replies logged whole, verdicts, export."""

from __future__ import annotations

import csv
import json

import pytest

from agent.review import ReviewLog
from agent.session import Moodtune
from catalog.store import CatalogStore
from moodtune.errors import NotFoundError


def test_verdicts_and_export(settings, track_factory, fake_llm, tmp_path):
    store = CatalogStore.open(settings)
    store.upsert([track_factory(f"t{i}", mood="calm", genre="jazz", artist=f"A{i}") for i in range(4)])
    agent = Moodtune(settings, llm=fake_llm(), store=store)
    reply = agent.recommend("calm jazz", session_id="sess", k=3, explain_top=0)
    log = ReviewLog(settings)
    assert log.sessions()[0]["session_id"] == "sess"
    log.record_verdict(reply.reply_id, track_id=reply.recommendations[0].track.id, explanation_faithful=True, fits=False, note="too slow")
    log.record_verdict(reply.reply_id, explanation_faithful=False, note="")
    summary = log.export(tmp_path / "out.jsonl", tmp_path / "out.csv")
    assert summary == {"replies": 1, "verdicts": 2, "faithful_share": 0.5, "fits_share": 0.0}
    line = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])
    assert line["request"] == "calm jazz" and len(line["verdicts"]) == 2 and line["candidates"]
    rows = list(csv.DictReader((tmp_path / "out.csv").read_text().splitlines()))
    assert rows[0]["note"] == "too slow"
    with pytest.raises(NotFoundError):
        log.record_verdict("missing", note="x")
