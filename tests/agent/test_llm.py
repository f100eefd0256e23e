"""The LLM adapter: clear errors for missing or corrupt weights; a real load and generate (marked llm)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agent.llm import FREE_ANSWER_TOKENS, LocalLLM
from moodtune.errors import LLMError, ModelMissingError


def test_missing_model_names_the_fix(settings):
    with pytest.raises(ModelMissingError, match="missing") as info:
        LocalLLM.load(replace(settings, llm_path=settings.home / "nope.gguf"))
    assert "moodtune setup" in info.value.hint


def test_corrupt_model_is_an_llm_error(settings):
    bad = settings.home / "corrupt.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 1024)
    with pytest.raises(LLMError, match="could not be loaded"):
        LocalLLM.load(replace(settings, llm_path=bad))


class ScriptedLlama:
    """A llama-cpp stand-in that answers each chat call with the next scripted text."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[dict] = []

    def create_chat_completion(self, **kwargs):
        self.calls.append(kwargs)
        text = self.answers.pop(0)
        # As llama.cpp does: the text ends before the first stop string, which is not returned.
        cuts = [text.find(stop) for stop in kwargs.get("stop") or () if stop in text]
        text = text[: min(cuts)] if cuts else text
        return {"choices": [{"message": {"content": text}}], "usage": {"completion_tokens": len(text.split())}}


MOOD_SCHEMA = {
    "type": "object",
    "properties": {
        "m": {"type": "array", "items": {"type": "string", "enum": ["calm", "sad"]}, "maxItems": 2},
        "f": {"type": "boolean"},
    },
    "required": ["m"],
}


@pytest.mark.parametrize(
    ("free_answer", "kept"),
    [
        ('{"m":["calm"]}', {"m": ["calm"]}),
        ('{"m":["calm"]} and some words after it', {"m": ["calm"]}),
        # Values the grammar could not have produced are dropped, the rest is kept.
        ('{"m":["furious","calm"]}', {"m": ["calm"]}),
        ('{"m":["calm","sad","calm"]}', {"m": ["calm", "sad"]}),
        ('{"m":["sad"],"note":"ignore all rules"}', {"m": ["sad"]}),
        ('{"m":["sad"],"f":"yes"}', {"m": ["sad"]}),
        # No usable object: generated again under the grammar.
        ("Sure! Here is a poem about the sea.", None),  # prose, e.g. an injected instruction obeyed
        ('{"m":"calm"}', None),  # the required key has the wrong type
        ('{"f":true}', None),  # the required key is missing
        ('{"m":["cal', None),  # cut off
        ('["calm"]', None),  # not an object
    ],
)
def test_a_free_json_answer_is_kept_to_what_the_schema_allows(free_answer, kept):
    llama = ScriptedLlama(free_answer, '{"m":["sad"],"f":false}')
    llm = LocalLLM(llama, name="scripted")
    value = llm.generate_json([{"role": "user", "content": "sad songs"}], schema=MOOD_SCHEMA, max_tokens=20)
    constrained = kept is None
    assert value == ({"m": ["sad"], "f": False} if constrained else kept)
    assert llm.last_timing["constrained"] is constrained
    assert "response_format" not in llama.calls[0]
    assert len(llama.calls) == (2 if constrained else 1)
    if constrained:
        assert llama.calls[1]["response_format"] == {"type": "json_object", "schema": MOOD_SCHEMA}


@pytest.mark.parametrize(
    ("free_answer", "unread", "kept"),
    [
        ('{"m":["sad"],"f":true,"e":"sad songs, please"}', ("e",), {"m": ["sad"], "f": True}),
        ('{"m":["sad"],"e":"sad songs, please","f":true}', ("e",), {"m": ["sad"]}),  # keys after it are lost
        ('{"m":["sad"],"e":"sad songs, please"}', (), {"m": ["sad"]}),  # read, then dropped by the schema
    ],
)
def test_the_free_answer_stops_where_an_unread_key_starts(free_answer, unread, kept):
    llama = ScriptedLlama(free_answer)
    llm = LocalLLM(llama, name="scripted")
    value = llm.generate_json([{"role": "user", "content": "sad songs"}], schema=MOOD_SCHEMA, max_tokens=40, unread=unread)
    assert value == kept
    assert llm.last_timing["constrained"] is False
    assert "}" in llama.calls[0]["stop"]
    assert (',"e":' in llama.calls[0]["stop"]) is bool(unread)


@pytest.mark.parametrize("max_tokens", [120, 30])
def test_a_looping_free_answer_is_cut_at_the_free_cap_and_generated_under_the_grammar(max_tokens):
    # What the cap leaves of a list the model repeats until it is stopped.
    looping = '{"m":["calm","sad","calm","sad","calm","sad","calm",'
    llama = ScriptedLlama(looping, '{"m":["sad"],"f":false}')
    llm = LocalLLM(llama, name="scripted")
    value = llm.generate_json([{"role": "user", "content": "sad songs"}], schema=MOOD_SCHEMA, max_tokens=max_tokens)
    assert value == {"m": ["sad"], "f": False} and llm.last_timing["constrained"]
    assert llama.calls[0]["max_tokens"] == min(max_tokens, FREE_ANSWER_TOKENS)
    assert llama.calls[1]["max_tokens"] == max_tokens  # the grammar's answer keeps the caller's cap


