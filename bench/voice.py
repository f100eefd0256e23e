"""Voice: word error rate (en), character error rate (zh) and latency of speech in and out.

The test set is spoken requests: real user turns (English from CPCD dev, `cpcd_dev.jsonl`;
Chinese from `parse_zh.jsonl`; never the held-out set), rendered with espeak-ng at two speeds.
No real recordings of requests are included: none with a licence we could use was at hand;
the speaker-test voices of Debian's alsa-utils (a person saying "Front Left", ...) are scored
apart as a check on real speech. Latency, on this machine:
- transcript: seconds from the end of speech (the whole recording handed over) to the text,
  decoding and voice detection included; also for the 5 s requests alone;
- first spoken word: end of speech -> transcript -> the turn up to the ranked list (real LLM
  parse, real Chroma search) -> the spoken reply's WAV rendered (the reply's first line and
  the top three tracks' reasons), i.e. when playback can start.

Run: `nice -n 10 python -m bench.voice [--n 40] [--compare]` (`--compare` adds the ablations:
no prompt, beam 5, and base instead of tiny.en for English). Writes bench/results/voice.json.
`--vocabulary [dev] [judged]`: the second pass with the library's artist names (`library_names`),
with and without, and the prompt-copy guard apart (no LLM): bench/results/voice_vocabulary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

import soundfile

from bench.common import RESULTS_DIR, write_results
from moodtune.config import Settings

DATA = Path(__file__).resolve().parent / "data"
SPEEDS = {"en": (150, 185), "zh": (130, 165)}  # espeak-ng words per minute: slow-ish and its default-ish
VOICE = {"en": "en-us", "zh": "cmn-latn-pinyin"}


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[:], i
        for j, y in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (x != y))
    return row[-1]


# Decades are said "nineties" and written 90's or 90s; Whisper's normaliser reads "90's" as "90 is".
_DECADE = re.compile(r"\b(\d0)['’]s\b")


def words(text: str) -> list[str]:
    """English words for WER, normalised as in Whisper's evaluations (OpenAI's English normaliser, kept
    in transformers): lower case, no punctuation, contractions spelt out, spoken numbers as digits
    ("twenty twenty two" = 2022, "nineties" = 90s), British spellings as American."""
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    global _NORMALISE
    if _NORMALISE is None:
        _NORMALISE = EnglishTextNormalizer({})
    return _NORMALISE(_DECADE.sub(r"\1s", unicodedata.normalize("NFKC", text))).split()


_NORMALISE = None
_HAN = re.compile(r"[\u4e00-\u9fff]|[a-z0-9]+")


def chars(text: str) -> list[str]:
    """Tokens for CER: each Han character in simplified form (a traditional character is the same
    word), and each run of Latin letters or digits as one token (a name such as "Coldplay" is one
    unit, not eight characters); punctuation and spaces dropped."""
    import opencc

    global _T2S
    if _T2S is None:
        _T2S = opencc.OpenCC("t2s")
    return _HAN.findall(_T2S.convert(unicodedata.normalize("NFKC", text)).lower())


_T2S = None


def _length(text: str, unit: str) -> int:
    """A line's length for choosing the set, counted as when the set was first drawn (so the judged
    set stays the one earlier runs were scored on): words with "i'm" as two, or letters and digits."""
    return len(re.findall(unit, unicodedata.normalize("NFKC", text).lower().replace("'", " ")))


def test_set(n: int, seed: int = 19, *, offset: int = 0) -> list[dict[str, str]]:
    """n English and n Chinese requests: single lines of 3-25 words (en) or 4-30 characters (zh).

    `offset` skips that many of each language in the same shuffle: the judged set is offset 0,
    the dev slice settings are tuned on starts after it (offset n), so the two never share a line.
    """
    en = [json.loads(line)["text"] for line in (DATA / "cpcd_dev.jsonl").read_text().splitlines() if line.strip()]
    zh = [json.loads(line)["text"] for line in (DATA / "parse_zh.jsonl").read_text().splitlines() if line.strip()]
    en = sorted({t.strip() for t in en if 3 <= _length(t, r"[a-z0-9]+") <= 25})
    zh = sorted({t.strip() for t in zh if 4 <= _length(t, r"[^\W_]") <= 30})
    rng = random.Random(seed)
    rng.shuffle(en)
    rng.shuffle(zh)
    return [{"language": "en", "text": t} for t in en[offset : offset + n]] + [
        {"language": "zh", "text": t} for t in zh[offset : offset + n]
    ]


def render(text: str, language: str, speed: int, path: Path) -> Path:
    subprocess.run(
        ["espeak-ng", "-v", VOICE[language], "-s", str(speed), "-w", str(path), "--stdin"],
        input=text.encode(),
        check=True,
        capture_output=True,
    )
    return path


def error_rate(pairs: list[tuple[str, str]], language: str) -> float:
    unit = words if language == "en" else chars
    errors = sum(edit_distance(unit(ref), unit(hyp)) for ref, hyp in pairs)
    return errors / max(1, sum(len(unit(ref)) for ref, _ in pairs))


def run_config(items: list[dict], settings: Settings, **options: Any) -> dict[str, Any]:
    from tools.speech import transcribe

    rows = []
    language_given = options.pop("language_given", False)  # as when the UI's language is known
    for item in items:
        start = time.perf_counter()
        try:
            given = {"language": item["language"]} if language_given else {}
            result = transcribe(item["path"], settings=settings, **options, **given)
            text, language, model = result.text, result.language, result.model
            names, copied = list(result.names), result.prompt_copied
        except Exception as exc:  # a failure counts as every word missed
            text, language, model, names, copied = "", f"error: {exc}", "", [], False
        rows.append(
            {
                **item,
                "heard": text,
                "heard_language": language,
                "model": model,
                "seconds": time.perf_counter() - start,
                "names_given": names,
                "prompt_copied": copied,
            }
        )
    figures: dict[str, Any] = {}
    for language, metric in (("en", "wer"), ("zh", "cer")):
        for speed in SPEEDS[language]:
            chosen = [r for r in rows if r["language"] == language and r["speed"] == speed]
            if chosen:
                figures[f"{metric}_{language}_{speed}wpm"] = round(
                    error_rate([(r["text"], r["heard"]) for r in chosen], language), 3
                )
        chosen = [r for r in rows if r["language"] == language]
        if chosen:
            figures[f"{metric}_{language}"] = round(error_rate([(r["text"], r["heard"]) for r in chosen], language), 3)
            figures[f"language_right_{language}"] = round(
                sum(r["heard_language"] == language for r in chosen) / len(chosen), 3
            )
    seconds = [r["seconds"] for r in rows]
    figures["transcript_s_median"] = round(statistics.median(seconds), 3)
    figures["transcript_s_p90"] = round(sorted(seconds)[int(0.9 * (len(seconds) - 1))], 3)
    five = [r["seconds"] for r in rows if 4.0 <= r["duration_s"] <= 6.0]
    if five:
        figures["transcript_s_median_4_to_6_s_requests"] = round(statistics.median(five), 3)
        figures["requests_4_to_6_s"] = len(five)
    return {"figures": figures, "rows": rows}


ALSA_SOUNDS = Path("/usr/share/sounds/alsa")  # Debian's alsa-utils (GPL-2): a person says "Front Left", ...


def real_recordings(settings: Settings) -> dict[str, Any]:
    """The only real recordings at hand: the speaker-test voices of alsa-utils, two words each (not requests)."""
    from tools.speech import transcribe

    files = sorted(p for p in ALSA_SOUNDS.glob("*_*.wav"))
    if not files:
        return {"note": "alsa-utils is not installed (apt-get install alsa-utils)"}
    pairs, rows = [], []
    for path in files:
        said = path.stem.replace("_", " ")
        try:
            heard = transcribe(path, settings=settings)
            text, language, seconds = heard.text, heard.language, heard.seconds
        except Exception as exc:
            text, language, seconds = "", f"error: {exc}", 0.0
        pairs.append((said, text))
        rows.append(
            {"file": path.name, "said": said, "heard": text, "language": language, "seconds": round(seconds, 3)}
        )
    return {
        "source": "Debian alsa-utils 1.2.8 /usr/share/sounds/alsa (GPL-2), one speaker",
        "wer_en": round(error_rate(pairs, "en"), 3),
        "language_right_en": round(sum(r["language"] == "en" for r in rows) / len(rows), 3),
        "rows": rows,
    }


def first_spoken_word(items: list[dict], settings: Settings, *, turns: int) -> dict[str, Any]:
    """End of speech to the spoken reply's WAV, through a real turn (LLM parse, Chroma search)."""
    from dataclasses import replace

    import numpy as np

    import agent.session as session_module
    from agent.session import Moodtune
    from bench.search_scale import synthetic_tracks
    from catalog.store import CatalogStore
    from tools.speech import speak_reply, transcribe

    store = CatalogStore.open(settings)
    if store.count() == 0:
        # No catalog in this home: 300 synthetic tracks in a temporary one (search takes milliseconds
        # at this size or the demo's; the turn's time is the parse and the emotion model's).
        settings = replace(
            settings,
            home=Path(tempfile.mkdtemp(prefix="moodtune-voice-")),
            llm_path=settings.resolved_llm_path,
            whisper_dir=settings.resolved_whisper_dir,
        ).ensure_dirs()
        store = CatalogStore.open(settings)
        tracks, text = synthetic_tracks(300, np.random.default_rng(0))
        store.upsert(tracks, text_embeddings=text)
    agent = Moodtune(settings, store=store)
    agent.warm_up()
    # How much of the turn is the LLM's parse: the session's parse_request, timed in place.
    parse_seconds: list[float] = []
    untimed = session_module.parse_request

    def timed_parse(*args, **kwargs):
        began = time.perf_counter()
        try:
            return untimed(*args, **kwargs)
        finally:
            parse_seconds.append(time.perf_counter() - began)

    session_module.parse_request = timed_parse
    rows = []
    try:
        for item in items[:turns]:
            start = time.perf_counter()
            transcript = transcribe(item["path"], settings=settings)
            heard = time.perf_counter()
            reply = None
            # The spoken reply is the list's first line and its top tracks' reasons from their facts:
            # it is ready when the list is, before any LLM wording (explain_top=0, as /api/v1/voice).
            for event in agent.stream(transcript.text, user_id="bench-voice", explain_top=0, k=5):
                if event.kind == "reply":
                    reply = event.reply
                    break
            listed = time.perf_counter()
            text, _ = speak_reply(reply, settings=settings)
            spoken = time.perf_counter()
            rows.append(
                {
                    "language": item["language"],
                    "catalog_tracks": store.count(),
                    "text": transcript.text,
                    "spoken": text[:200],
                    "transcript_s": heard - start,
                    "parse_s": parse_seconds[-1],
                    "turn_without_parse_s": listed - heard - parse_seconds[-1],
                    "list_s": listed - start,
                    "first_word_s": spoken - start,
                    "speech_render_s": spoken - listed,
                }
            )
    finally:
        session_module.parse_request = untimed

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 3)

    figures = {
        "turns": len(rows),
        "first_spoken_word_s_median": median("first_word_s"),
        "first_spoken_word_s_max": round(max(r["first_word_s"] for r in rows), 3),
        "transcript_s_median": median("transcript_s"),
        "parse_s_median": median("parse_s"),
        "turn_without_parse_s_median": median("turn_without_parse_s"),
        "list_s_median": median("list_s"),
        "speech_render_s_median": median("speech_render_s"),
        "parse_share_of_first_word": round(sum(r["parse_s"] for r in rows) / sum(r["first_word_s"] for r in rows), 3),
    }
    return {"figures": figures, "rows": rows}


