"""The music tagger: pretrained MusiCNN (musicnn 0.1.0, ISC) ported to torch -> 50 tag probabilities + a 200-d embedding.

MusiCNN (Pons & Serra, "musicnn: pre-trained convolutional neural networks for music audio
tagging", ISMIR 2019 LBD) reads 3 s log-mel patches and outputs 50 sigmoid tag probabilities.
Two trained models ship in `models/tagger/`, converted from the TF1 checkpoints of the PyPI package
`musicnn==0.1.0` (the conversion is `tools/tagger_convert.py`, which alone needs TensorFlow):

- "msd": MSD_musicnn, trained on the Million Song Dataset's 50 most frequent Last.fm tags
  (genres, decades, moods: MSD_TAGS);
- "mtt": MTT_musicnn, trained on MagnaTagATune's 50 most frequent tags (instruments, tempo,
  loudness, voice: MTT_TAGS).

This module needs torch, librosa and numpy only.

API
---
    MusicTagger.load(name: str = "msd", *, directory: Path | None = None) -> MusicTagger
        lazy, once per process and (model, directory); verifies the manifest's checksums first
    MusicTagger.tag_file(path, *, windows: int | None = 4, window_seconds: float = 9.0) -> TaggerOutput
        decodes only the excerpts it analyses (librosa.load with offset/duration)
    MusicTagger.tag_signal(y, sr, *, windows=4, window_seconds=9.0) -> TaggerOutput
        samples in memory: 1-D or (channels, samples), any sample rate (resampled to 16 kHz)
    MusicTagger.tag_patches(patches (n, 187, 96)) -> (probabilities, logits, penultimate)
    tag_excerpts([msd, mtt], [(start, y16k), ...], duration=...) -> [TaggerOutput, ...]
        several models on excerpts already decoded at 16 kHz, the log-mel computed once for all
        (ingestion: one decode for the features and both models; see tools/style.py analyse_file)
    MusicTagger.name, .tag_names, .version;  load_tagger(name) == MusicTagger.load(name)
    MSD_TAGS, MTT_TAGS, MODEL_TAGS: the tag vocabularies in output order

    out = MusicTagger.load("msd").tag_file(path)
    out.model           # "msd" or "mtt"
    out.tags            # dict tag -> probability, the mean over the analysed patches, in the model's tag order
    out.embedding       # (200,) float32: the mean 'penultimate' vector, musicnn's name for the batch-normalised
                        # ReLU output of the 200-unit dense layer before the 50-way output (can be negative)
    out.taggram         # (patches, 50) per-patch probabilities
    out.embeddings      # (patches, 200) per-patch penultimate vectors
    out.patch_times     # (patches,) start of each 3 s patch in seconds from the track's start
    out.windows         # ((start, seconds), ...) the excerpts analysed
    out.top(5)          # [(tag, probability), ...] best first

`windows` (default DEFAULT_WINDOWS = 4) and `window_seconds` (default WINDOW_SECONDS = 9.0, three
whole 3 s patches) pick what is analysed: a track longer than windows x window_seconds is read as
`windows` excerpts centred at 20/40/60/80 % of its length (for 4; in general at i/(windows+1)),
so the intro does not speak for the whole song and a 5-minute track costs 12 patches, not 100.
A shorter track, or `windows=None`, is read whole in consecutive patches, as musicnn does.
Fewer patches cost less but read real music worse: on our 225 labelled dev recordings, with the
reading refitted each time, the middle patch of each window (4 in all) takes the fused genre top-1
from 0.68 to 0.59 per package (top-3 0.83 -> 0.81), two per window (8) to 0.67 and the arousal
AUC (leave one package out) from 0.843 to 0.836 (bench/results/tagger_windows.json,
`python -m bench.tagger_windows`), so the default stays at 12 patches.

Speed (one thread, `python -m tools.tagger bench`): about 0.04 s per 3 s patch, 0.4-0.5 s per
30 s of audio, so a track at the defaults costs about 0.5 s. torch uses every core by default:
set torch.set_num_threads(1) in worker processes that run several taggers side by side.

Errors: a missing or altered artefact raises ModelMissingError / ModelCorruptError (from
moodtune/artefacts.py, with the command that restores it); an unreadable, empty or silent file
raises AudioReadError; a bad signal or model name raises InputError.

Preprocessing is musicnn's: 16 kHz mono; librosa mel power spectrogram with n_fft 512, hop 256,
96 Slaney-normalised mel bands (librosa's defaults: power 2, htk False, norm 'slaney'), STFT
padding 'reflect' (librosa's default when the models were trained); log10(10000 x + 1) in
float32; patches of 187 frames (3 s) with no overlap (musicnn's default input_overlap=False).
Clips shorter than one patch are repeat-padded (tiled), like musicnn's training setting pad_short: repeat-pad.

Unlike musicnn 0.1.0's extractor, the log-mel is never cast to float16 (its float16 cast makes
10000 x overflow to inf for loud bins) and each patch has its own penultimate vector (upstream
issues #2 and #20: with batch size 1 the extractor repeats the first patch's).

Build the artefact from the TF dumps (see tools/tagger_convert.py) and measure it:
    python -m tools.tagger build --npz /tmp/musicnn_npz
    python -m tools.tagger bench
    python -m tools.tagger tag FILE [--model mtt] [--windows 4]
"""

