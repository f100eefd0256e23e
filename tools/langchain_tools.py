"""The three tools as LangChain tools: typed input schemas around the plain functions.

The plain functions (classify_emotion, classify_style, search_catalog) are the source of
truth; these wrappers add only a schema and JSON-friendly output. search_catalog also
returns the ScoredTrack objects as the tool's artifact, so the agent gets them without a
second catalog read while a model sees only the JSON summary.
"""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from moodtune.config import Settings
from moodtune.types import TEMPO_CEILING_BPM, EmotionVector, StyleVector
from tools.emotion import classify_emotion
from tools.search import SearchFilters, search_catalog
from tools.style import classify_style


class EmotionInput(BaseModel):
    texts: list[str] = Field(description="English or Chinese texts to classify (a request, or a track's title/tags/lyrics)")


class StyleInput(BaseModel):
    audio_path: str = Field(description="path of an audio file (mp3, flac, ogg or wav)")


class SearchInput(BaseModel):
    target_emotion: dict[str, float] = Field(
        description="weights over the moods happy, sad, calm, energetic, romantic, nostalgic, angry, tense"
    )
    target_style: dict[str, float] | None = Field(
        default=None, description="weights over the genres, or null for any style"
    )
    text: str | None = Field(default=None, description="words to match against titles, tags and lyrics")
    exclude_artists: list[str] = Field(default_factory=list)
    exclude_genres: list[str] = Field(default_factory=list)
    tempo_min: float | None = None
    tempo_max: float | None = None
    instrumental_only: bool = False
    genre_terms: list[str] = Field(
        default_factory=list, description="genre words of the request, also beyond the ten (funk, k-pop, electronic)"
    )
    like_track_id: str | None = Field(default=None, description="a track whose sound the results should share")
    like_embedding: list[float] | None = Field(
        default=None, description="a clip's sound embedding (classify_style's 'embedding') the results should share"
    )
    k: int = Field(default=20, ge=1, le=200)


def _emotion(texts: list[str]) -> list[dict[str, float]]:
    return [vector.as_dict() for vector in classify_emotion(texts)]


def _style(audio_path: str) -> dict[str, Any]:
    result = classify_style(audio_path)
    return {
        "style": result.style.as_dict(),
        "svm_style": result.svm_style.as_dict() if result.svm_style else None,
        "style_weights": dict(result.weights),
        "genre_terms": {t: round(v, 3) for t, v in list(result.genre_terms.items())[:8]},
        "embedding": [round(float(v), 5) for v in result.embedding] if result.embedding is not None else None,
        "audio_mood": result.audio_mood.as_dict(),
        "valence": round(result.valence, 3),
        "arousal": round(result.arousal, 3),
        "tempo": round(result.features.tempo, 1),
        "key": result.features.key,
        "mode": result.features.mode,
    }


def make_search_tool(settings: Settings | None = None, store=None) -> BaseTool:
    def _search(
        target_emotion,
        target_style=None,
        text=None,
        exclude_artists=(),
        exclude_genres=(),
        tempo_min=None,
        tempo_max=None,
        instrumental_only=False,
        genre_terms=(),
        like_track_id=None,
        like_embedding=None,
        k=20,
    ):
        tempo = (tempo_min or 0.0, tempo_max or TEMPO_CEILING_BPM) if (tempo_min or tempo_max) else None
        filters = SearchFilters(
            exclude_artists=tuple(exclude_artists),
            exclude_genres=tuple(exclude_genres),
            tempo_range=tempo,
            instrumental_only=instrumental_only,
        )
        results = search_catalog(
            EmotionVector.from_mapping(target_emotion),
            StyleVector.from_mapping(target_style) if target_style else None,
            text,
            filters=filters,
            k=k,
            store=store,
            settings=settings,
            genre_terms=tuple(genre_terms or ()),
            like=like_track_id or like_embedding,
        )
        summary = [
            {
                "id": s.track.id,
                "title": s.track.title,
                "artist": s.track.artist,
                "score": round(s.total, 3),
                "parts": {n: round(v, 3) for n, v in s.parts.items()},
            }
            for s in results
        ]
        return summary, results

    return StructuredTool.from_function(
        func=_search,
        name="search_catalog",
        args_schema=SearchInput,
        response_format="content_and_artifact",
        description=(
            "Find catalog tracks close to a target mood and style, optionally matching words and genre words, "
            "or sounding like a track or clip, with filters."
        ),
    )


emotion_tool = StructuredTool.from_function(
    func=_emotion,
    name="classify_emotion",
    args_schema=EmotionInput,
    description="Emotion distribution over happy, sad, calm, energetic, romantic, nostalgic, angry, tense for English or Chinese texts.",
)
style_tool = StructuredTool.from_function(
    func=_style,
    name="classify_style",
    args_schema=StyleInput,
    description=(
        "Genre distribution (GTZAN's ten genres), genre words, audio mood and sound embedding of an audio file, "
        "for 'find music like this clip'."
    ),
)


def call_with_artifact(tool: BaseTool, args: dict[str, Any]) -> Any:
    """Invoke a content-and-artifact tool as a tool call and return its artifact."""
    message = tool.invoke({"name": tool.name, "args": args, "id": uuid.uuid4().hex, "type": "tool_call"})
    return message.artifact