# What the dev slice compares (bench/results/voice_dev.json): each a change from the chosen settings.
DEV_CONFIGS: dict[str, dict[str, Any]] = {
    "chosen": {},
    "window_30s": {"pad_s": None},
    "window_pad_1s": {"pad_s": 1.0},
    "window_pad_2s": {"pad_s": 2.0},
    "window_pad_4s": {"pad_s": 4.0},
    "window_pad_8s": {"pad_s": 8.0},
    "beam_5": {"beam_size": 5},
    "no_prompt": {"prompt": False},
    "language_given": {"language_given": True},
}


def library_names() -> list[str]:
    """A stand-in for a user's library: every artist named in the labels (`expect` artists and
    exclude_artists) of cpcd_dev.jsonl and parse_zh.jsonl (never the held-out file), and the demo's
    fictional artists; distinct by lower-case spelling."""
    from catalog.demo import DEMO_ARTISTS

    names: dict[str, str] = {}
    for file in ("cpcd_dev.jsonl", "parse_zh.jsonl"):
        for line in (DATA / file).read_text().splitlines():
            if line.strip():
                expect = json.loads(line).get("expect", {})
                for name in [*expect.get("artists", []), *expect.get("exclude_artists", [])]:
                    names.setdefault(name.strip().lower(), name.strip())
    for name in DEMO_ARTISTS:
        names.setdefault(name.lower(), name)
    return sorted(names.values(), key=str.lower)


