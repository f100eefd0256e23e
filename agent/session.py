"""The one public API of the agent, used by the CLI, the Gradio UI, the HTTP API and MCP.

A turn is a plan written in code (no free-form agent loop):
  parse (LLM) -> classify_emotion on the request as written (the user's current mood)
  -> classify_style on an uploaded clip (if any) -> search_catalog -> rank -> explain.
A seed track ("more like the second one", /more N, `more_like_this` for the UI's button) or an
uploaded clip also searches by sound (the music tagger's embedding): candidates get "sounds_like".
The three tools are called through their LangChain wrappers, as the design asks; their
plain functions remain the source of truth (and what tests call).
"""

from __future__ import annotations

import logging
import statistics
import threading
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from agent import explain, lexicon, understood
from agent.llm import LLM, LocalLLM
from agent.parse import HISTORY_TURNS, parse_request
from agent.profile import ProfileStore
from agent.rank import filters_for, lift_target, parts_worth_showing, rank
from catalog.store import CatalogStore
from moodtune.config import Settings
from moodtune.errors import InputError, MoodtuneError, PermissionDeniedError
from moodtune.types import (
    TEMPO_CEILING_BPM,
    EmotionVector,
    Explanation,
    FeedbackKind,
    Intent,
    Recommendation,
    Reply,
    ReplyEvent,
    ScoredTrack,
    StyleVector,
    Track,
    Turn,
)
from tools.search import SearchFilters

log = logging.getLogger(__name__)
CANDIDATES = 60

REFINEMENT_NOTES = {
    "en": {
        "seed": "aimed at tracks like {title}",
        "slower": "slower than {bpm:.0f} bpm, the middle of the last list",
        "faster": "faster than {bpm:.0f} bpm, the middle of the last list",
        "tempo_dropped": "nothing fits that tempo, so these ignore it",
    },
    "zh": {
        "seed": "参照《{title}》挑选",
        "slower": "比上一组的中间速度 {bpm:.0f} bpm 更慢",
        "faster": "比上一组的中间速度 {bpm:.0f} bpm 更快",
        "tempo_dropped": "没有符合这个速度的歌，所以这次没按速度筛选",
    },
}
# How far "more like the second one" moves the target towards that track's own p and q.
SEED_STEP = 0.5
NO_RESULTS = {
    "en": "I found nothing in the catalog that fits these constraints. Try loosening an exclusion.",
    "zh": "曲库里没有符合这些条件的歌曲，试着放宽一些限制吧。",
}



def search_text(intent: Intent) -> str:
    """The words the catalog's text search reads for this request.

    The catalog's text embeddings are English-only (tools/encoder.embed_texts): a Chinese request
    the parser gave no English paraphrase is searched by its genre terms and names alone, since
    its characters would only add noise (on the demo, 3 of 7 Chinese requests ranked better).
    """
    english = intent.english if intent.english and lexicon.detect_language(intent.english) == "en" else ""
    return " ".join([english, *intent.genre_terms, *intent.artists]).strip()


def seed_track(intent: Intent, previous: Reply | None) -> Track | None:
    """The track of the last list a follow-up points at ("more like the second one", /more 2), if any."""
    if previous is None or not intent.follow_up or not previous.recommendations:
        return None
    heard = [rec.track for rec in previous.recommendations]
    index = lexicon.earlier_track_index(intent.text)
    return heard[index] if index is not None and -len(heard) <= index < len(heard) else None


def toward_seed(intent: Intent, seed: Track) -> Intent:
    """The intent with its target moved SEED_STEP of the way to the seed track's mood and style."""
    style = StyleVector.blend([(intent.style, 1 - SEED_STEP), (seed.style, SEED_STEP)]) if intent.style else seed.style
    emotion = EmotionVector.blend([(intent.emotion, 1 - SEED_STEP), (seed.emotion, SEED_STEP)])
    return replace(intent, emotion=emotion, style=style)


