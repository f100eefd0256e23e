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

Precision: four of the five front-end convs (all but ~3 % of the arithmetic) run in int8 by
default (`int8_network`): weights per channel, the input per tensor, each channel's output scaled to a
range measured on real recordings (`calibrate`; models/tagger/{msd,mtt}_int8.json, made by
`python -m tools.tagger calibrate`; the recordings and the agreement with float32 on recordings
of other packages are in the manifest). `precision="float32"` is the exact port that the parity
test holds to TensorFlow.

Speed (one thread, `python -m tools.tagger bench [--precision float32]`): the 12 patches of a
track at the defaults cost ~0.16 s in int8 against ~0.4 s in float32 on an AVX-512 Xeon
(VNNI). torch uses every core by default: set torch.set_num_threads(1) in worker processes
that run several taggers side by side.

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
    python -m tools.tagger calibrate FILE... --check FILE... --source "..."   (see the manifest for ours)
    python -m tools.tagger bench
    python -m tools.tagger tag FILE [--model mtt] [--windows 4]
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from moodtune.artefacts import atomic_path, log_load, verify_artefact, write_manifest
from moodtune.config import SHIPPED_MODELS_DIR
from moodtune.errors import AudioReadError, InputError, ModelCorruptError, ModelMissingError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

ARTEFACT_NAME = "tagger"
ARTEFACT_VERSION = "1.1.1"  # 1.1.0: int8 calibration ({name}_int8.json); 1.1.1: the 32-tap conv in float32
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
# The int8 front-end's ranges are the calibration maxima times this (see calibrate), chosen by the
# agreement with float32 on real recordings the calibration did not see (python -m tools.tagger calibrate).
INT8_HEADROOM = 1.5
# Front-end convs that stay float32 in the int8 network (indices into front_layers()). The 32-frame
# temporal conv's 32 taps are nearly equal (max/median |w| ~1.1), so its output is a small
# difference of large sums: 8-bit weights alone moved the MSD "metal" tag by -0.013 on real metal
# recordings (marsshooter-data), enough to turn 3 of its tracks' genre to rock; in float32 the
# bias is 0.0001. It is 1 % of the front-end's arithmetic.
FLOAT32_LAYERS = (4,)
PRECISIONS = ("int8", "float32")

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