def _named(text: str, library: list[str]) -> set[str]:
    """The library names said in `text` (as whole tokens, case and spaces aside)."""
    from tools.speech import _tokens

    said = _tokens(text)
    found = set()
    for name in library:
        tokens = _tokens(name)
        if tokens and any(said[i : i + len(tokens)] == tokens for i in range(len(said) - len(tokens) + 1)):
            found.add("".join(tokens))
    return found


def vocabulary_figures(without: list[dict], with_library: list[dict], library: list[str]) -> dict[str, Any]:
    """What the library's second pass changed: names now heard, transcripts changed that name no artist
    (false corrections), and the seconds it added (the same recordings, one run after the other)."""
    from tools.speech import _tokens

    fixed = lost = false_changes = passes = 0
    added = []
    examples = []
    for before, after in zip(without, with_library):
        said = _named(before["text"], library)
        heard_before = {n for n in said if n in "".join(_tokens(before["heard"]))}
        heard_after = {n for n in said if n in "".join(_tokens(after["heard"]))}
        fixed += len(heard_after - heard_before)
        lost += len(heard_before - heard_after)
        changed = before["heard"] != after["heard"]
        if changed and not said:
            false_changes += 1
        passes += bool(after["names_given"])
        added.append(after["seconds"] - before["seconds"])
        if changed:
            examples.append(
                {
                    "said": before["text"],
                    "without": before["heard"],
                    "with": after["heard"],
                    "names": after["names_given"],
                }
            )
    second = [d for d, r in zip(added, with_library) if r["names_given"]]
    return {
        "library_names": len(library),
        "names_said": sum(len(_named(r["text"], library)) for r in without),
        "names_heard_without": sum(
            len({n for n in _named(r["text"], library) if n in "".join(_tokens(r["heard"]))}) for r in without
        ),
        "names_now_heard": fixed,
        "names_now_lost": lost,
        "transcripts_with_a_second_pass": passes,
        "transcripts_changed": len(examples),
        "false_corrections": false_changes,  # changed transcripts of requests that name no library artist
        "requests_naming_no_artist": sum(not _named(r["text"], library) for r in without),
        "added_s_median": round(statistics.median(added), 3),
        "added_s_median_with_a_second_pass": round(statistics.median(second), 3) if second else 0.0,
        "changed": examples,
    }