from __future__ import annotations

import json
import math
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moodtune.artefacts import log_load, verify_artefact, write_manifest
from moodtune.config import SHIPPED_MODELS_DIR
from moodtune.errors import AudioReadError, InputError, ModelCorruptError, ModelMissingError
from tools.audio_features import AUDIO_SUFFIXES

if TYPE_CHECKING:
    import torch

ARTEFACT_NAME = "tagger"
ARTEFACT_VERSION = "1.0.0"
ARTEFACT_DIR = SHIPPED_MODELS_DIR / "tagger"
RESTORE_FIX = (
    "run `git checkout -- models/tagger` to restore the shipped files, or rebuild them: "
    "tools/tagger_convert.py's docstring has the commands, ending in `python -m tools.tagger build --npz DIR`"
)
REFERENCE_FILE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tagger" / "reference_outputs.npz"

SAMPLE_RATE = 16_000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
PAD_MODE = "reflect"
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, as musicnn has it
PATCH_HOP = PATCH_FRAMES  # musicnn's default: no overlap between patches
PATCH_SECONDS = PATCH_FRAMES * HOP_LENGTH / SAMPLE_RATE
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default, which musicnn keeps
EMBEDDING_DIM = 200
DEFAULT_WINDOWS = 4
WINDOW_SECONDS = 9.0  # 144,000 samples -> 563 frames -> 3 whole patches
MIN_SECONDS = 0.5

# Output order of each model (musicnn/configuration.py); the case is musicnn's ('Mellow', 'Hip-Hop', 'House').
MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist",
    "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk",
    "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip
MTT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal",
    "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance",
    "male voice", "female vocal", "beats", "harp", "cello", "no voice", "weird", "country", "metal",
    "female voice", "choral",
)  # fmt: skip
MODEL_TAGS: dict[str, tuple[str, ...]] = {"msd": MSD_TAGS, "mtt": MTT_TAGS}
UPSTREAM_NAMES = {"msd": "MSD_musicnn", "mtt": "MTT_musicnn"}
TRAINING_DATA = {
    "msd": "Million Song Dataset (Last.fm tags, 50 most frequent)",
    "mtt": "MagnaTagATune (50 most frequent tags)",
}


def weights_file(name: str) -> str:
    return f"{name}_musicnn.safetensors"


def tags_file(name: str) -> str:
    return f"{name}_tags.json"


# --------------------------------------------------------------------------- the network