def calibration_file(name: str) -> str:
    return f"{name}_int8.json"


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
            return self.back_end(self.front_end(self.bn_input(x.unsqueeze(1)), literal=literal))

        def front_end(self, x: torch.Tensor, *, literal: bool = False) -> torch.Tensor:
            """(B, 1, T, F) normalised log-mel -> (B, 561, T): each conv max-pooled over frequency."""
            block = self._block_literal if literal else self._block_fused
            return torch.cat([block(self.pad_for(x, k), conv, bn) for conv, bn, k in self.front_layers()], dim=1)

        def back_end(self, front_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """(B, 561, T) front-end features -> (logits (B, 50), penultimate (B, 200))."""
            m1 = self.mid_bn[0](F.relu(self.mid[0](F.pad(front_features, (3, 3)))))
            m2 = self.mid_bn[1](F.relu(self.mid[1](F.pad(m1, (3, 3))))) + m1
            m3 = self.mid_bn[2](F.relu(self.mid[2](F.pad(m2, (3, 3))))) + m2
            features = torch.cat([front_features, m1, m2, m3], dim=1)  # (B, 753, T)
            pooled = torch.stack([features.amax(dim=2), features.mean(dim=2)], dim=2).flatten(1)  # (B, 1506)
            penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
            return self.output(penultimate), penultimate

        def front_layers(self) -> list[tuple[nn.Conv2d, nn.BatchNorm2d, int]]:
            """The five front-end convs with their batch norms and temporal kernel (0: timbral)."""
            timbral = [(conv, bn, 0) for conv, bn in zip(self.timbral, self.timbral_bn)]
            return timbral + list(zip(self.temporal, self.temporal_bn, self.temporal_kernels))

        @staticmethod
        def pad_for(x: torch.Tensor, k: int) -> torch.Tensor:
            """Timbral convs (k = 0) pad time by 3 + 3; temporal ones as TF's 'same', the extra zero after."""
            if k == 0:
                return F.pad(x, (0, 0, 3, 3))
            before = (k - 1) // 2
            return F.pad(x, (0, 0, before, k - 1 - before))

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


# --------------------------------------------------------------------------- int8 front-end


def calibrate(network: torch.nn.Module, patches: np.ndarray, *, headroom: float = INT8_HEADROOM) -> dict[str, Any]:
    """The ranges the int8 front-end quantizes to, measured on real log-mel patches (n, 187, 96).

    The input range runs from the normalised value of silence (log-mel 0) to the largest value
    seen; each conv channel's range is the largest ReLU output seen. Both are widened by
    `headroom`: a value above its range is clipped, and the max-pool over frequency reads exactly
    the largest values.
    """
    import torch
    import torch.nn.functional as F

    with torch.inference_mode():
        x = network.bn_input(torch.from_numpy(np.asarray(patches, dtype=np.float32)).unsqueeze(1))
        silence = float(network.bn_input(torch.zeros(1, 1, 1, 1)).item())
        low = min(silence, float(x.min()))
        high = low + headroom * (float(x.max()) - low)
        layers = []
        for conv, _bn, k in network.front_layers():
            peak = F.relu(F.conv2d(network.pad_for(x, k), conv.weight, conv.bias)).amax(dim=(0, 2, 3))
            layers.append([round(float(v), 6) for v in (headroom * peak).clamp(min=1e-3)])
    return {"format": 1, "headroom": headroom, "patches": len(patches), "input": [low, high], "layers": layers}


def _quantized_engine() -> str | None:
    """torch's int8 engine for this CPU (x86: fbgemm/oneDNN kernels, VNNI where the CPU has it), or None."""
    import torch

    engines = torch.backends.quantized.supported_engines
    return next((e for e in ("x86", "onednn", "fbgemm", "qnnpack") if e in engines), None)


def int8_network(network: torch.nn.Module, calibration: dict[str, Any]) -> torch.nn.Module:
    """`network` with its front-end convs in int8 but FLOAT32_LAYERS (97 % of its arithmetic); the rest stays float32.

    Each conv channel's weights and bias are divided by its calibrated range, so every channel's
    ReLU output spans [0, 1] and can share one 8-bit output scale (torch's quantized conv has one
    per tensor; unscaled, quiet channels would get a few levels). A channel whose batch norm has a
    negative scale needs min_f ReLU(z), not the max (see _block_fused): min_f ReLU(z) is
    -max_f(-ReLU(z)), and a conv with negated weights whose output zero point is 255 (values in
    [-1, 0]) gives -ReLU(z) directly, so both kinds go through torch's quantized max-pool. The
    weights are quantized per channel (int8), the input per tensor (uint8).
    """
    import torch
    import torch.ao.nn.quantized as nnq
    import torch.nn.functional as F
    from torch import nn

    engine = _quantized_engine()
    if engine is None:
        raise RuntimeError("this torch build has no int8 engine")
    torch.backends.quantized.engine = engine
    low, high = calibration["input"]
    in_scale = (high - low) / 255
    in_zero = round(-low / in_scale)

    class Int8Layer(nn.Module):
        def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d, k: int, ranges: Sequence[float]) -> None:
            super().__init__()
            self.k = k
            self.parts = nn.ModuleList()
            self.signs: list[float] = []
            order = []
            with torch.no_grad():
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                rng = torch.tensor(ranges, dtype=torch.float32)
                self.register_buffer("back", rng * scale)  # undoes the division, then BN's scale
                self.register_buffer("shift", bn.bias - bn.running_mean * scale)
                negative = scale < 0
                for chosen, sign in ((~negative, 1.0), (negative, -1.0)):
                    idx = torch.nonzero(chosen).flatten()
                    if not len(idx):
                        continue
                    w = conv.weight[idx] * (sign / rng[idx])[:, None, None, None]
                    b = conv.bias[idx] * (sign / rng[idx])
                    w_scale = (w.abs().amax(dim=(1, 2, 3)).clamp(min=1e-8) / 127).double()
                    qw = torch.quantize_per_channel(w, w_scale, torch.zeros(len(idx), dtype=torch.long), 0, torch.qint8)
                    qconv = nnq.Conv2d(1, len(idx), tuple(w.shape[2:]))
                    qconv.set_weight_bias(qw, b)
                    qconv.scale, qconv.zero_point = 1.0 / 255, (0 if sign > 0 else 255)
                    self.parts.append(qconv)
                    self.signs.append(sign)
                    order.append(idx)
                self.register_buffer("inverse", torch.argsort(torch.cat(order)))

        def forward(self, qx: torch.Tensor) -> torch.Tensor:
            pooled = []
            for qconv, sign in zip(self.parts, self.signs):
                out = qconv(qx)
                pooled.append(sign * F.max_pool2d(out, kernel_size=(1, out.shape[3])).dequantize().squeeze(3))
            peak = torch.cat(pooled, dim=1)[:, self.inverse]  # max_f or min_f of ReLU(z) / range, in [0, 1]
            return self.back[:, None] * peak + self.shift[:, None]

    class FloatLayer(nn.Module):
        def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d, k: int) -> None:
            super().__init__()
            self.conv, self.bn, self.k = conv, bn, k

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return network._block_fused(x, self.conv, self.bn)

    class Int8MusiCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.float_network = network
            layers = enumerate(zip(network.front_layers(), calibration["layers"]))
            self.layers = nn.ModuleList(
                FloatLayer(conv, bn, k) if i in FLOAT32_LAYERS else Int8Layer(conv, bn, k, ranges)
                for i, ((conv, bn, k), ranges) in layers
            )

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = self.float_network.bn_input(x.unsqueeze(1))
            front = []
            for layer in self.layers:
                padded = self.float_network.pad_for(x, layer.k)
                if isinstance(layer, Int8Layer):
                    padded = torch.quantize_per_tensor(padded, in_scale, in_zero, torch.quint8)
                front.append(layer(padded))
            return self.float_network.back_end(torch.cat(front, dim=1))

    with warnings.catch_warnings():
        # torch 2.13 marks quantized tensors deprecated (pytorch#184982) but ships them; torch is
        # pinned, and MusicTagger.load falls back to float32 should a later torch lack them.
        warnings.simplefilter("ignore", UserWarning)
        return Int8MusiCNN().eval()


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