def refine_with_previous(intent: Intent, previous: Reply | None) -> tuple[Intent, list[str]]:
    """What a refinement means against the list the user just saw.

    "More like the second one" moves the target halfway to that track's mood and style (and
    the search adds the tracks that sound like it: `Moodtune._rank_intent`'s seed);
    "slower" / "faster" bound the tempo by the median tempo of the last list, because a
    direction only means something against what was heard.
    """
    if previous is None or not intent.follow_up or not previous.recommendations:
        return intent, []
    words = REFINEMENT_NOTES[intent.language]
    notes: list[str] = []
    heard = [rec.track for rec in previous.recommendations]
    seed = seed_track(intent, previous)
    if seed is not None:
        intent = toward_seed(intent, seed)
        notes.append(words["seed"].format(title=seed.title))
    direction = lexicon.tempo_direction(intent.text)
    tempos = [track.tempo for track in heard if track.tempo > 0]
    if direction and tempos:
        middle = statistics.median(tempos)
        low, high = intent.tempo_range or (0.0, TEMPO_CEILING_BPM)
        low, high = (low, min(high, middle)) if direction < 0 else (max(low, middle), high)
        intent = replace(intent, tempo_range=(low, high))
        notes.append(words["slower" if direction < 0 else "faster"].format(bpm=middle))
    return intent, notes


@dataclass
class Conversation:
    intents: list[Intent] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)


