"""JSON forms of the shared types, used by the review log, the HTTP API and `--json` output."""

from __future__ import annotations

from typing import Any

from moodtune.types import EmotionVector, Explanation, Intent, Recommendation, Reply, ScoredTrack, StyleVector, Track


def track_to_dict(track: Track) -> dict[str, Any]:
    return {
        "id": track.id,
        "path": track.path,
        "title": track.title,
        "artist": track.artist,
        "album": track.album,
        "year": track.year,
        "duration": round(track.duration, 2),
        "source": track.source,
        "licence": track.licence,
        "emotion": track.emotion.as_dict(),
        "style": track.style.as_dict(),
        "valence": round(track.valence, 4),
        "arousal": round(track.arousal, 4),
        "tempo": round(track.tempo, 1),
        "key": track.key,
        "mode": track.mode,
        "text": track.text,
        "genre_tag": track.genre_tag,
        "instrumental": track.instrumental,
        "tags": dict(track.tags),
        "extra": dict(track.extra),
    }


def track_from_dict(data: dict[str, Any]) -> Track:
    return Track(
        id=data["id"],
        path=data["path"],
        title=data["title"],
        artist=data.get("artist", ""),
        album=data.get("album", ""),
        year=data.get("year"),
        duration=data.get("duration", 0.0),
        source=data.get("source", "user"),
        licence=data.get("licence", ""),
        emotion=EmotionVector.from_mapping(data["emotion"]),
        style=StyleVector.from_mapping(data["style"]),
        tempo=data.get("tempo", 0.0),
        key=data.get("key", ""),
        mode=data.get("mode", ""),
        text=data.get("text", ""),
        genre_tag=data.get("genre_tag", ""),
        instrumental=data.get("instrumental", True),
        tags=data.get("tags") or {},
        extra=data.get("extra", {}),
    )


def intent_to_dict(intent: Intent) -> dict[str, Any]:
    return {
        "moods": intent.emotion.as_dict(),
        "valence": round(intent.valence, 4),
        "arousal": round(intent.arousal, 4),
        "genres": intent.style.as_dict() if intent.style else None,
        "style_inferred": intent.style_inferred,
        "genre_terms": list(intent.genre_terms),
        "artists": list(intent.artists),
        "exclude_artists": list(intent.exclude_artists),
        "exclude_genres": list(intent.exclude_genres),
        "exclude_moods": list(intent.exclude_moods),
        "context": intent.context,
        "tempo_range": list(intent.tempo_range) if intent.tempo_range else None,
        "energy": intent.energy,
        "follow_up": intent.follow_up,
        "strategy": intent.strategy,
        "english": intent.english,
        "language": intent.language,
        "text": intent.text,
        "is_music_request": intent.is_music_request,
        "notes": list(intent.notes),
    }


def intent_from_dict(data: dict[str, Any]) -> Intent:
    return Intent(
        emotion=EmotionVector.from_mapping(data["moods"]),
        style=StyleVector.from_mapping(data["genres"]) if data.get("genres") else None,
        style_inferred=data.get("style_inferred", False),
        genre_terms=tuple(data.get("genre_terms", ())),
        artists=tuple(data.get("artists", ())),
        exclude_artists=tuple(data.get("exclude_artists", ())),
        exclude_genres=tuple(data.get("exclude_genres", ())),
        exclude_moods=tuple(data.get("exclude_moods", ())),
        context=data.get("context"),
        tempo_range=tuple(data["tempo_range"]) if data.get("tempo_range") else None,
        energy=data.get("energy"),
        follow_up=data.get("follow_up", False),
        strategy=data.get("strategy", "match"),
        english=data.get("english", ""),
        language=data.get("language", "en"),
        text=data.get("text", ""),
        is_music_request=data.get("is_music_request", True),
        notes=tuple(data.get("notes", ())),
    )


def scored_to_dict(scored: ScoredTrack) -> dict[str, Any]:
    return {
        "track": track_to_dict(scored.track),
        "parts": {k: round(v, 4) for k, v in scored.parts.items()},
        "total": round(scored.total, 4),
    }


def scored_from_dict(data: dict[str, Any]) -> ScoredTrack:
    return ScoredTrack(track=track_from_dict(data["track"]), parts=data["parts"], total=data["total"])


def recommendation_to_dict(rec: Recommendation) -> dict[str, Any]:
    return {
        **scored_to_dict(rec.scored),
        "rank": rec.rank,
        "explanation": {
            "template": rec.explanation.template,
            "llm": rec.explanation.llm,
            "facts": dict(rec.explanation.facts),
        },
    }


def recommendation_from_dict(data: dict[str, Any]) -> Recommendation:
    explanation = data["explanation"]
    return Recommendation(
        scored=scored_from_dict(data),
        rank=data.get("rank", 0),
        explanation=Explanation(
            template=explanation["template"], llm=explanation.get("llm", ""), facts=explanation.get("facts", {})
        ),
    )


def reply_to_dict(reply: Reply, *, with_candidates: bool = True) -> dict[str, Any]:
    data = {
        "reply_id": reply.reply_id,
        "session_id": reply.session_id,
        "user_id": reply.user_id,
        "request": reply.request,
        "intent": intent_to_dict(reply.intent),
        "user_mood": reply.user_mood.as_dict(),
        "message": reply.message,
        "recommendations": [recommendation_to_dict(r) for r in reply.recommendations],
        "notes": list(reply.notes),
        "versions": dict(reply.versions),
        "replaces": reply.replaces,
    }
    if with_candidates:
        data["candidates"] = [scored_to_dict(c) for c in reply.candidates]
    return data


def reply_from_dict(data: dict[str, Any]) -> Reply:
    return Reply(
        reply_id=data["reply_id"],
        session_id=data["session_id"],
        user_id=data["user_id"],
        request=data["request"],
        intent=intent_from_dict(data["intent"]),
        user_mood=EmotionVector.from_mapping(data["user_mood"]),
        message=data["message"],
        recommendations=tuple(recommendation_from_dict(r) for r in data["recommendations"]),
        candidates=tuple(scored_from_dict(c) for c in data.get("candidates", [])),
        notes=tuple(data.get("notes", ())),
        versions=data.get("versions", {}),
        replaces=data.get("replaces", ""),
    )
