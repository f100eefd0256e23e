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


def test_a_rejected_wording_is_logged_with_its_reasons(settings, track_factory, fake_llm, tmp_path):
    store = CatalogStore.open(settings)
    store.upsert([track_factory("calm1", mood="calm", genre="jazz", title="Harbour", tempo=84)])
    # 82 is the track's share of calm; the wording gives it to sad.
    agent = Moodtune(settings, llm=fake_llm(wording="1. 悲伤占82%的爵士。\n"), store=store)
    reply = agent.recommend("安静的爵士", session_id="s1", k=1, explain_top=1)
    facts = reply.recommendations[0].explanation.facts
    assert reply.recommendations[0].explanation.llm == "" and facts["llm_rejected"]
    assert facts["llm_rejected_text"] == "悲伤占82%的爵士。"
    assert any("said of mood 'sad'" in reason for reason in facts["llm_rejected_reasons"])
    logged = ReviewLog(settings).reply(reply.reply_id).recommendations[0].explanation.facts
    assert logged["llm_rejected_reasons"] == facts["llm_rejected_reasons"]
    ReviewLog(settings).export(tmp_path / "r.jsonl", tmp_path / "v.csv")
    exported = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    assert exported["recommendations"][0]["explanation"]["facts"]["llm_rejected_text"] == "悲伤占82%的爵士。"


def test_deleting_a_user_keeps_anonymised_verdicts_and_other_users(settings, track_factory, fake_llm, tmp_path):
    store = CatalogStore.open(settings)
    store.upsert([track_factory(f"t{i}", mood="calm", genre="jazz", artist=f"A{i}") for i in range(3)])
    agent = Moodtune(settings, llm=fake_llm(), store=store)
    mine = agent.recommend("calm jazz for ana", user_id="ana", session_id="ana-s", k=2, explain_top=0)
    theirs = agent.recommend("calm jazz for ben", user_id="ben", session_id="ben-s", k=2, explain_top=0)
    agent.feedback(user_id="ana", track_id="t0", kind="up")
    agent.feedback(user_id="ben", track_id="t1", kind="up")
    log = agent.review
    log.record_verdict(mine.reply_id, explanation_faithful=True, note="ana asked for 'calm jazz for ana'", reviewer="reviewer")
    log.record_verdict(theirs.reply_id, fits=True, note="fine", reviewer="reviewer")

    deleted = agent.delete_user("ana")
    assert deleted == {"feedback": 1, "replies": 1, "verdicts_anonymised": 1, "conversations": 1}
    assert agent.profiles.rows("ana") == [] and not agent.profiles.preferences("ana").has_feedback
    assert log.session_owner("ana-s") is None and agent.history("ana-s") == []
    with pytest.raises(NotFoundError):
        log.reply(mine.reply_id)
    verdicts = {v["reply_id"]: v for v in log.verdicts()}
    assert verdicts[mine.reply_id]["explanation_faithful"] == 1  # the verdict stays...
    assert verdicts[mine.reply_id]["note"] == "" and verdicts[mine.reply_id]["request"] == ""  # ...without the user
    assert verdicts[theirs.reply_id]["note"] == "fine" and log.reply(theirs.reply_id).user_id == "ben"
    assert len(agent.profiles.rows("ben")) == 1
    summary = log.export(tmp_path / "r.jsonl", tmp_path / "v.csv")
    assert summary["replies"] == 1 and summary["verdicts"] == 2
    assert "for ana" not in (tmp_path / "r.jsonl").read_text() + (tmp_path / "v.csv").read_text()


def test_a_conversation_belongs_to_its_user(settings, track_factory, fake_llm):
    from moodtune.errors import PermissionDeniedError

    store = CatalogStore.open(settings)
    store.upsert([track_factory(f"t{i}", mood="calm", genre="jazz", artist=f"A{i}") for i in range(3)])
    agent = Moodtune(settings, llm=fake_llm(), store=store)
    agent.recommend("calm jazz", user_id="ana", session_id="shared", k=2, explain_top=0)
    with pytest.raises(PermissionDeniedError):
        agent.recommend("more like that", user_id="ben", session_id="shared", k=2, explain_top=0)
    # A restarted server reads the owner from the review log.
    with pytest.raises(PermissionDeniedError):
        Moodtune(settings, llm=fake_llm(), store=store).recommend("hi", user_id="ben", session_id="shared", k=2)
    assert agent.recommend("and again", user_id="ana", session_id="shared", k=2, explain_top=0).user_id == "ana"