class Moodtune:
    def __init__(self, settings: Settings, *, llm: LLM | None = None, store: CatalogStore | None = None) -> None:
        self.settings = settings.ensure_dirs()
        self._llm = llm
        self._explainer = llm
        self.store = store or CatalogStore.open(settings)
        self.profiles = ProfileStore(settings.profile_db)
        self.conversations: dict[str, Conversation] = {}
        self._owners: dict[str, str] = {}  # session id -> the user whose conversation it is
        self._lock = threading.Lock()
        self._artists: tuple[str, tuple[str, ...]] | None = None  # (catalog version, its artist names)
        # Held while `warm_up` loads the models (in the background of `moodtune serve`, so the UI is
        # up at once): a turn waits on it rather than loading a second copy of a model meanwhile.
        self._warming = threading.Lock()
        self._loading = threading.Lock()
        self.warmed = threading.Event()
        from agent.review import ReviewLog

        self.review = ReviewLog(settings)
        from tools.langchain_tools import make_search_tool

        self.search_tool = make_search_tool(settings, store=self.store)

    @property
    def llm(self) -> LLM:
        """The model that parses requests."""
        with self._loading:
            if self._llm is None:
                self._llm = LocalLLM.load(self.settings, purpose="parse")
        return self._llm

    @property
    def explainer(self) -> LLM:
        """The model that words explanations: its own context, or the one LLM a caller passed."""
        with self._loading:
            if self._explainer is None:
                self._explainer = LocalLLM.load(self.settings, purpose="explain")
        return self._explainer

    # -- a turn ------------------------------------------------------------------------
    def _conversation(self, session_id: str) -> Conversation:
        with self._lock:
            if session_id not in self.conversations:
                conversation = Conversation()
                logged = self.review.replies(session_id)
                # A reply whose reading the user edited was replaced by the edit: the conversation has the edit only.
                replaced = {r.replaces for r in logged if r.replaces}
                conversation.replies = [r for r in logged if r.reply_id not in replaced]
                conversation.intents = [r.intent for r in conversation.replies]
                conversation.shown = [rec.track.id for r in conversation.replies for rec in r.recommendations]
                self.conversations[session_id] = conversation
            return self.conversations[session_id]

    def warm_up(self) -> None:
        """Load every model and compute the prompt prefixes before the first request.

        Without it the first reply pays for loading (~10 s here) and the first reply in each
        language for reading its explanation prefix. Nothing is logged or learned.
        """
        from tools.emotion import classify_emotion
        from tools.style import TAGGER_MODELS
        from tools.tagger import MusicTagger

        with self._warming:
            try:
                parse_request("calm piano", llm=self.llm, settings=self.settings)
                classify_emotion(["calm piano", "安静的钢琴曲"])  # both readers: English and multilingual
                for name in TAGGER_MODELS:  # an uploaded clip's reading (~0.5 s to load both)
                    MusicTagger.load(name)
                explain.warm_up(self.explainer)
                from moodtune.speech_weights import WHISPER_MODELS, whisper_status
                from tools.speech import whisper_model

                for name in WHISPER_MODELS:  # voice input is optional: its models are loaded when set up
                    if whisper_status(self.settings, name).ready:
                        whisper_model(name, self.settings)
            finally:
                self.warmed.set()

    @property
    def warming_up(self) -> bool:
        """Whether `warm_up` is loading the models right now (the UI says so)."""
        return self._warming.locked()

    def _after_warm_up(self) -> None:
        """Wait for a warm-up under way (a turn then finds every model loaded); at once when none is."""
        with self._warming:
            pass

    def _user_mood(self, intent: Intent) -> EmotionVector | None:
        from tools.langchain_tools import emotion_tool

        # The user's own words, not the parser's paraphrase: the emotion tool reads English with
        # the English classifier and Chinese with the multilingual head (bench/user_mood_zh.py).
        text = intent.text
        if not intent.is_music_request or not text.strip():
            return None
        return EmotionVector.from_mapping(emotion_tool.invoke({"texts": [text]})[0])

    def _rank_turn(
        self, text: str, *, user_id: str, session_id: str, k: int, clip_path: str | None
    ) -> tuple[Reply, list[dict]]:
        conversation = self._conversation(session_id)
        previous = conversation.intents[-1] if conversation.intents else None
        history = [
            Turn(user=r.request, shown=", ".join(f"{rec.track.title} by {rec.track.artist}" for rec in r.recommendations[:4]))
            for r in conversation.replies[-HISTORY_TURNS:]
        ]
        intent = parse_request(text, previous=previous, history=history, llm=self.llm, settings=self.settings)
        last = conversation.replies[-1] if conversation.replies else None
        seed = seed_track(intent, last)
        intent, refinement_notes = refine_with_previous(intent, last)
        return self._rank_intent(
            intent,
            text=text,
            user_id=user_id,
            session_id=session_id,
            k=k,
            clip_path=clip_path,
            user_mood=self._user_mood(intent),
            notes=[*intent.notes, *refinement_notes],
            seed=seed,
        )

    def _rank_intent(
        self,
        intent: Intent,
        *,
        text: str,
        user_id: str,
        session_id: str,
        k: int,
        clip_path: str | None,
        user_mood: EmotionVector | None,
        notes: list[str],
        seed: Track | None,
        replaces: Reply | None = None,
    ) -> tuple[Reply, list[dict]]:
        """Search, rank and the template explanations for an intent; the turn is added to the conversation.

        `replaces`: the conversation's last reply, whose reading the user edited: the new reply
        takes its place, and the tracks it showed do not count as already shown.

        A seed track (a follow-up's "more like the second one", `more_like_this`) or an uploaded
        clip also drives the search by sound: their nearest tracks by the tagger's embedding join
        the candidates, and every candidate gets a "sounds_like" part.
        """
        from tools.langchain_tools import call_with_artifact, style_tool

        conversation = self._conversation(session_id)
        shown_before = list(conversation.shown)
        if replaces is not None:
            shown_before = shown_before[: len(shown_before) - len(replaces.recommendations)]
        target_emotion = lift_target(intent, user_mood) if intent.strategy == "lift" else intent.emotion
        target_style = intent.style
        like_track_id = seed.id if seed is not None else None
        like_embedding = None
        if clip_path:
            clip = style_tool.invoke({"audio_path": clip_path})
            target_style = StyleVector.from_mapping(clip["style"])
            target_emotion = EmotionVector.blend(
                [(target_emotion, 0.5), (EmotionVector.from_mapping(clip["audio_mood"]), 0.5)]
            )
            if clip.get("embedding"):
                like_track_id, like_embedding = None, clip["embedding"]
            notes.append("matched the style, audio mood and sound of your clip")
        query_text = search_text(intent)
        preferences = self.profiles.preferences(user_id)

        def search_and_rank(filters: SearchFilters) -> tuple[list[ScoredTrack], list[ScoredTrack]]:
            tempo_min, tempo_max = filters.tempo_range or (None, None)
            candidates = call_with_artifact(
                self.search_tool,
                {
                    "target_emotion": target_emotion.as_dict(),
                    "target_style": target_style.as_dict() if target_style else None,
                    "text": query_text or None,
                    "exclude_artists": list(filters.exclude_artists),
                    "exclude_genres": list(filters.exclude_genres),
                    "tempo_min": tempo_min,
                    "tempo_max": tempo_max,
                    "genre_terms": list(intent.genre_terms),
                    "like_track_id": like_track_id,
                    "like_embedding": like_embedding,
                    "k": CANDIDATES,
                },
            )
            ranked = rank(
                candidates,
                filters=filters,
                weights=self.settings.rank_weights,
                preferences=preferences,
                co_likes=self.profiles.co_likes(user_id, [c.track.id for c in candidates]),
                shown=shown_before,
                exclude_moods=intent.exclude_moods,
                style_inferred=intent.style_inferred and target_style is intent.style,
                k=k,
            )
            return candidates, ranked

        filters = filters_for(intent)
        candidates, ranked = search_and_rank(filters)
        if not ranked and filters.tempo_range:
            # A tempo is a wish, an exclusion a rule: an empty list helps nobody.
            candidates, ranked = search_and_rank(replace(filters, tempo_range=None))
            notes.append(REFINEMENT_NOTES[intent.language]["tempo_dropped"])
        effective = replace(intent, emotion=target_emotion, style=target_style)
        # A part that is zero for every track says nothing about this list (not shown, weighs nothing).
        shown_parts = parts_worth_showing(ranked)
        facts = [explain.track_facts(s, effective, shown_parts=shown_parts) for s in ranked]
        recommendations = tuple(
            Recommendation(
                scored=s,
                explanation=Explanation(template=explain.template_explanation(f, language=intent.language), facts=f),
                rank=i + 1,
            )
            for i, (s, f) in enumerate(zip(ranked, facts))
        )
        if ranked:
            message = understood.summary(effective, recommendations)
        else:
            message = f"{understood.reading(effective)}: {NO_RESULTS[intent.language]}"
        if notes:
            message += " (" + "; ".join(notes) + ")"
        reply = Reply(
            reply_id=uuid.uuid4().hex[:16],
            session_id=session_id,
            user_id=user_id,
            request=text,
            intent=effective,
            user_mood=user_mood or EmotionVector.uniform(),
            message=message,
            recommendations=recommendations,
            candidates=tuple(candidates),
            notes=tuple(notes),
            versions=self.versions(),
            replaces=replaces.reply_id if replaces is not None else "",
        )
        with self._lock:
            # The reply joins the conversation now (its wording arrives later), so its reading can
            # be edited while the wording streams; `_explained` puts the final reply in its place.
            at = next((i for i, r in enumerate(conversation.replies) if replaces and r.reply_id == replaces.reply_id), None)
            if at is None:
                conversation.intents.append(effective)
                conversation.replies.append(reply)
                conversation.shown.extend(s.track.id for s in ranked)
            else:
                conversation.intents[at] = effective
                conversation.replies[at] = reply
                conversation.shown = [*shown_before, *(s.track.id for s in ranked)]
        return reply, facts

    def stream(
        self,
        text: str,
        *,
        user_id: str = "default",
        session_id: str | None = None,
        k: int = 10,
        clip_path: str | None = None,
        explain_top: int = 5,
    ) -> Iterator[ReplyEvent]:
        """The ranked list first (template explanations), then the LLM's wording as it streams."""
        text = validate_message(text)
        session_id = session_id or uuid.uuid4().hex[:12]
        self._claim_session(session_id, user_id)
        self._after_warm_up()
        reply, facts = self._rank_turn(text, user_id=user_id, session_id=session_id, k=k, clip_path=clip_path)
        yield from self._explained(reply, facts, explain_top=explain_top)

    def _explained(self, reply: Reply, facts: list[dict], *, explain_top: int) -> Iterator[ReplyEvent]:
        """The ranked list, then the LLM's wording of its top `explain_top` as it streams; logged at the end."""
        session_id = reply.session_id
        yield ReplyEvent(kind="reply", reply=reply)
        worded: dict[int, str] = {}
        top = facts[:explain_top]
        try:
            # With nothing to word, the explaining model is not needed (nor loaded).
            for index, delta in explain.stream_explanations(self.explainer, top, reply.intent) if top else ():
                worded[index] = worded.get(index, "") + delta
                yield ReplyEvent(kind="explanation_delta", index=index, text=delta)
        except MoodtuneError as exc:  # the templates stand; the reply is still complete
            log.warning("explanation wording failed: %s", exc)
        recommendations = []
        for i, rec in enumerate(reply.recommendations):
            wording = worded.get(i, "").strip()
            problems = explain.grounding_problems(wording, rec.explanation.facts, reply.intent) if wording else []
            grounded = bool(wording) and not problems
            rejected = {"llm_rejected_text": wording, "llm_rejected_reasons": problems} if problems else {}
            recommendations.append(
                replace(
                    rec,
                    explanation=replace(
                        rec.explanation,
                        llm=wording if grounded else "",
                        facts={**rec.explanation.facts, "llm_rejected": bool(problems), **rejected},
                    ),
                )
            )
            if wording:
                yield ReplyEvent(
                    kind="explanation_done", index=i, text=wording if grounded else rec.explanation.template
                )
        final = replace(reply, recommendations=tuple(recommendations))
        conversation = self._conversation(session_id)
        with self._lock:
            for i, earlier in enumerate(conversation.replies):
                if earlier.reply_id == final.reply_id:  # gone if the user edited its reading meanwhile
                    conversation.replies[i] = final
        self.review.record(final)
        yield ReplyEvent(kind="done", reply=final)

    def recommend(
        self,
        text: str,
        *,
        user_id: str = "default",
        session_id: str | None = None,
        k: int = 10,
        clip_path: str | None = None,
        explain_top: int = 5,
    ) -> Reply:
        return _final_reply(
            self.stream(text, user_id=user_id, session_id=session_id, k=k, clip_path=clip_path, explain_top=explain_top)
        )

    def stream_more_like_this(
        self,
        track_id: str,
        *,
        user_id: str = "default",
        session_id: str | None = None,
        k: int = 10,
        explain_top: int = 0,
        record_feedback: bool = True,
    ) -> Iterator[ReplyEvent]:
        """A turn for the "More like this" button on a track: tracks that sound and feel like it.

        The target moves halfway from the conversation's last intent to the track's own mood and
        style (all the way in a new conversation), the last intent's exclusions still hold, and
        the tracks nearest to it by sound (the tagger's embedding) join the candidates with a
        "sounds_like" part; the track itself is not among them. Records the "more_like_this"
        feedback (as the button did alone) unless `record_feedback` is False. No LLM parses
        anything; `explain_top` > 0 words the top tracks as a typed turn does.
        """
        seed = self.store.get_one(track_id)
        session_id = session_id or uuid.uuid4().hex[:12]
        self._claim_session(session_id, user_id)
        conversation = self._conversation(session_id)
        previous = conversation.intents[-1] if conversation.intents else None
        language = previous.language if previous else "en"
        request = f"more like {seed.title}" if language == "en" else f"多来点像《{seed.title}》的"
        intent = replace(
            toward_seed(previous, seed) if previous else Intent(emotion=seed.emotion, style=seed.style),
            follow_up=previous is not None,
            strategy="match",
            text=request,
            english=f"more like {seed.title}",
            language=language,
            tempo_range=None,
            notes=(),
            is_music_request=True,
        )
        reply, facts = self._rank_intent(
            intent,
            text=request,
            user_id=user_id,
            session_id=session_id,
            k=k,
            clip_path=None,
            user_mood=None,
            notes=[REFINEMENT_NOTES[language]["seed"].format(title=seed.title)],
            seed=seed,
        )
        if record_feedback:
            self.feedback(user_id=user_id, track_id=track_id, kind="more_like_this", reply_id=reply.reply_id)
        yield from self._explained(reply, facts, explain_top=explain_top)

    def more_like_this(
        self,
        track_id: str,
        *,
        user_id: str = "default",
        session_id: str | None = None,
        k: int = 10,
        explain_top: int = 0,
        record_feedback: bool = True,
    ) -> Reply:
        """`stream_more_like_this`'s final reply (for the UI's "More like this" button, HTTP, MCP)."""
        return _final_reply(
            self.stream_more_like_this(
                track_id, user_id=user_id, session_id=session_id, k=k, explain_top=explain_top, record_feedback=record_feedback
            )
        )

    def stream_edited(
        self,
        reply_id: str,
        *,
        keep: Sequence[str],
        add: Sequence[str] = (),
        user_id: str = "default",
        session_id: str,
        k: int = 10,
        explain_top: int = 0,
    ) -> Iterator[ReplyEvent]:
        """The last reply searched again with its reading edited (the chips kept, and added): no LLM parses anything.

        `keep` and `add` are chip ids (`agent.understood`: "mood:calm", "not_mood:sad", ...). Only
        the conversation's latest reply can be edited (an earlier one is what later turns built
        on); the edited reply takes its place. `explain_top` 0: template explanations only, so
        the new list is there at once.
        """
        self._claim_session(session_id, user_id)
        conversation = self._conversation(session_id)
        with self._lock:
            last = conversation.replies[-1] if conversation.replies else None
        if last is None or last.reply_id != reply_id:
            raise InputError(
                "only the latest reply's reading can be changed", hint="ask again, or change the latest reply's chips"
            )
        intent = understood.edit(last.intent, keep, add)
        reply, facts = self._rank_intent(
            intent,
            text=last.request,
            user_id=user_id,
            session_id=session_id,
            k=k,
            clip_path=None,
            user_mood=None,
            notes=[understood.words(intent.language)["edited"]],
            seed=None,
            replaces=last,
        )
        yield from self._explained(reply, facts, explain_top=explain_top)

    def edited(self, reply_id: str, **kwargs) -> Reply:
        """`stream_edited`'s final reply."""
        final = None
        for event in self.stream_edited(reply_id, **kwargs):
            if event.kind == "done":
                final = event.reply
        assert final is not None  # the stream always ends with "done"
        return final

    # -- feedback and profile ----------------------------------------------------------
    def feedback(self, *, user_id: str, track_id: str, kind: FeedbackKind, reply_id: str | None = None) -> None:
        track = self.store.get_one(track_id)
        self.profiles.record(user_id=user_id, track=track, kind=kind, reply_id=reply_id)
        if self.settings.subsonic_star_feedback:  # opt-in: a thumb stars the song on its Subsonic server
            from catalog.subsonic_sync import star_for_feedback

            star_for_feedback(self.settings, user_id=user_id, track_id=track.id, kind=kind)

    def profile(self, user_id: str) -> dict:
        prefs = self.profiles.preferences(user_id)
        return {"moods": prefs.moods.as_dict(), "styles": prefs.styles.as_dict(), "counts": prefs.counts}

    def reset_profile(self, user_id: str) -> None:
        self.profiles.reset(user_id)

    def session_owner(self, session_id: str) -> str | None:
        """The user whose conversation this session is (None: a new session)."""
        with self._lock:
            owner = self._owners.get(session_id)
        return owner or self.review.session_owner(session_id)

    def _claim_session(self, session_id: str, user_id: str) -> None:
        """A conversation belongs to the user who started it; another user may not continue or read it."""
        owner = self.session_owner(session_id)
        if owner is not None and owner != user_id:
            raise PermissionDeniedError(
                "this conversation belongs to another user", hint="start a new one (leave session_id out)"
            )
        with self._lock:
            self._owners.setdefault(session_id, user_id)

    def delete_user(self, user_id: str) -> dict[str, int]:
        """Remove everything stored about a user: feedback (so the profile), logged replies, live conversations.

        Reviewers' verdicts on the user's replies stay, anonymised (see ReviewLog.delete_user).
        """
        feedback = self.profiles.reset(user_id)
        review = self.review.delete_user(user_id)
        with self._lock:
            sessions = {sid for sid, owner in self._owners.items() if owner == user_id}
            sessions |= {
                sid for sid, c in self.conversations.items() if any(r.user_id == user_id for r in c.replies)
            }
            for sid in sessions:
                self.conversations.pop(sid, None)
                self._owners.pop(sid, None)
        return {"feedback": feedback, **review, "conversations": len(sessions)}

    # -- voice (tools/speech.py) -------------------------------------------------------
    def listen(self, audio, *, language: str | None = None):
        """A spoken request as a Transcript; its text then goes through an ordinary turn."""
        from tools.speech import transcribe

        return transcribe(audio, language=language, settings=self.settings, vocabulary=self.artist_names())

    def artist_names(self) -> tuple[str, ...]:
        """The catalog's artists, for the recogniser's second pass; read again only when the catalog changes."""
        version = self.store.version()
        with self._lock:
            if self._artists is not None and self._artists[0] == version:
                return self._artists[1]
        names = tuple(self.store.artist_names())
        with self._lock:
            self._artists = (version, names)
        return names

    def speak(self, reply: Reply):
        """What a voice reply says (its first line, the top tracks' short reasons) and the WAV of it."""
        from tools.speech import speak_reply

        return speak_reply(reply, settings=self.settings)

    def track(self, track_id: str) -> Track:
        return self.store.get_one(track_id)

    def history(self, session_id: str) -> list[Reply]:
        return list(self._conversation(session_id).replies)

    def versions(self) -> dict[str, str]:
        from tools.emotion_model import ARTEFACT_VERSION as EMOTION_VERSION
        from tools.style import ARTEFACT_VERSION as STYLE_VERSION

        return {
            "llm": getattr(self._llm, "name", "not loaded"),
            "emotion": EMOTION_VERSION,
            "style": STYLE_VERSION,
            "catalog": self.store.version(),
        }


