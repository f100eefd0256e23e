"""One-off conversion of musicnn's TF1 checkpoints to .npz, plus the reference outputs (TensorFlow here only).

Moodtune's runtime (`tools/tagger.py`, torch) never imports TensorFlow. This script runs once, in a
throwaway venv outside the repo, to read the pretrained MusiCNN checkpoints that the PyPI package
`musicnn==0.1.0` (ISC licence, Jordi Pons, Minz Won, Xavier Serra; MTG-UPF) ships, and to run
the reference forward pass whose outputs our tests compare against. It imports numpy, librosa,
soundfile (musicnn's own dependencies), tensorflow and musicnn's model code; nothing of Moodtune.

Redo the conversion (about 10 minutes, most of it the 2.6 GB TensorFlow download):

    python3.11 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras numpy librosa soundfile
    /tmp/tfvenv/bin/pip install --no-deps musicnn==0.1.0
    cd /work/main   # the repo root
    TF_USE_LEGACY_KERAS=1 /tmp/tfvenv/bin/python tools/tagger_convert.py \\
        --out /tmp/musicnn_npz --fixtures tests/fixtures/tagger
    # then, in the project venv, build models/tagger/ from the dumps:
    .venv/bin/python -m tools.tagger build --npz /tmp/musicnn_npz

Add `--upstream-check` to also run musicnn's own `extractor()` unchanged on the fixture clips
and print how far its (buggy) results are from the fixed reference.

What it writes:
- `<out>/MSD_musicnn.npz`, `<out>/MTT_musicnn.npz`: every variable of the model graph under its
  TF name (`conv2d/kernel`, `batch_normalization_3/moving_mean`, ...; the Adam slots in the
  checkpoint are optimizer state and are not part of the graph), plus `__labels__` (the tag list
  in output order) and `__meta__` (a JSON string: source package, versions, BN epsilon).
- `<fixtures>/reference_outputs.npz`: for each model `m` in (msd, mtt) and each fixture clip `c`:
  `m__c__taggram` (patches x 50, sigmoid probabilities), `m__c__tags` (50, the mean over patches),
  `m__c__logits`, `m__c__penultimate` (patches x 200); per clip `c__logmel_mean` (96, mean
  log-mel per band), `c__logmel_head` (8 x 96, the first frames) and `c__n_patches`; and
  `__meta__` (JSON: preprocessing parameters, versions).

The reference avoids two upstream bugs of musicnn 0.1.0's extractor:
(a) `batch_data` casts the mel power to float16 before `np.log10(10000 * x + 1)`; 10000 * x
    overflows float16 (max 65504) for any bin above 6.55 and turns into inf, so loud tracks
    all get near-identical tags. Here the log-mel is computed in float32.
(b) with BATCH_SIZE = 1, the loop over patches after the first unpacks into `midend1_`,
    `midend2_`, `midend3_`, `backend_` but concatenates `cnn1_`, `cnn2_`, `cnn3_`,
    `penultimate_` of the first patch (jordipons/musicnn issues #2, #20): every patch's
    penultimate embedding is the first one's. Here all patches of a clip go in one batch and
    every output is fetched from that one run.
The STFT padding is `reflect`, the librosa default when the models were trained (2019; librosa
0.10 changed it to zeros); it changes only the first and last frames.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import warnings

import librosa
import numpy as np

MODELS = {"msd": "MSD_musicnn", "mtt": "MTT_musicnn"}
SR = 16_000
N_FFT = 512
HOP = 256
N_MELS = 96
N_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, as musicnn computes it
PAD_MODE = "reflect"
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default; musicnn passes none
CLIPS = ("rock", "calm", "electro", "noise")


def log_mel(y: np.ndarray) -> np.ndarray:
    """(frames, 96) float32 log-mel, musicnn's recipe without the float16 cast."""
    mel = librosa.feature.melspectrogram(
        y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, pad_mode=PAD_MODE
    ).T.astype(np.float32)
    return np.log10(np.float32(10000) * mel + np.float32(1)).astype(np.float32)


def patches(rep: np.ndarray, hop: int = N_FRAMES) -> np.ndarray:
    """(n, 187, 96): musicnn's batch_data split (no overlap by default; a trailing partial patch is dropped)."""
    starts = range(0, rep.shape[0] - N_FRAMES + 1, hop)
    return np.stack([rep[s : s + N_FRAMES] for s in starts]).astype(np.float32)


def _tf():
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
    warnings.filterwarnings("ignore", message=r"`tf\.layers\.", category=UserWarning)  # musicnn's TF1 layers
    return tf


