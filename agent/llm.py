"""The one adapter around llama-cpp-python: load once, generate, stream, JSON-constrained output.

Everything else talks to the `LLM` protocol, so logic-only tests can pass a fake. One
generation runs at a time (a lock shared by every instance): two on two cores would each run
at a quarter speed.

Each purpose (parsing, explaining) gets its own llama.cpp context on the same weights (the
file is memory-mapped once by the OS). A context keeps the KV state of its last prompt, and
llama.cpp reuses the longest common prefix of the next one: so the parse prompt's few-shot
prefix and the explanation prompt's instructions each stay computed, instead of one evicting
the other every turn. That took parsing from ~3.2 s to ~2.0 s here; a RAM cache of saved
states (LlamaRAMCache) did worse, because saving and restoring the whole state costs more
than it saves at this size.

One prefix per context is not enough for explanations: their instructions and example are
in the reply's language, so a reply in the other language than the last read its ~200-250
prefix tokens again (2-4 s before the first word). A caller that names its prefix
(`prefix=`) gets it back from a saved state of that prefix alone (~6 MB, ~0.35 s to load), and
everything after it is read afresh: the same prompt then gets the same answer, whatever the
context held before (the parser names its system prompt and fixed examples so).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from moodtune.artefacts import log_load
from moodtune.config import LLM_FILE_NAME, Settings
from moodtune.errors import LLMError, ModelMissingError

Message = dict[str, str]
PURPOSES = ("parse", "explain")
_GENERATION_LOCK = threading.Lock()
# Saved prompt-prefix states kept per context (one per language and prompt, in practice).
MAX_SAVED_PREFIXES = 4
# Prefix states kept on disk (~28 KB a token: 10-25 MB each); the oldest go first.
MAX_STATE_FILES = 8
log = logging.getLogger(__name__)


class LLM(Protocol):
    name: str

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        prefix: int = 0,
        prefill: str = "",
    ) -> str: ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        prefix: int = 0,
    ) -> Iterator[str]: ...

    def generate_json(
        self,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any],
        max_tokens: int,
        unread: Sequence[str] = (),
        prefill: str = "",
        prefix: int = 0,
    ) -> dict[str, Any]: ...

    def keep_prefix(self, messages: Sequence[Message]) -> None: ...


class LocalLLM:
    """Qwen2.5-Coder-1.5B-Instruct Q4_K_M through llama-cpp-python, with a prompt-prefix cache."""

    def __init__(self, llama, *, name: str, state_dir: Path | None = None, identity: str = "") -> None:
        """`state_dir`: where prefix states are kept between processes; `identity` names everything
        a state depends on besides its tokens (model file, llama.cpp build, context settings)."""
        self.llama = llama
        self.name = name
        self.lock = _GENERATION_LOCK
        self.last_timing: dict[str, float] = {}
        self._prefix_states: dict[tuple[tuple[str, str], ...], tuple[list[int], Any]] = {}
        self.state_dir, self.identity = state_dir, identity

    @classmethod
    def load(cls, settings: Settings, *, purpose: str = "parse") -> LocalLLM:
        """The model with a context of its own for `purpose` (one of PURPOSES), loaded once."""
        if purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {PURPOSES}, not {purpose!r}")
        model = _load_cached(
            settings.resolved_llm_path, settings.llm_context, settings.llm_threads, settings.llm_seed, purpose
        )
        # One context serves a process; its prefix states go to the home of the first settings that loaded it.
        model.state_dir = model.state_dir or settings.llm_state_dir
        return model

    def _chat(self, messages: Sequence[Message], *, max_tokens: int, temperature: float, stream: bool, **extra):
        with _llama_errors():
            return self.llama.create_chat_completion(
                messages=defused(messages), max_tokens=max_tokens, temperature=temperature, stream=stream, **extra
            )

    def _restore_prefix(self, messages: Sequence[Message], prefix: int) -> None:
        """Make the context hold `messages[:prefix]`, from a saved state when another prompt evicted it.

        The prefix is rendered as ChatML, Qwen's chat template. Were the template another, the
        saved prefix would only fail to match and llama.cpp would read the prompt as before.
        """
        if prefix <= 0:
            return
        key = tuple((m["role"], m["content"]) for m in messages[:prefix])
        if key not in self._prefix_states:
            tokens = self.llama.tokenize(chatml(messages[:prefix]).encode(), add_bos=False, special=True)
            if len(self._prefix_states) >= MAX_SAVED_PREFIXES:
                self._prefix_states.pop(next(iter(self._prefix_states)))
            state = self._state_from_disk(tokens)
            if state is not None:
                try:
                    self._load_state(state)
                except RuntimeError as exc:  # another llama.cpp than the stamp says: read the prefix
                    log.warning("the saved prompt state did not load (%s); reading the prompt instead", exc)
                    state = None
            if state is None:
                state = self._read_prefix(tokens)
                self._state_to_disk(tokens, state)
            self._prefix_states[key] = (tokens, state)
            return
        tokens, state = self._prefix_states[key]
        if list(self.llama.input_ids[: len(tokens)]) != tokens:
            self._load_state(state)
        # Whatever follows the prefix is read afresh, never reused from the last prompt: floats summed
        # in another batch come out a hair apart, and a greedy answer can turn on that hair. The same
        # prompt then gets the same answer whatever came before it (CPCD fresh read 0.958 in one run
        # and 0.931 in another when the reuse point followed the last prompt).
        self.llama.n_tokens = min(self.llama.n_tokens, len(tokens))

    def _read_prefix(self, tokens: list[int]):
        """Read the prefix with nothing after it in the context, so its saved state holds it alone."""
        self.llama.reset()
        self.llama.eval(tokens)
        # save_state copies a logits row per token read (up to n_batch rows, ~310 MB here, 0.6-1.2 s a
        # prefix), read only for logprobs, which this context never computes: it is shown one row to
        # copy (and `_load_state` writes none back).
        scores = self.llama.scores
        self.llama.scores = scores[:1]
        try:
            return self.llama.save_state()
        finally:
            self.llama.scores = scores

    def _load_state(self, state) -> None:
        """llama-cpp-python's load_state without its logits rows: it writes one per token of the
        state into an array of n_batch x n_vocab floats (~310 MB here) that only logprobs read, which
        this context never computes; the first write of those pages took 2.6 s and 310 MB of memory."""
        import ctypes

        import llama_cpp

        llama = self.llama
        llama.input_ids = state.input_ids.copy()
        llama.n_tokens = state.n_tokens
        llama._requires_eval = True
        llama._seed = state.seed
        data = (ctypes.c_uint8 * state.llama_state_size).from_buffer_copy(state.llama_state)
        if llama_cpp.llama_state_set_data(llama._ctx.ctx, data, state.llama_state_size) != state.llama_state_size:
            raise RuntimeError("llama.cpp did not take the saved prompt state")

    # Reading a fixed prefix is most of a start (~8 s for the parser's ~700 tokens here); its state
    # on disk is loaded in a fraction of a second. A state is only ever loaded into the context that
    # wrote it: same model file, llama.cpp build and settings (`identity`), same tokens, and its
    # bytes checked, since llama.cpp reads a state without checking it.
    def _state_path(self, tokens: Sequence[int]) -> Path | None:
        if self.state_dir is None:
            return None
        digest = hashlib.sha256(self.identity.encode() + np.asarray(tokens, dtype=np.int64).tobytes())
        return self.state_dir / f"{digest.hexdigest()[:32]}.npz"

    def _state_from_disk(self, tokens: Sequence[int]):
        path = self._state_path(tokens)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path) as saved:
                data = saved["llama_state"].tobytes()
                if hashlib.sha256(data).hexdigest() != str(saved["sha256"]) or list(saved["input_ids"]) != list(tokens):
                    raise ValueError("its contents do not match")
                from llama_cpp.llama import LlamaState

                # The context keeps its input ids in an array of its full length.
                input_ids = np.zeros(self.llama.n_ctx(), dtype=np.intc)
                input_ids[: len(tokens)] = tokens
                state = LlamaState(
                    input_ids=input_ids,
                    scores=np.zeros((0, self.llama.n_vocab()), dtype=np.single),  # never read: see _load_state
                    n_tokens=len(tokens),
                    llama_state=data,
                    llama_state_size=len(data),
                    seed=int(saved["seed"]),
                )
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("ignoring the saved prompt state %s (%s); reading the prompt instead", path, exc)
            with suppress(OSError):
                path.unlink(missing_ok=True)
            return None
        os.utime(path)  # the oldest unused go first
        return state

    def _state_to_disk(self, tokens: Sequence[int], state) -> None:
        path = self._state_path(tokens)
        if path is None:
            return
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")  # two processes may write the same state
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            data = bytes(state.llama_state[: state.llama_state_size])
            with tmp.open("wb") as out:
                np.savez(
                    out,
                    llama_state=np.frombuffer(data, dtype=np.uint8),
                    sha256=hashlib.sha256(data).hexdigest(),
                    input_ids=np.asarray(state.input_ids[: state.n_tokens], dtype=np.intc),
                    seed=state.seed,
                )
            os.replace(tmp, path)
            for old in sorted(self.state_dir.glob("*.npz"), key=lambda p: p.stat().st_mtime)[:-MAX_STATE_FILES]:
                old.unlink(missing_ok=True)
        except OSError as exc:  # a full or read-only disk: the next start reads the prompt again
            log.warning("could not keep the prompt state in %s (%s)", self.state_dir, exc)
            with suppress(OSError):
                tmp.unlink(missing_ok=True)

    def keep_prefix(self, messages: Sequence[Message]) -> None:
        """Read `messages` now and keep them as a restorable prefix (a warm-up: no answer)."""
        with self.lock, _llama_errors():
            self._restore_prefix(messages, len(messages))

    @property
    def saved_prefixes(self) -> list[list[int]]:
        """The token sequences of the prompt prefixes this context can restore."""
        return [tokens for tokens, _ in self._prefix_states.values()]

    def generate(self, messages, *, max_tokens, temperature=0.0, stop=None, prefix=0, prefill="") -> str:
        """The model's answer to `messages`; with `prefill`, the answer as continued from that start.

        A prefilled start is read with the prompt (~12 ms a token here) instead of generated
        (~75 ms a token); it is rendered as ChatML, Qwen's chat template, as the chat call does.
        """
        with self.lock, _llama_errors():
            self._restore_prefix(messages, prefix)
            start = time.perf_counter()
            if prefill:
                out = self.llama.create_completion(
                    prompt=chatml(messages) + "<|im_start|>assistant\n" + prefill,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=list(stop or []),
                )
                text = prefill + (out["choices"][0]["text"] or "")
            else:
                out = self._chat(
                    messages, max_tokens=max_tokens, temperature=temperature, stream=False, stop=list(stop or [])
                )
                text = out["choices"][0]["message"]["content"] or ""
            self.last_timing = {
                "seconds": time.perf_counter() - start,
                "completion_tokens": out["usage"]["completion_tokens"],
            }
            return text

    def stream(self, messages, *, max_tokens, temperature=0.0, stop=None, prefix=0) -> Iterator[str]:
        with self.lock, _llama_errors():  # a streamed completion raises while it is read
            self._restore_prefix(messages, prefix)
            for chunk in self._chat(
                messages, max_tokens=max_tokens, temperature=temperature, stream=True, stop=list(stop or [])
            ):
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta

    def generate_json(self, messages, *, schema, max_tokens, unread=(), prefill="", prefix=0) -> dict[str, Any]:
        """An object that satisfies `schema`: the model's free answer when it is one, else constrained.

        Sampling under the schema's grammar checks every token of the vocabulary (151k) at each
        step: ~25 ms a token here, a fifth of a parse. With few-shot examples the free answer is
        almost always a one-line object; its values outside the schema are dropped. An answer
        that is no object (prose, an injected instruction obeyed, cut off) or lacks a required
        key is generated again under the grammar, so the result always satisfies the schema.

        The free answer stops at its closing brace (the end-of-turn token after it would cost a
        step, ~80 ms here) and, for each key in `unread`, where the model starts writing that key:
        a value the caller will not read is not worth its tokens (the parser's paraphrase is ~8-15
        of them, ~0.7-1.3 s here). The object is closed by code. `prefill` is the answer's known
        start (the parser's '{"m'), read with the prompt instead of generated.
        """
        start = time.perf_counter()
        free = self.generate(
            messages,
            max_tokens=min(max_tokens, FREE_ANSWER_TOKENS),
            stop=free_answer_stops(unread),
            prefill=prefill,
            prefix=prefix,
        )
        value = _object_satisfying(closed(free), schema)
        tokens = self.last_timing["completion_tokens"]
        if value is None and tokens >= min(max_tokens, FREE_ANSWER_TOKENS):
            value, tokens = self._continued_after_loop(free, tokens, messages, schema, unread, prefix)
        constrained = value is None
        if constrained:
            with self.lock:
                self._restore_prefix(messages, prefix)
                out = self._chat(
                    messages,
                    max_tokens=max_tokens,
                    temperature=0.0,
                    stream=False,
                    response_format={"type": "json_object", "schema": schema},
                )
            text = out["choices"][0]["message"]["content"] or ""
            try:
                value = json.loads(text)
            except ValueError as exc:
                # Only possible when max_tokens cut the constrained output short.
                raise LLMError(
                    "the model's answer was cut off before it was complete", hint="try a shorter request"
                ) from exc
            if not isinstance(value, dict):
                raise LLMError("the model did not answer with a JSON object")
        self.last_timing = {
            "seconds": time.perf_counter() - start,
            "completion_tokens": tokens + (out["usage"]["completion_tokens"] if constrained else 0),
            "constrained": constrained,
        }
        return value

    def _continued_after_loop(
        self, free, tokens, messages, schema, unread, prefix
    ) -> tuple[dict[str, Any] | None, int]:
        """A free answer cut off while looping in a list, closed and continued; (None, tokens) if it cannot be.

        The grammar would write the same items (greedy, same prompt) up to the list's maxItems,
        close it and go on, ~100 ms a token: 10-14 s for such an answer here. Instead the list is
        closed after its last whole item, cut to what the schema allows, and the model continues
        from there without the grammar, so the keys after the list are still read (~2 s). The start
        ends with the comma after the list: under the grammar the model writes '"],"' as one token
        and goes on to the next key, while after a bare ']' it closed the object and lost a line's
        artists. A continuation that is no object (nothing more to say) leaves the list alone.
        """
        head = _object_satisfying(closed_after_last_item(free), schema)
        if head is None:
            return None, tokens
        start = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ","
        more = self.generate(
            messages, max_tokens=FREE_ANSWER_TOKENS, stop=free_answer_stops(unread), prefill=start, prefix=prefix
        )
        tokens += self.last_timing["completion_tokens"]
        return _object_satisfying(closed(more), schema) or head, tokens


# A free answer longer than this is the model looping in a list ("m":["romantic","energetic",
# "calm","happy","romantic",...), seen on garbled voice transcripts and 1-2 in 100 typed requests:
# it is cut here, closed after its last whole item and continued (LocalLLM._continued_after_loop);
# only when that gives no object is it generated under the grammar. The longest answer that was no
# loop, in 668 timed parses of the dev and held-out sets, had 43 tokens.
FREE_ANSWER_TOKENS = 64


def chatml(messages: Sequence[Message]) -> str:
    """`messages` in ChatML, the chat template of Qwen2.5 (whose messages here always start with a system one)."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in defused(messages))


def defused(messages: Sequence[Message]) -> list[Message]:
    """`messages` with no text that reads as a control token.

    A prompt is tokenized with its control tokens live (that is how ChatML's markers become
    tokens), so a request or a track's tag holding "<|im_end|><|im_start|>system" would open a
    turn of its own. "<|" never occurs in our prompts; in anything else it becomes "< |", which
    the model reads as the same characters.
    """
    return [{**m, "content": m["content"].replace("<|", "< |")} for m in messages]


def free_answer_stops(unread: Sequence[str] = ()) -> list[str]:
    """Where a free JSON answer is cut: its line's end, its closing brace, the start of an unread key."""
    return ["\n", "}", *(f',"{key}":' for key in unread)]


def closed(text: str) -> str:
    """A free answer cut at a stop, with the closing brace the stop took."""
    return text if text.rstrip().endswith("}") else text + "}"


def closed_after_last_item(text: str) -> str:
    """A free answer cut off inside a list, ended after its last whole string and closed.

    '{"m":["calm","sad","calm","sa' -> '{"m":["calm","sad","calm"]}': whatever follows the last
    string that ended with a comma is dropped, then each list and object still open is closed.
    """
    end = text.rfind('",')
    if end < 0:
        return text
    kept = text[: end + 1]
    closers, in_string, escaped = [], False, False
    for char in kept:
        if in_string:
            in_string = not (char == '"' and not escaped)
            escaped = char == "\\" and not escaped
        elif char == '"':
            in_string = True
        elif char in "[{":
            closers.append("]" if char == "[" else "}")
        elif char in "]}" and closers:
            closers.pop()
    return kept + "".join(reversed(closers))


def _object_satisfying(text: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON object `text` starts with, reduced to what `schema` allows; None if that is not enough.

    Values the grammar could never have produced are dropped, not fixed: a key the schema does
    not know, a list item outside its enum ("funk" among the genres), items past maxItems, a
    value of the wrong type. The object is refused only when it is not one, or lacks a required key.
    """
    from jsonschema import Draft202012Validator

    try:
        value, _ = json.JSONDecoder().raw_decode(text.strip())
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    kept: dict[str, Any] = {}
    for key, item in value.items():
        rules = schema.get("properties", {}).get(key)
        if rules is None:
            continue
        if rules.get("type") == "array" and isinstance(item, list):
            valid = Draft202012Validator(rules.get("items", {}))
            kept[key] = [x for x in item if valid.is_valid(x)][: rules.get("maxItems")]
        elif Draft202012Validator(rules).is_valid(item):
            kept[key] = item
    return kept if Draft202012Validator(schema).is_valid(kept) else None


@contextmanager
def _llama_errors() -> Iterator[None]:
    """llama-cpp's ValueErrors as LLMError: a context overflow says so, anything else is named."""
    try:
        yield
    except ValueError as exc:
        if "exceed context window" in str(exc):
            raise LLMError(f"the request does not fit the model's context: {exc}", hint="shorten the message") from exc
        raise LLMError(
            f"the language model failed: {exc}", hint="try again; if it repeats, run `moodtune doctor`"
        ) from exc


_LOADED: list[LocalLLM] = []


@atexit.register
def _close_loaded_models() -> None:
    # Left to the interpreter's teardown, llama.cpp's own __del__ runs after the module globals
    # it needs are gone and prints a TypeError traceback on every exit.
    for model in _LOADED:
        model.llama.close()


def _context_identity(llama, path: Path) -> str:
    """What a context's state depends on besides its tokens: the model file, the llama.cpp library
    (rebuilt for each CPU at install) and the context's settings."""
    import llama_cpp
    import llama_cpp.llama_cpp as native

    def stamp(file: Path) -> str:
        stat = file.stat()
        return f"{file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"

    library = Path(getattr(native._lib, "_name", "") or "")
    parts = [
        stamp(path),
        stamp(library) if library.is_file() else "library not found",
        llama_cpp.__version__,
        f"ctx={llama.n_ctx()} batch={llama.n_batch} ubatch={llama.context_params.n_ubatch}",
        f"threads={llama.n_threads}/{llama.n_threads_batch}",
    ]
    return "|".join(parts)


@cache
def _load_cached(path: Path, n_ctx: int, n_threads: int, seed: int, purpose: str) -> LocalLLM:
    if not path.is_file():
        raise ModelMissingError(f"the language model {path} is missing", hint="run `moodtune setup`")
    try:
        from llama_cpp import Llama
    except ImportError as exc:
        raise ModelMissingError(
            "llama-cpp-python is not installed", hint="run ./run.sh (it builds llama-cpp-python)"
        ) from exc
    with log_load(f"LLM {path} ({purpose} context)"):
        try:
            llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, seed=seed, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise LLMError(
                f"the language model {path} could not be loaded ({exc})",
                hint="run `moodtune setup --force` to rebuild it",
            ) from exc
    model = LocalLLM(
        llama,
        name=path.name if path.name != LLM_FILE_NAME else "qwen2.5-coder-1.5b-instruct-q4_k_m",
        identity=_context_identity(llama, path),
    )
    _LOADED.append(model)
    return model