# A message that is mostly these is binary data, not a request.
_NOT_TEXT = {"Cc", "Cs", "Co", "Cn"}


def validate_message(text: str) -> str:
    """A message every face (UI, HTTP, MCP, terminal) may pass on: text, not bytes.

    InputError for a message that is not valid Unicode (lone surrogates: bytes that were not
    UTF-8) or is mostly control or undecodable characters; other control characters become spaces.
    """
    if not isinstance(text, str):
        raise InputError("the message must be text", hint="send the request as a string")
    if not text.strip():  # before anything loads the model
        raise InputError("your message is empty", hint="tell me what you'd like to hear, e.g. 'calm piano for reading'")
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise InputError("your message is not valid UTF-8 text", hint="send it as UTF-8")
    odd = sum(1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) in _NOT_TEXT and ch not in "\t\n\r"))
    if text and odd > max(3, len(text) // 4):
        raise InputError("your message looks like binary data, not words", hint="tell me what you'd like to hear")
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)


def validate_user_id(user_id: str) -> str:
    if not user_id or len(user_id) > 64 or not user_id.replace("-", "").replace("_", "").isalnum():
        raise InputError("user ids are 1-64 letters, digits, '-' or '_'")
    return user_id


def _final_reply(events: Iterator[ReplyEvent]) -> Reply:
    """The reply a turn's event stream ends with (every stream ends with "done")."""
    final = None
    for event in events:
        if event.kind == "done":
            final = event.reply
    if final is None:
        raise RuntimeError("a reply stream ended without its final reply")
    return final