def _build_network(n_tags: int = 50) -> torch.nn.Module:
    """MusiCNN as musicnn/models.py's build_musicnn builds it (num_filt 1.6, 64 mid-end filters, 200 units)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    def bn1d(n: int) -> nn.BatchNorm1d:
        return nn.BatchNorm1d(n, eps=BN_EPSILON)

    def bn2d(n: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(n, eps=BN_EPSILON)

    class MusiCNN(nn.Module):
        """Input (batch, 187, 96) log-mel; output logits (batch, 50) and the penultimate (batch, 200).

        Layer order is TF's: conv -> ReLU -> batch norm (inference statistics, eps 1e-3).
        Front-end: one scalar batch norm on the input; two timbral convs (7 x 38 and 7 x 67
        over time x mel, 204 filters each, time padded 3 + 3, frequency 'valid') and three
        temporal convs (128, 64, 32 frames x 1 band, 51 filters each, TF 'same' padding, which
        puts the extra zero after); each max-pooled over the whole frequency axis. Mid-end: three
        1-D convs (kernel 7, 64 filters, zero padding 3), the 2nd and 3rd with residual adds.
        Back-end: max and mean over time of the 753 features [front-end 561, mid 64 x 3],
        interleaved (max_0, mean_0, max_1, ...) as TF's flatten of the (753, 2) stack has them,
        batch norm, dense 200 + ReLU, batch norm = the penultimate, dense 50 = the logits.
        """

        def __init__(self) -> None:
            super().__init__()
            self.bn_input = bn2d(1)
            self.timbral = nn.ModuleList([nn.Conv2d(1, 204, (7, 38)), nn.Conv2d(1, 204, (7, 67))])
            self.timbral_bn = nn.ModuleList([bn2d(204), bn2d(204)])
            self.temporal_kernels = (128, 64, 32)
            self.temporal = nn.ModuleList([nn.Conv2d(1, 51, (k, 1)) for k in self.temporal_kernels])
            self.temporal_bn = nn.ModuleList([bn2d(51) for _ in self.temporal_kernels])
            self.mid = nn.ModuleList([nn.Conv1d(561, 64, 7), nn.Conv1d(64, 64, 7), nn.Conv1d(64, 64, 7)])
            self.mid_bn = nn.ModuleList([bn1d(64) for _ in range(3)])
            self.pool_bn = bn1d(1506)
            self.dense = nn.Linear(1506, 200)
            self.dense_bn = bn1d(200)
            self.output = nn.Linear(200, n_tags)

        def forward(self, x: torch.Tensor, *, literal: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
            """`literal` runs the front-end op for op as TF does; the default gives the same numbers faster."""
            block = self._block_literal if literal else self._block_fused
            x = self.bn_input(x.unsqueeze(1))  # (B, 1, T, F)
            front = []
            padded = F.pad(x, (0, 0, 3, 3))
            for conv, bn in zip(self.timbral, self.timbral_bn):
                front.append(block(padded, conv, bn))  # (B, 204, T)
            for k, conv, bn in zip(self.temporal_kernels, self.temporal, self.temporal_bn):
                before = (k - 1) // 2
                front.append(block(F.pad(x, (0, 0, before, k - 1 - before)), conv, bn))  # (B, 51, T)
            front_features = torch.cat(front, dim=1)  # (B, 561, T)
            m1 = self.mid_bn[0](F.relu(self.mid[0](F.pad(front_features, (3, 3)))))
            m2 = self.mid_bn[1](F.relu(self.mid[1](F.pad(m1, (3, 3))))) + m1
            m3 = self.mid_bn[2](F.relu(self.mid[2](F.pad(m2, (3, 3))))) + m2
            features = torch.cat([front_features, m1, m2, m3], dim=1)  # (B, 753, T)
            pooled = torch.stack([features.amax(dim=2), features.mean(dim=2)], dim=2).flatten(1)  # (B, 1506)
            penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
            return self.output(penultimate), penultimate

        @staticmethod
        def _block_literal(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
            return bn(F.relu(conv(x))).amax(dim=3)

        @staticmethod
        def _block_fused(x: torch.Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> torch.Tensor:
            """max_f BN(ReLU(z)) without the full-size ReLU and BN (a third of the front-end's time).

            BN at inference is a*v + b per channel and ReLU is monotonic, so the max over frequency
            is a*ReLU(max_f z) + b where a >= 0 and a*ReLU(min_f z) + b where a < 0. min_f z is
            -max_f(-z), and -z is the same conv with negated weights and bias (exact in floating point).
            """
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            shift = bn.bias - bn.running_mean * scale
            sign = torch.where(scale < 0, -1.0, 1.0)
            peak = F.conv2d(x, conv.weight * sign[:, None, None, None], conv.bias * sign).amax(dim=3)
            return scale[:, None] * F.relu(sign[:, None] * peak) + shift[:, None]

    return MusiCNN()


def _tf_to_torch_names() -> dict[str, str]:
    """TF variable prefix -> torch module name, in the order build_musicnn creates the TF layers."""
    bns = ["bn_input", "timbral_bn.0", "timbral_bn.1", "temporal_bn.0", "temporal_bn.1", "temporal_bn.2"]
    bns += ["mid_bn.0", "mid_bn.1", "mid_bn.2", "pool_bn", "dense_bn"]
    convs = ["timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2", "mid.0", "mid.1", "mid.2"]
    names = {("batch_normalization" + (f"_{i}" if i else "")): bn for i, bn in enumerate(bns)}
    names |= {("conv2d" + (f"_{i}" if i else "")): conv for i, conv in enumerate(convs)}
    names |= {"dense": "dense", "dense_1": "output"}
    return names


def state_dict_from_tf(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The torch state dict of MusiCNN from TF variables named as in the musicnn checkpoint."""
    names = _tf_to_torch_names()
    bn_parts = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
    state: dict[str, np.ndarray] = {}
    for tf_name, value in variables.items():
        if tf_name.startswith("__"):
            continue
        layer, part = tf_name.rsplit("/", 1)
        if layer not in names:
            raise ModelCorruptError(f"unexpected TF variable {tf_name} in the musicnn dump", hint="dump it again")
        target = names[layer]
        value = np.asarray(value, dtype=np.float32)
        if layer.startswith("batch_normalization"):
            state[f"{target}.{bn_parts[part]}"] = value
        elif part == "bias":
            state[f"{target}.bias"] = value
        elif layer.startswith("conv2d") and target.startswith("mid."):
            # TF sees the mid-end input as a (T, C) image with one channel: kernel [7, C, 1, out] -> [out, C, 7]
            state[f"{target}.weight"] = np.ascontiguousarray(value[:, :, 0, :].transpose(2, 1, 0))
        elif layer.startswith("conv2d"):
            state[f"{target}.weight"] = np.ascontiguousarray(value.transpose(3, 2, 0, 1))  # HWIO -> OIHW
        else:  # dense [in, out] -> Linear [out, in]
            state[f"{target}.weight"] = np.ascontiguousarray(value.T)
    for bn in {v for k, v in names.items() if k.startswith("batch_normalization")}:
        state[f"{bn}.num_batches_tracked"] = np.array(0, dtype=np.int64)
    return state


# --------------------------------------------------------------------------- preprocessing


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 96) float32 log-mel of 16 kHz mono samples, musicnn's recipe in float32."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32), sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS,
        pad_mode=PAD_MODE,
    ).T.astype(np.float32)  # fmt: skip
    return np.log10(np.float32(10000) * mel + np.float32(1)).astype(np.float32)