def _with_int8(
    network: torch.nn.Module, name: str, directory: Path, manifest: dict[str, Any]
) -> tuple[torch.nn.Module, str]:
    """(the int8 network and "int8"), or (the float32 one and "float32") where torch has no int8 engine."""
    if calibration_file(name) not in manifest["files"]:
        raise ModelMissingError(
            f"the music tagger artefact in {directory} has no int8 calibration for {name}",
            hint="python -m tools.tagger calibrate (see its --help), or git checkout -- models/tagger",
        )
    try:
        calibration = json.loads((directory / calibration_file(name)).read_text())
        if calibration.get("format") != 1 or len(calibration["layers"]) != 5:
            raise ValueError("unknown format")
    except (OSError, ValueError, KeyError) as exc:
        raise ModelCorruptError(
            f"music tagger {name}: {calibration_file(name)} is unreadable ({exc})", hint=RESTORE_FIX
        ) from exc
    try:
        return int8_network(network, calibration), "int8"
    except (RuntimeError, AttributeError) as exc:  # a torch without quantized kernels for this CPU
        log.warning("music tagger %s runs in float32: no int8 in this torch (%s)", name, exc)
        return network, "float32"


_CACHE: dict[tuple[str, Path, str], MusicTagger] = {}
_CACHE_LOCK = threading.Lock()


class MusicTagger:
    """One MusiCNN model ("msd" or "mtt") in torch, in inference mode."""

    def __init__(
        self, name: str, network: torch.nn.Module, *, version: str = ARTEFACT_VERSION, precision: str = "float32"
    ) -> None:
        self.name = name
        self.tag_names: tuple[str, ...] = MODEL_TAGS[name]
        self.version = version
        self.precision = precision  # "int8" (the front-end convs) or "float32"
        self._network = network.eval()

    @classmethod
    def load(cls, name: str = "msd", *, directory: Path | None = None, precision: str = "int8") -> MusicTagger:
        """The model `name` from the artefact (default models/tagger/), loaded once per process.

        `precision="int8"` (the default, ~4x faster) runs the front-end convs in int8 with the
        artefact's calibration (see int8_network); "float32" is the exact port, which the parity
        test holds to TensorFlow's outputs. Without an int8 engine in torch, int8 falls back to float32.
        """
        if name not in MODEL_TAGS:
            raise InputError(f"unknown tagger model {name!r}", hint=f"use one of {', '.join(MODEL_TAGS)}")
        if precision not in PRECISIONS:
            raise InputError(f"unknown tagger precision {precision!r}", hint=f"use one of {', '.join(PRECISIONS)}")
        directory = Path(directory or ARTEFACT_DIR).resolve()
        key = (name, directory, precision)
        with _CACHE_LOCK:
            if key not in _CACHE:
                _CACHE[key] = cls._load_uncached(name, directory, precision)
            return _CACHE[key]

    @classmethod
    def _load_uncached(cls, name: str, directory: Path, precision: str = "float32") -> MusicTagger:
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
            if precision == "int8":
                network, precision = _with_int8(network, name, directory, manifest)
        return cls(name, network, version=manifest["version"], precision=precision)

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
        excerpts, duration = decode_windows(path, windows=windows, window_seconds=window_seconds)
        return self._tag_excerpts(excerpts, duration=duration)