def threshold_table(rows: list[dict], library: list[str], thresholds=(0.6, 0.65, 0.7, 0.75, 0.8)) -> dict[str, Any]:
    """For first-pass transcripts (`rows` without the library), what the matcher proposes at each
    threshold on letters: names said but misheard that it proposes, names it proposes that were not
    said, and transcripts that would get a second pass. The dev slice's table chose NAME_MATCH_LATIN."""
    from tools.speech import _tokens, vocabulary_candidates

    table: dict[str, Any] = {}
    for threshold in thresholds:
        proposed = wrong = passes = misheard = 0
        for row in rows:
            said = _named(row["text"], library)
            heard = "".join(_tokens(row["heard"]))
            misheard += sum(n not in heard for n in said)
            found = {
                "".join(_tokens(n)) for n in vocabulary_candidates(row["heard"], library, latin_threshold=threshold)
            }
            proposed, wrong, passes = proposed + len(found & said), wrong + len(found - said), passes + bool(found)
        table[str(threshold)] = {"names_misheard": misheard, "proposed_right": proposed, "proposed_wrong": wrong,
                                 "second_passes": passes, "transcripts": len(rows)}  # fmt: skip
    return table


def vocabulary(
    settings: Settings | None = None,
    *,
    n: int = 20,
    splits: tuple[str, ...] = ("dev", "judged"),
    without_guard: bool = False,
) -> dict:
    """The library's second pass, with and without, on the dev slice (where its threshold was chosen,
    `threshold_table`) and the judged set: bench/results/voice_vocabulary.json. The prompt-copy guard is
    on in both runs; `without_guard` adds a run with neither (as bench/results/voice.json before them)."""
    settings = settings or Settings.load()
    library = library_names()
    figures: dict[str, Any] = {
        "library": {
            "names": len(library),
            "sources": "cpcd_dev.jsonl and parse_zh.jsonl labels, catalog.demo.DEMO_ARTISTS",
        }
    }
    for split in splits:
        with tempfile.TemporaryDirectory() as tmp:
            items = rendered(test_set(n, offset=n if split == "dev" else 0), Path(tmp))
            _warm(items, settings)
            part: dict[str, Any] = {"load_average_before": [round(x, 2) for x in os.getloadavg()]}
            if without_guard:
                part["no_guard_no_library"] = run_config(items, settings, prompt_guard=False)["figures"]
            without = run_config(items, settings)
            if split == "dev":
                part["threshold_choice"] = threshold_table(without["rows"], library)
            with_library = run_config(items, settings, vocabulary=library)
            part["guard_no_library"] = without["figures"]
            part["guard_and_library"] = with_library["figures"]
            part["second_pass"] = vocabulary_figures(without["rows"], with_library["rows"], library)
            part["prompt_copied"] = sum(r["prompt_copied"] for r in without["rows"])
            part["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            figures[split] = part
            print(split, json.dumps({k: v for k, v in part.items() if k != "second_pass"}), flush=True)
    earlier = RESULTS_DIR / "voice_vocabulary.json"
    if earlier.is_file():  # one split again: the other's figures stay, with their loads
        kept = json.loads(earlier.read_text())["figures"]
        figures = {**{k: v for k, v in kept.items() if k not in figures}, **figures}
    write_results("voice_vocabulary", figures)
    return figures


def rendered(requests: list[dict[str, str]], folder: Path) -> list[dict[str, Any]]:
    """Each request spoken at both of its language's speeds, as WAVs in `folder`."""
    items = []
    for i, item in enumerate(requests):
        for speed in SPEEDS[item["language"]]:
            path = render(item["text"], item["language"], speed, folder / f"{i}_{speed}.wav")
            items.append({**item, "speed": speed, "path": str(path), "duration_s": soundfile.info(str(path)).duration})
    return items


def _warm(items: list[dict], settings: Settings) -> None:
    from tools.speech import transcribe

    transcribe(items[0]["path"], settings=settings)  # load the models: startup is not a request's latency
    transcribe(items[-1]["path"], settings=settings)


def dev(settings: Settings | None = None, *, n: int = 20, configs: list[str] | None = None) -> dict[str, Any]:
    """The settings compared on the dev slice (never the judged set): bench/results/voice_dev.json."""
    settings = settings or Settings.load()
    with tempfile.TemporaryDirectory() as tmp:
        items = rendered(test_set(n, offset=n), Path(tmp))
        _warm(items, settings)
        figures: dict[str, Any] = {
            "dev_slice": {"requests_en": n, "requests_zh": n, "offset": n},
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
        }
        for name in configs or list(DEV_CONFIGS):
            figures[name] = run_config(items, settings, **dict(DEV_CONFIGS[name]))["figures"]
            figures[name]["load_average"] = [round(x, 2) for x in os.getloadavg()]
            print(name, json.dumps(figures[name]), flush=True)
    earlier = RESULTS_DIR / "voice_dev.json"
    if configs and earlier.is_file():  # some configs again: the others' figures stay, with their loads
        kept = json.loads(earlier.read_text())["figures"]
        figures = {**{k: v for k, v in kept.items() if k not in figures}, **figures}
    write_results("voice_dev", figures)
    return figures


def main(settings: Settings | None = None, *, n: int = 20, compare: bool = False, turns: int = 10) -> dict[str, Any]:
    settings = settings or Settings.load()
    with tempfile.TemporaryDirectory() as tmp:
        items = rendered(test_set(n), Path(tmp))
        _warm(items, settings)
        load = os.getloadavg()
        chosen = run_config(items, settings)
        figures: dict[str, Any] = {
            "test_set": {
                "requests_en": n,
                "requests_zh": n,
                "speeds_wpm": SPEEDS,
                "voices": VOICE,
                "sources": "cpcd_dev.jsonl (CPCD, CC-BY 4.0) and parse_zh.jsonl",
                "real_recordings": "none of requests; see real_recordings below",
                "audio_s_median": round(statistics.median(i["duration_s"] for i in items), 2),
            },
            "chosen": chosen["figures"],
            "load_average_before": [round(x, 2) for x in load],
        }
        figures["real_recordings"] = real_recordings(settings)
        if compare:
            figures["compare"] = {
                "window_30s": run_config(items, settings, pad_s=None)["figures"],
                "language_given": run_config(items, settings, language_given=True)["figures"],
                "english_with_base": run_config(
                    [i for i in items if i["language"] == "en"], settings, model_name="base"
                )["figures"],
            }
        if turns:
            # Half English, half Chinese, at the faster speed, spread over the set.
            chosen_turns = []
            for language in ("en", "zh"):
                pool = [i for i in items if i["language"] == language and i["speed"] == SPEEDS[language][1]]
                chosen_turns += pool[:: max(1, len(pool) // max(1, turns // 2))][: turns // 2]
            spoken = first_spoken_word(chosen_turns, settings, turns=turns)
            figures["first_spoken_word"] = spoken["figures"]
            figures["first_spoken_word_rows"] = spoken["rows"]
        figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        figures["transcripts"] = [{k: r[k] for k in ("language", "speed", "text", "heard")} for r in chosen["rows"]]
    write_results("voice", figures)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="requests per language (the dev slice: as many, after them)")
    parser.add_argument("--compare", action="store_true", help="also run the ablations")
    parser.add_argument(
        "--turns", type=int, default=10, help="whole voice turns timed (needs the LLM and a catalog); 0: none"
    )
    parser.add_argument(
        "--dev",
        nargs="*",
        metavar="CONFIG",
        help=f"compare settings on the dev slice instead: {', '.join(DEV_CONFIGS)} (none named: all)",
    )
    parser.add_argument(
        "--vocabulary",
        nargs="*",
        metavar="SPLIT",
        help="the library's second pass with and without, on dev and/or judged (none named: both): voice_vocabulary.json",
    )
    args = parser.parse_args()
    if args.vocabulary is not None:
        vocabulary(n=args.n, splits=tuple(args.vocabulary) or ("dev", "judged"))
    elif args.dev is not None:
        dev(n=args.n, configs=args.dev or None)
    else:
        main(n=args.n, compare=args.compare, turns=args.turns)