def split_patches(rep: np.ndarray, *, hop: int = PATCH_HOP) -> tuple[np.ndarray, np.ndarray]:
    """(n, 187, 96) patches of a log-mel and their start frames; a short one is repeat-padded to one patch."""
    if rep.shape[0] < PATCH_FRAMES:
        rep = np.tile(rep, (math.ceil(PATCH_FRAMES / rep.shape[0]), 1))[:PATCH_FRAMES]
    starts = np.arange(0, rep.shape[0] - PATCH_FRAMES + 1, hop)
    return np.stack([rep[s : s + PATCH_FRAMES] for s in starts]).astype(np.float32), starts


def plan_windows(duration: float, *, windows: int | None, window_seconds: float) -> list[tuple[float, float | None]]:
    """(offset, seconds or None for 'to the end') of the excerpts to read from a track of `duration` s."""
    if windows is not None and (windows < 1 or window_seconds < PATCH_SECONDS):
        raise InputError(
            f"windows={windows}, window_seconds={window_seconds} reads nothing",
            hint=f"use windows >= 1 and window_seconds >= {PATCH_SECONDS:.2f}, or windows=None for the whole track",
        )
    if windows is None or duration <= windows * window_seconds:
        return [(0.0, None)]
    plan = []
    for i in range(windows):
        centre = duration * (i + 1) / (windows + 1)
        start = min(max(0.0, centre - window_seconds / 2), duration - window_seconds)
        plan.append((round(start, 3), window_seconds))
    return plan


def _to_mono(y: Any) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if y.ndim != 1:
        raise InputError(f"a signal must be 1-D or (channels, samples); got shape {y.shape}")
    return y


# --------------------------------------------------------------------------- the API


@dataclass(frozen=True)
class TaggerOutput:
    model: str  # "msd" or "mtt"
    tags: dict[str, float]  # tag -> mean probability over the patches, in the model's tag order
    embedding: np.ndarray  # (200,) mean penultimate vector
    taggram: np.ndarray  # (patches, n_tags) per-patch probabilities
    embeddings: np.ndarray  # (patches, 200) per-patch penultimate vectors
    patch_times: np.ndarray  # (patches,) start of each patch, seconds from the start of the track
    windows: tuple[tuple[float, float], ...] = field(default=())  # (start, seconds) of each excerpt analysed
    duration: float = 0.0  # of the whole track or signal, seconds

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        return sorted(self.tags.items(), key=lambda item: -item[1])[:k]