def decode_windows(
    path: Path | str, *, windows: int | None = DEFAULT_WINDOWS, window_seconds: float = WINDOW_SECONDS
) -> tuple[list[tuple[float, np.ndarray]], float]:
    """The excerpts (start seconds, 16 kHz mono samples) the tagger reads of a file, and its duration."""
    from tools.audio_features import decode_spans

    path = Path(path)
    offsets: list[float] = []

    def plan(duration: float) -> list[tuple[float, float | None, int]]:
        spans = plan_windows(duration, windows=windows, window_seconds=window_seconds)
        offsets[:] = [offset for offset, _ in spans]
        return [(offset, seconds, SAMPLE_RATE) for offset, seconds in spans]

    duration, signals = decode_spans(path, plan)
    excerpts = list(zip(offsets, signals))
    total = sum(y.size for _, y in excerpts)
    if total < MIN_SECONDS * SAMPLE_RATE or not any(np.any(y) for _, y in excerpts):
        raise AudioReadError(f"{path.name} has less than half a second of sound", hint="tag a longer recording")
    if not all(np.all(np.isfinite(y)) for _, y in excerpts):
        raise AudioReadError(f"{path.name} decodes to NaN or infinite samples", hint="re-encode it as FLAC or WAV")
    return [(o, y) for o, y in excerpts if y.size], duration


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
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    # BLAS/OpenMP pools keep their own threads, whose idle spinning doubled the CPU figures at one torch thread
    limits = threadpool_limits(threads)
    try:
        rng = np.random.default_rng(0)
        y = (0.1 * rng.standard_normal(30 * SAMPLE_RATE)).astype(np.float32)
        tagger.tag_signal(y, SAMPLE_RATE, windows=None)  # warm-up
        patch = split_patches(log_mel(y))[0][:1]
        per_patch = [_timed(lambda: tagger.tag_patches(patch)) for _ in range(repeats)]
        per_30s = [_timed(lambda: tagger.tag_signal(y, SAMPLE_RATE, windows=None)) for _ in range(repeats)]
        logmel_30s = [_timed(lambda: log_mel(y)) for _ in range(repeats)]
    finally:
        limits.restore_original_limits()
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


def agreement(reference: MusicTagger, candidate: MusicTagger, files: Sequence[Path]) -> dict[str, float]:
    """How closely `candidate` (int8) reads real files as `reference` (float32) does, file by file."""
    diffs, overlap, corr, shifts = [], [], [], []
    for path in files:
        patches = prepare_excerpts(decode_windows(path)[0]).patches
        a_probs, _, a_pen = reference.tag_patches(patches)
        b_probs, _, b_pen = candidate.tag_patches(patches)
        a, b = a_probs.mean(axis=0), b_probs.mean(axis=0)
        diffs.append(float(np.abs(a - b).max()))
        shifts.append(b - a)
        overlap.append(len(set(np.argsort(-a)[:5]) & set(np.argsort(-b)[:5])) / 5)
        corr.append(float(np.corrcoef(a_pen.mean(axis=0), b_pen.mean(axis=0))[0, 1]))
    return {
        "files": len(files),
        "tag_max_abs_diff_median": round(float(np.median(diffs)), 4),
        "tag_max_abs_diff_max": round(float(np.max(diffs)), 4),
        "top5_overlap_mean": round(float(np.mean(overlap)), 4),
        "embedding_correlation_min": round(float(np.min(corr)), 4),
        # a tag read systematically higher or lower (the mean shift over the files of the most shifted tag)
        "tag_mean_shift_max": round(float(np.abs(np.mean(shifts, axis=0)).max()), 4),
    }


