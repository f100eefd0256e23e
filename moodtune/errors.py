"""The one exception hierarchy. Every message says what went wrong and what to do.

Raise a subclass with a `hint` the user can act on; the CLI, the UI and the HTTP API
print `message` and `hint` and never a traceback.
"""

from __future__ import annotations


class MoodtuneError(Exception):
    """Base of every error Moodtune raises on purpose."""

    #: HTTP status the API maps this error to.
    http_status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, str | None]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class ConfigError(MoodtuneError):
    """A setting or environment variable has a value Moodtune cannot use."""


class InputError(MoodtuneError):
    """The user's input (message, file, JSON body) cannot be used as given."""

    http_status = 400


class NotFoundError(InputError):
    """A track, user, session or file the caller named does not exist."""

    http_status = 404


class PermissionDeniedError(InputError):
    """The caller is signed in but may not do this (another user's data, the review log)."""

    http_status = 403


class ModelMissingError(MoodtuneError):
    """A model or artefact file is not where it should be."""

    http_status = 503


class ModelCorruptError(MoodtuneError):
    """A model or artefact exists but fails its size, checksum or version check."""

    http_status = 503


class AudioReadError(InputError):
    """An audio file is unreadable, empty or in a format Moodtune does not read."""


class CatalogError(MoodtuneError):
    """The Chroma catalog store cannot be opened, read or written."""

    http_status = 503


class LLMError(MoodtuneError):
    """The local language model failed to load or to produce a usable answer."""

    http_status = 503


class BusyError(MoodtuneError):
    """Too many requests are waiting for the one shared model; try again shortly."""

    http_status = 503


class StorageError(MoodtuneError):
    """Writing state under MOODTUNE_HOME failed (disk full, read-only, permissions)."""

    http_status = 507


class NoSpeechError(AudioReadError):
    """A recording holds no speech to transcribe (silence, or too short)."""

    http_status = 422


class AudioTooLongError(AudioReadError):
    """A recording is longer than Moodtune transcribes (Settings.voice_max_seconds)."""

    http_status = 413


class SpeechEngineMissingError(ModelMissingError):
    """The speech synthesiser (Debian's espeak-ng) is not installed."""


class ClusterError(MoodtuneError):
    """The distributed engine (a Dask scheduler and its workers) cannot be reached or used."""

    http_status = 503