@dataclass(frozen=True)
class PreparedExcerpts:
    """The model input of some excerpts: what both models read, so it is computed once for both."""

    patches: np.ndarray  # (n, 187, 96) log-mel patches
    patch_times: np.ndarray  # (n,) start of each patch, seconds from the start of the track
    windows: tuple[tuple[float, float], ...]  # (start, seconds) of each excerpt


def prepare_excerpts(excerpts: Sequence[tuple[float, np.ndarray]]) -> PreparedExcerpts:
    """Log-mel patches of excerpts given as (start seconds, 16 kHz mono samples)."""
    all_patches, times, windows = [], [], []
    for start, y in excerpts:
        patches, frames = split_patches(log_mel(y))
        all_patches.append(patches)
        times.append(start + frames * HOP_LENGTH / SAMPLE_RATE)
        windows.append((float(start), len(y) / SAMPLE_RATE))
    return PreparedExcerpts(
        patches=np.concatenate(all_patches),
        patch_times=np.concatenate(times).astype(np.float64),
        windows=tuple(windows),
    )


def tag_excerpts(
    taggers: Sequence[MusicTagger], excerpts: Sequence[tuple[float, np.ndarray]], *, duration: float
) -> list[TaggerOutput]:
    """Several models' outputs for the same 16 kHz excerpts (start seconds, samples), the log-mel computed once.

    Each output equals `tagger.tag_file(path)`'s when the excerpts are the ones tag_file decodes
    (`plan_windows` at SAMPLE_RATE): ingestion decodes a file once for the features and both models.
    """
    excerpts = [(start, y) for start, y in excerpts if y.size]
    if not excerpts:
        raise InputError("no audio to tag")
    prepared = prepare_excerpts(excerpts)
    return [tagger.tag_prepared(prepared, duration=duration) for tagger in taggers]


_CACHE: dict[tuple[str, Path], MusicTagger] = {}
_CACHE_LOCK = threading.Lock()