def calibrate_artefact(
    files: Sequence[Path],
    *,
    check: Sequence[Path] = (),
    headroom: float = INT8_HEADROOM,
    source: str = "",
    directory: Path = ARTEFACT_DIR,
) -> dict[str, Any]:
    """Write each model's int8 calibration from real recordings `files` (the default windows of each),
    measure int8 against float32 on `check` (other recordings) and on the fixture clips, and
    re-write the manifest at ARTEFACT_VERSION."""
    directory = Path(directory).resolve()
    manifest = verify_artefact(directory, name="music tagger", fix="git checkout -- models/tagger")
    patches = np.concatenate([prepare_excerpts(decode_windows(path)[0]).patches for path in files])
    meta = manifest["meta"]
    for name in UPSTREAM_NAMES:
        reference = MusicTagger._load_uncached(name, directory, "float32")
        calibration = calibrate(reference._network, patches, headroom=headroom)
        calibration["source"] = source or f"{len(files)} recordings"
        with atomic_path(directory / calibration_file(name)) as tmp:
            tmp.write_text(json.dumps(calibration) + "\n")
        write_manifest(directory, name=ARTEFACT_NAME, version=ARTEFACT_VERSION, meta=meta)  # provisional, to load
        candidate = MusicTagger._load_uncached(name, directory, "int8")
        meta["models"][name]["int8"] = {
            "calibration": {
                "recordings": len(files),
                "patches": len(patches),
                "headroom": headroom,
                "source": calibration["source"],
            },
            "agreement_held_out": agreement(reference, candidate, check) if check else None,
            "agreement_fixture_clips": agreement(reference, candidate, sorted(REFERENCE_FILE.parent.glob("*.ogg"))),
            "speed_one_thread": bench(candidate, threads=1),
            "engine": _quantized_engine(),
        }
        meta["models"][name]["speed_one_thread"] = bench(reference, threads=1)
    return write_manifest(directory, name=ARTEFACT_NAME, version=ARTEFACT_VERSION, meta=meta)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tools.tagger", description="MusiCNN tagger (torch port)")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build models/tagger/ from tools/tagger_convert.py's .npz dumps")
    b.add_argument("--npz", type=Path, required=True, help="folder holding MSD_musicnn.npz and MTT_musicnn.npz")
    b.add_argument("--out", type=Path, default=ARTEFACT_DIR)
    c = sub.add_parser("calibrate", help="the int8 front-end's ranges from real recordings, checked on others")
    c.add_argument("files", nargs="+", type=Path, help="real recordings to calibrate on")
    c.add_argument("--check", nargs="*", type=Path, default=[], help="other recordings: int8 against float32")
    c.add_argument("--headroom", type=float, default=INT8_HEADROOM)
    c.add_argument("--source", default="", help="where the recordings come from, for the manifest")
    c.add_argument("--out", type=Path, default=ARTEFACT_DIR)
    s = sub.add_parser("bench", help="seconds per patch and per 30 s of audio")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--model", default="msd", choices=sorted(MODEL_TAGS))
    s.add_argument("--precision", default="int8", choices=PRECISIONS)
    t = sub.add_parser("tag", help="print the top tags of audio files")
    t.add_argument("files", nargs="+", type=Path)
    t.add_argument("--model", default="msd", choices=sorted(MODEL_TAGS))
    t.add_argument("--windows", type=int, default=DEFAULT_WINDOWS, help="0 reads the whole track")
    t.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    if args.command == "build":
        manifest = build_artefact(args.npz, directory=args.out)
        print(json.dumps(manifest["meta"]["models"], indent=2))
    elif args.command == "calibrate":
        manifest = calibrate_artefact(
            args.files, check=args.check, headroom=args.headroom, source=args.source, directory=args.out
        )
        print(json.dumps({name: m["int8"] for name, m in manifest["meta"]["models"].items()}, indent=2))
    elif args.command == "bench":
        print(json.dumps(bench(MusicTagger.load(args.model, precision=args.precision), threads=args.threads)))
    else:
        tagger = MusicTagger.load(args.model)
        for path in args.files:
            out = tagger.tag_file(path, windows=args.windows or None)
            print(f"{path}: " + ", ".join(f"{tag} {p:.2f}" for tag, p in out.top(args.top)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