class Reference:
    """One musicnn model in a TF1 graph, restored from the package's checkpoint."""

    def __init__(self, model: str) -> None:
        import musicnn
        from musicnn import configuration, models

        tf = _tf()
        self.labels = list(configuration.MTT_LABELS if model.startswith("MTT") else configuration.MSD_LABELS)
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, N_MELS])
            self.is_training = tf.compat.v1.placeholder(tf.bool)
            with tf.name_scope("model"):  # as musicnn's extractor builds it
                out = models.define_model(self.x, self.is_training, model, len(self.labels))
            logits, _timbral, _temporal, _cnn1, _cnn2, _cnn3, mean_pool, max_pool, penultimate = out
            self.fetch = {
                "logits": logits,
                "taggram": tf.nn.sigmoid(logits),
                "penultimate": penultimate,
                "mean_pool": mean_pool,
                "max_pool": max_pool,
            }
            self.variables = tf.compat.v1.global_variables()
            self.session = tf.compat.v1.Session(graph=self.graph)
            checkpoint = os.path.join(os.path.dirname(musicnn.__file__), model) + "/"
            self.experiment_result = Path(checkpoint, "experiment.result").read_text().strip()
            tf.compat.v1.train.Saver().restore(self.session, checkpoint)

    def dump_variables(self) -> dict[str, np.ndarray]:
        values = self.session.run(self.variables)
        return {v.name.removesuffix(":0"): np.asarray(a) for v, a in zip(self.variables, values)}

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """All outputs of all patches from one session run (no per-batch reuse: upstream bug (b))."""
        out = self.session.run(self.fetch, feed_dict={self.x: batch, self.is_training: False})
        return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def _versions() -> dict[str, str]:
    import soundfile
    import tensorflow as tf

    return {
        "musicnn": "0.1.0",
        "tensorflow": tf.__version__,
        "librosa": librosa.__version__,
        "numpy": np.__version__,
        "soundfile": soundfile.__version__,
    }


def upstream_check(fixtures: Path, reference: dict[str, np.ndarray]) -> None:
    """Run musicnn's own extractor, unchanged, and print how far it is from the fixed reference."""
    from musicnn.extractor import extractor

    for key, model in MODELS.items():
        for clip in CLIPS:
            taggram, labels, features = extractor(str(fixtures / f"{clip}.ogg"), model=model, extract_features=True)
            ours = reference[f"{key}__{clip}__taggram"]
            pen = np.asarray(features["penultimate"])
            n = min(len(taggram), len(ours))
            finite = bool(np.isfinite(taggram).all())
            print(
                f"upstream {model} {clip}: max |taggram - fixed| = {np.nanmax(np.abs(taggram[:n] - ours[:n])):.4f}"
                f" (finite: {finite}); penultimate rows identical to row 0: "
                f"{int(sum(np.array_equal(pen[i], pen[0]) for i in range(1, len(pen))))}/{len(pen) - 1}; "
                f"upstream top 3 {[labels[i] for i in np.argsort(-taggram.mean(axis=0))[:3]]}, fixed top 3 "
                f"{[labels[i] for i in np.argsort(-ours.mean(axis=0))[:3]]}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/musicnn_npz"), help="where the weight dumps go")
    parser.add_argument("--fixtures", type=Path, default=Path("tests/fixtures/tagger"), help="clips in, references out")
    parser.add_argument("--upstream-check", action="store_true", help="also run musicnn's unchanged extractor")
    args = parser.parse_args(argv)

    import soundfile

    args.out.mkdir(parents=True, exist_ok=True)
    versions = _versions()
    clips = {}
    for clip in CLIPS:
        y, sr = soundfile.read(str(args.fixtures / f"{clip}.ogg"), dtype="float32")
        if y.ndim > 1:
            y = y.mean(axis=1)
        if sr != SR:
            sys.exit(f"{clip}.ogg is {sr} Hz; the fixtures are {SR} Hz mono")
        clips[clip] = log_mel(y)

    reference: dict[str, np.ndarray] = {}
    for clip, rep in clips.items():
        reference[f"{clip}__logmel_mean"] = rep.mean(axis=0)
        reference[f"{clip}__logmel_head"] = rep[:8]
        reference[f"{clip}__n_patches"] = np.array(len(patches(rep)))
    for key, model in MODELS.items():
        ref = Reference(model)
        weights = ref.dump_variables()
        meta = {
            "source": f"musicnn==0.1.0 {model}",
            "bn_epsilon": BN_EPSILON,
            "versions": versions,
            "experiment_result": ref.experiment_result,  # the package's own test-set figures
        }
        np.savez(
            args.out / f"{model}.npz",
            **weights,
            __labels__=np.array(ref.labels),
            __meta__=np.array(json.dumps(meta)),
        )
        print(f"{model}: {len(weights)} variables, {sum(w.size for w in weights.values())} values -> {args.out}")
        for clip, rep in clips.items():
            out = ref.run(patches(rep))
            reference[f"{key}__{clip}__taggram"] = out["taggram"]
            reference[f"{key}__{clip}__tags"] = out["taggram"].mean(axis=0)
            reference[f"{key}__{clip}__logits"] = out["logits"]
            reference[f"{key}__{clip}__penultimate"] = out["penultimate"]
            top = np.argsort(-out["taggram"].mean(axis=0))[:5]
            print(f"  {clip}: {len(out['taggram'])} patches; top tags {[ref.labels[i] for i in top]}")
        reference[f"{key}__labels"] = np.array(ref.labels)
        ref.session.close()
    reference["__meta__"] = np.array(
        json.dumps(
            {
                "sr": SR,
                "n_fft": N_FFT,
                "hop_length": HOP,
                "n_mels": N_MELS,
                "n_frames": N_FRAMES,
                "pad_mode": PAD_MODE,
                "log": "log10(10000 * mel + 1), float32",
                "patch_hop": N_FRAMES,
                "clips": list(CLIPS),
                "versions": versions,
            }
        )
    )
    np.savez_compressed(args.fixtures / "reference_outputs.npz", **reference)
    print(f"reference outputs -> {args.fixtures / 'reference_outputs.npz'}")
    if args.upstream_check:
        upstream_check(args.fixtures, reference)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