class MusicTagger:
    """One MusiCNN model ("msd" or "mtt") in torch, in inference mode."""

    def __init__(self, name: str, network: torch.nn.Module, *, version: str = ARTEFACT_VERSION) -> None:
        self.name = name
        self.tag_names: tuple[str, ...] = MODEL_TAGS[name]
        self.version = version
        self._network = network.eval()

    @classmethod
    def load(cls, name: str = "msd", *, directory: Path | None = None) -> MusicTagger:
        """The model `name` from the artefact (default models/tagger/), loaded once per process."""
        if name not in MODEL_TAGS:
            raise InputError(f"unknown tagger model {name!r}", hint=f"use one of {', '.join(MODEL_TAGS)}")
        directory = Path(directory or ARTEFACT_DIR).resolve()
        key = (name, directory)
        with _CACHE_LOCK:
            if key not in _CACHE:
                _CACHE[key] = cls._load_uncached(name, directory)
            return _CACHE[key]

    @classmethod
    def _load_uncached(cls, name: str, directory: Path) -> MusicTagger:
        try:
            manifest = verify_artefact(directory, name="music tagger", fix="git checkout -- models/tagger")
        except (ModelMissingError, ModelCorruptError) as exc:
            raise type(exc)(exc.message, hint=RESTORE_FIX) from exc
        if weights_file(name) not in manifest["files"]:
            raise ModelMissingError(f"the music tagger artefact in {directory} has no {name} model", hint=RESTORE_FIX)
        with log_load(f"music tagger {name} {manifest['version']} from {directory}"):
            from safetensors.torch import load_file

            network = _build_network(len(MODEL_TAGS[name]))
            try:
                tags = tuple(json.loads((directory / tags_file(name)).read_text()))
                network.load_state_dict(load_file(str(directory / weights_file(name))), strict=True)
            except (OSError, ValueError, RuntimeError) as exc:
                raise ModelCorruptError(
                    f"music tagger {name} weights in {directory} do not fit the network ({exc})", hint=RESTORE_FIX
                ) from exc
            if tags != MODEL_TAGS[name]:
                raise ModelCorruptError(f"music tagger {name}: {tags_file(name)} lists other tags", hint=RESTORE_FIX)
        return cls(name, network, version=manifest["version"])

    def tag_patches(self, patches: np.ndarray, *, batch_size: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probabilities, logits, penultimate) of (n, 187, 96) log-mel patches, as float32 arrays."""
        import torch

        patches = np.asarray(patches, dtype=np.float32)
        if patches.ndim != 3 or patches.shape[1:] != (PATCH_FRAMES, N_MELS):
            raise InputError(f"patches must be (n, {PATCH_FRAMES}, {N_MELS}); got {patches.shape}")
        logits, penultimate = [], []
        with torch.inference_mode():
            for start in range(0, len(patches), batch_size):
                lg, pen = self._network(torch.from_numpy(patches[start : start + batch_size]))
                logits.append(lg.numpy())
                penultimate.append(pen.numpy())
        lg_all = np.concatenate(logits).astype(np.float32)
        probs = (1.0 / (1.0 + np.exp(-lg_all.astype(np.float64)))).astype(np.float32)
        return probs, lg_all, np.concatenate(penultimate).astype(np.float32)

    def _tag_excerpts(self, excerpts: Sequence[tuple[float, np.ndarray]], *, duration: float) -> TaggerOutput:
        """Excerpts are (start seconds, 16 kHz mono samples)."""
        return self.tag_prepared(prepare_excerpts(excerpts), duration=duration)

    def tag_prepared(self, prepared: PreparedExcerpts, *, duration: float) -> TaggerOutput:
        """Tags of excerpts whose log-mel patches `prepare_excerpts` computed (shareable between models)."""
        probs, _logits, penultimate = self.tag_patches(prepared.patches)
        mean = probs.mean(axis=0)
        return TaggerOutput(
            model=self.name,
            tags={tag: float(p) for tag, p in zip(self.tag_names, mean)},
            embedding=penultimate.mean(axis=0),
            taggram=probs,
            embeddings=penultimate,
            patch_times=prepared.patch_times,
            windows=prepared.windows,
            duration=float(duration),
        )

    def tag_signal(
        self, y: Any, sr: int, *, windows: int | None = DEFAULT_WINDOWS, window_seconds: float = WINDOW_SECONDS
    ) -> TaggerOutput:
        """Tags of samples in memory: 1-D or (channels, samples) at `sr` Hz (resampled to 16 kHz).

        InputError for an empty, too short (< 0.5 s), silent or non-finite signal.
        """
        import librosa

        y = _to_mono(y)
        if sr <= 0:
            raise InputError(f"sample rate {sr} is not positive")
        if y.size < MIN_SECONDS * sr:
            raise InputError(f"the signal is {y.size / sr:.2f} s long; the tagger needs at least {MIN_SECONDS} s")
        if not np.all(np.isfinite(y)):
            raise InputError("the signal has NaN or infinite samples")
        if not np.any(y):
            raise InputError("the signal is silent")
        if sr != SAMPLE_RATE:
            y = librosa.resample(y, orig_sr=sr, target_sr=SAMPLE_RATE).astype(np.float32)
        duration = y.size / SAMPLE_RATE
        excerpts = []
        for offset, seconds in plan_windows(duration, windows=windows, window_seconds=window_seconds):
            start = round(offset * SAMPLE_RATE)
            stop = y.size if seconds is None else start + round(seconds * SAMPLE_RATE)
            excerpts.append((offset, y[start:stop]))
        return self._tag_excerpts(excerpts, duration=duration)

    def tag_file(
        self, path: Path | str, *, windows: int | None = DEFAULT_WINDOWS, window_seconds: float = WINDOW_SECONDS
    ) -> TaggerOutput:
        """Tags of an audio file (.mp3, .flac, .ogg, .wav), decoding only the excerpts it analyses.

        AudioReadError for a missing, empty, unsupported, undecodable or silent file.
        """
        import librosa

        path = Path(path)
        if not path.is_file():
            raise AudioReadError(f"{path} does not exist", hint="check the path")
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            raise AudioReadError(
                f"{path.name}: {path.suffix or 'no suffix'} is not a supported audio format",
                hint=f"Moodtune reads {', '.join(AUDIO_SUFFIXES)}",
            )
        if path.stat().st_size == 0:
            raise AudioReadError(f"{path.name} is empty", hint="re-copy or re-encode the file")
        excerpts = []
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                duration = float(librosa.get_duration(path=str(path)))
                for offset, seconds in plan_windows(duration, windows=windows, window_seconds=window_seconds):
                    y, _ = librosa.load(str(path), sr=SAMPLE_RATE, mono=True, offset=offset, duration=seconds)
                    excerpts.append((offset, y.astype(np.float32)))
        except InputError:
            raise
        except Exception as exc:  # librosa/soundfile/audioread raise many unrelated types for bad files
            raise AudioReadError(
                f"{path.name} could not be decoded ({type(exc).__name__}: {exc})".rstrip(),
                hint="check that the file plays; re-encode it as FLAC or WAV if it does",
            ) from exc
        total = sum(y.size for _, y in excerpts)
        if total < MIN_SECONDS * SAMPLE_RATE or not any(np.any(y) for _, y in excerpts):
            raise AudioReadError(f"{path.name} has less than half a second of sound", hint="tag a longer recording")
        if not all(np.all(np.isfinite(y)) for _, y in excerpts):
            raise AudioReadError(f"{path.name} decodes to NaN or infinite samples", hint="re-encode it as FLAC or WAV")
        excerpts = [(o, y) for o, y in excerpts if y.size]
        return self._tag_excerpts(excerpts, duration=duration)


def load_tagger(name: str = "msd") -> MusicTagger:
    """MusicTagger.load(name) from the shipped artefact (once per process)."""
    return MusicTagger.load(name)


# --------------------------------------------------------------------------- build, parity, bench


def parity(tagger: MusicTagger, reference_path: Path = REFERENCE_FILE) -> dict[str, Any]:
    """Max abs differences to the TF reference on the fixture clips, end to end from the .ogg files."""
    ref = np.load(reference_path)
    meta = json.loads(str(ref["__meta__"]))
    figures: dict[str, Any] = {"clips": meta["clips"], "reference_versions": meta["versions"]}
    worst = {"taggram": 0.0, "tags": 0.0, "logits": 0.0, "penultimate": 0.0, "logmel": 0.0}
    for clip in meta["clips"]:
        out = tagger.tag_file(reference_path.parent / f"{clip}.ogg", windows=None)
        y, _ = _load_whole(reference_path.parent / f"{clip}.ogg")
        rep = log_mel(y)
        worst["logmel"] = max(worst["logmel"], float(np.abs(rep.mean(axis=0) - ref[f"{clip}__logmel_mean"]).max()))
        _probs, logits, _pen = tagger.tag_patches(split_patches(rep)[0])
        key = f"{tagger.name}__{clip}"
        worst["taggram"] = max(worst["taggram"], float(np.abs(out.taggram - ref[f"{key}__taggram"]).max()))
        worst["tags"] = max(worst["tags"], float(np.abs(out.taggram.mean(0) - ref[f"{key}__tags"]).max()))
        worst["logits"] = max(worst["logits"], float(np.abs(logits - ref[f"{key}__logits"]).max()))
        worst["penultimate"] = max(
            worst["penultimate"], float(np.abs(out.embeddings - ref[f"{key}__penultimate"]).max())
        )
    figures |= {f"max_abs_diff_{k}": v for k, v in worst.items()}
    return figures


def _load_whole(path: Path) -> tuple[np.ndarray, float]:
    import librosa

    y, _ = librosa.load(str(path), sr=SAMPLE_RATE, mono=True)
    return y.astype(np.float32), y.size / SAMPLE_RATE


def bench(tagger: MusicTagger, *, threads: int = 1, repeats: int = 3) -> dict[str, float]:
    """Seconds per 3 s patch (network only) and per 30 s of audio (log-mel + network) on `threads` threads.

    Wall-clock figures suffer when other processes share the cores; the `_cpu` figures (this
    process's CPU time, best of `repeats`) say what the work costs on one core.
    """
    import os

    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rng = np.random.default_rng(0)
        y = (0.1 * rng.standard_normal(30 * SAMPLE_RATE)).astype(np.float32)
        tagger.tag_signal(y, SAMPLE_RATE, windows=None)  # warm-up
        patch = split_patches(log_mel(y))[0][:1]
        per_patch = [_timed(lambda: tagger.tag_patches(patch)) for _ in range(repeats)]
        per_30s = [_timed(lambda: tagger.tag_signal(y, SAMPLE_RATE, windows=None)) for _ in range(repeats)]
        logmel_30s = [_timed(lambda: log_mel(y)) for _ in range(repeats)]
    finally:
        torch.set_num_threads(previous)
    return {
        "threads": threads,
        "seconds_per_patch": round(min(w for w, _ in per_patch), 4),
        "seconds_per_30s_audio": round(min(w for w, _ in per_30s), 4),
        "seconds_logmel_per_30s": round(min(w for w, _ in logmel_30s), 4),
        "cpu_seconds_per_patch": round(min(c for _, c in per_patch), 4),
        "cpu_seconds_per_30s_audio": round(min(c for _, c in per_30s), 4),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def build_artefact(
    npz_dir: Path, *, directory: Path = ARTEFACT_DIR, reference: Path = REFERENCE_FILE
) -> dict[str, Any]:
    """models/tagger/ from tools/tagger_convert.py's dumps: safetensors weights, tag lists, manifest with parity."""
    import torch
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "source": "PyPI musicnn==0.1.0 (github.com/jordipons/musicnn), TF1 checkpoints MSD_musicnn and MTT_musicnn",
        "authors": "Jordi Pons, Xavier Serra (Music Technology Group, Universitat Pompeu Fabra)",
        "licence": "ISC",
        "converted_by": "tools/tagger_convert.py (TensorFlow, once) -> tools/tagger.py build",
        "torch": torch.__version__,
        "preprocessing": {
            "sr": SAMPLE_RATE,
            "n_fft": N_FFT,
            "hop_length": HOP_LENGTH,
            "n_mels": N_MELS,
            "pad_mode": PAD_MODE,
            "mel": "librosa power 2, htk False, norm slaney",
            "log": "log10(10000 x + 1), float32",
            "patch_frames": PATCH_FRAMES,
            "patch_hop": PATCH_HOP,
        },
        "bn_epsilon": BN_EPSILON,
        "models": {},
    }
    for name, upstream in UPSTREAM_NAMES.items():
        path = Path(npz_dir) / f"{upstream}.npz"
        if not path.is_file():
            raise ModelMissingError(f"{path} not found", hint="run tools/tagger_convert.py first (see its docstring)")
        with np.load(path) as dump:
            variables = {k: dump[k] for k in dump.files}
        labels = tuple(str(t) for t in variables.pop("__labels__"))
        dump_meta = json.loads(str(variables.pop("__meta__")))
        if labels != MODEL_TAGS[name]:
            raise ModelCorruptError(f"{path.name} lists other tags than {name.upper()}_TAGS", hint="dump it again")
        state = {k: torch.from_numpy(np.array(v)) for k, v in state_dict_from_tf(variables).items()}
        _build_network(len(labels)).load_state_dict(state, strict=True)  # every tensor has its place
        save_file(state, str(directory / weights_file(name)))
        (directory / tags_file(name)).write_text(json.dumps(list(labels), indent=1) + "\n")
        meta["models"][name] = {
            "upstream": upstream,
            "training_data": TRAINING_DATA[name],
            "n_tags": len(labels),
            "embedding_dim": EMBEDDING_DIM,
            "parameters": int(sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))),
            "upstream_test_result": dump_meta.get("experiment_result"),
            "conversion_versions": dump_meta.get("versions"),
        }
    write_manifest(directory, name=ARTEFACT_NAME, version=ARTEFACT_VERSION, meta=meta)  # provisional, to load
    for name in UPSTREAM_NAMES:
        tagger = MusicTagger._load_uncached(name, directory.resolve())
        if reference.is_file():
            meta["models"][name]["parity"] = parity(tagger, reference)
        meta["models"][name]["speed_one_thread"] = bench(tagger, threads=1)
    return write_manifest(directory, name=ARTEFACT_NAME, version=ARTEFACT_VERSION, meta=meta)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.tagger", description="MusiCNN tagger (torch port)")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build models/tagger/ from tools/tagger_convert.py's .npz dumps")
    b.add_argument("--npz", type=Path, required=True, help="folder holding MSD_musicnn.npz and MTT_musicnn.npz")
    b.add_argument("--out", type=Path, default=ARTEFACT_DIR)
    s = sub.add_parser("bench", help="seconds per patch and per 30 s of audio")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--model", default="msd", choices=sorted(MODEL_TAGS))
    t = sub.add_parser("tag", help="print the top tags of audio files")
    t.add_argument("files", nargs="+", type=Path)
    t.add_argument("--model", default="msd", choices=sorted(MODEL_TAGS))
    t.add_argument("--windows", type=int, default=DEFAULT_WINDOWS, help="0 reads the whole track")
    t.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    if args.command == "build":
        manifest = build_artefact(args.npz, directory=args.out)
        print(json.dumps(manifest["meta"]["models"], indent=2))
    elif args.command == "bench":
        print(json.dumps(bench(MusicTagger.load(args.model), threads=args.threads)))
    else:
        tagger = MusicTagger.load(args.model)
        for path in args.files:
            out = tagger.tag_file(path, windows=args.windows or None)
            print(f"{path}: " + ", ".join(f"{tag} {p:.2f}" for tag, p in out.top(args.top)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