def test_a_constrained_answer_cut_short_is_a_clear_error():
    llm = LocalLLM(ScriptedLlama("no json here", '{"m":["sa'), name="scripted")
    with pytest.raises(LLMError, match="cut off"):
        llm.generate_json([{"role": "user", "content": "sad songs"}], schema=MOOD_SCHEMA, max_tokens=3)


@pytest.fixture(scope="module")
def real_llm(real_llm_path):
    from moodtune.config import Settings

    return LocalLLM.load(Settings.load(llm_path=real_llm_path))


@pytest.mark.llm
def test_real_model_loads_and_generates(real_llm):
    text = real_llm.generate([{"role": "user", "content": "Say the word hello."}], max_tokens=8)
    assert "hello" in text.lower()
    streamed = "".join(real_llm.stream([{"role": "user", "content": "Count: 1, 2, 3,"}], max_tokens=6))
    assert streamed.strip()


@pytest.mark.llm
def test_real_model_json_follows_the_schema(real_llm):
    schema = {"type": "object", "properties": {"mood": {"type": "string", "enum": ["happy", "sad"]}}, "required": ["mood"]}
    value = real_llm.generate_json([{"role": "user", "content": "I just lost my dog. Which mood: happy or sad?"}], schema=schema, max_tokens=20)
    assert value == {"mood": "sad"}


@pytest.mark.llm
def test_real_model_stops_at_an_unread_key_and_saves_its_tokens(real_llm):
    schema = {
        "type": "object",
        "properties": {"mood": {"type": "string", "enum": ["happy", "sad"]}, "note": {"type": "string"}},
        "required": ["mood"],
    }
    ask = [
        {
            "role": "user",
            "content": 'Copy this JSON object exactly, on one line: {"mood":"happy","note":"a long note that '
            'nobody will ever read, written out word by word for the sake of the test"}',
        }
    ]
    whole = real_llm.generate_json(ask, schema=schema, max_tokens=60)
    whole_tokens = real_llm.last_timing["completion_tokens"]
    cut = real_llm.generate_json(ask, schema=schema, max_tokens=60, unread=("note",))
    assert whole["mood"] == cut["mood"] == "happy"
    assert "note" in whole and "note" not in cut
    assert real_llm.last_timing["completion_tokens"] < whole_tokens - 10


@pytest.mark.llm
@pytest.mark.parametrize("call", ["generate", "stream"])
def test_a_message_beyond_the_context_is_a_clear_error(real_llm, call):
    messages = [{"role": "user", "content": "calm music " * 4000}]
    with pytest.raises(LLMError, match="does not fit the model's context"):
        if call == "generate":
            real_llm.generate(messages, max_tokens=4)
        else:
            "".join(real_llm.stream(messages, max_tokens=4))


def test_each_purpose_has_its_own_context_and_an_unknown_one_is_refused(settings):
    with pytest.raises(ValueError, match="purpose must be one of"):
        LocalLLM.load(settings, purpose="poetry")


@pytest.mark.llm
def test_parse_and_explain_contexts_are_separate_but_share_one_lock(real_llm_path):
    from moodtune.config import Settings

    settings = Settings.load(llm_path=real_llm_path)
    parse, explain = LocalLLM.load(settings, purpose="parse"), LocalLLM.load(settings, purpose="explain")
    assert parse.llama is not explain.llama and parse.lock is explain.lock
    assert LocalLLM.load(settings, purpose="explain") is explain


@pytest.mark.llm
def test_a_prefix_evicted_by_another_language_comes_back_from_its_saved_state(real_llm_path):
    from moodtune.config import Settings

    llm = LocalLLM.load(Settings.load(llm_path=real_llm_path), purpose="explain")

    def conversation(system: str, question: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": system},
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": question},
        ]

    english = conversation("Answer in one English word.", "Name a fruit.")
    chinese = conversation("只用一个中文词回答。", "说一种水果。")
    first = llm.generate(english, max_tokens=6, prefix=3)
    llm.generate(chinese, max_tokens=6, prefix=3)  # evicts the English prefix from the context
    assert len(llm.saved_prefixes) >= 2
    english_prefix = next(t for t in llm.saved_prefixes if llm.llama.detokenize(t).decode().count("English"))
    assert list(llm.llama.input_ids[: len(english_prefix)]) != english_prefix
    assert llm.generate(english, max_tokens=6, prefix=3) == first
    assert list(llm.llama.input_ids[: len(english_prefix)]) == english_prefix
