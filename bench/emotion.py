"""Emotion classifier benchmark: GoEmotions-Ekman test, the eight moods on held-out requests, speed.

python -m bench.emotion          (needs data/goemotions, see data/README.md)
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import write_results
from bench.plots import confusion_png
from moodtune.types import MOOD_NAMES
from tools.emotion import load_emotion_model
from tools.emotion_model import EKMAN_LABELS, GOEMOTIONS_DIR, HELDOUT_PATH, macro_f1, read_goemotions, read_labelled_tsv


def main() -> dict:
    import torch
    from sklearn.metrics import confusion_matrix

    model = load_emotion_model()
    test = read_goemotions(GOEMOTIONS_DIR / "ekman_test.tsv", EKMAN_LABELS)
    truth = [EKMAN_LABELS.index(label) for _, label in test]
    predicted = model.predict_ekman([t for t, _ in test]).argmax(1).tolist()
    f1, per_class = macro_f1(truth, predicted, len(EKMAN_LABELS))
    ekman_png = confusion_png(
        confusion_matrix(truth, predicted), EKMAN_LABELS, title="GoEmotions-Ekman test", name="emotion_ekman_confusion"
    )

    heldout = read_labelled_tsv(HELDOUT_PATH)
    mood_truth = [MOOD_NAMES.index(m) for _, m in heldout]
    mood_pred = model.predict_moods([t for t, _ in heldout]).argmax(1).tolist()
    mood_f1, mood_per_class = macro_f1(mood_truth, mood_pred, len(MOOD_NAMES))
    mood_png = confusion_png(
        confusion_matrix(mood_truth, mood_pred),
        MOOD_NAMES,
        title="Held-out music requests (8 moods)",
        name="emotion_moods_confusion",
    )

    sentences = [t for t, _ in test[:2000]]
    model.predict_moods(sentences[:64])  # warm-up
    start = time.perf_counter()
    model.predict_moods(sentences, batch_size=64)
    batched = len(sentences) / (time.perf_counter() - start)
    singles = []
    for text in sentences[:200]:
        start = time.perf_counter()
        model.predict_moods([text])
        singles.append(time.perf_counter() - start)
    figures = {
        "ekman_test": {
            "n": len(test),
            "accuracy": round(float(np.mean(np.array(truth) == np.array(predicted))), 4),
            "macro_f1": round(f1, 4),
            "per_class_f1": {k: round(v, 4) for k, v in zip(EKMAN_LABELS, per_class)},
            "confusion_png": ekman_png.name,
            "protocol": "single-label test comments (multi-label ones excluded)",
        },
        "moods_heldout": {
            "n": len(heldout),
            "accuracy": round(float(np.mean(np.array(mood_truth) == np.array(mood_pred))), 4),
            "macro_f1": round(mood_f1, 4),
            "per_class_f1": {k: round(v, 4) for k, v in zip(MOOD_NAMES, mood_per_class)},
            "confusion_png": mood_png.name,
        },
        "speed": {
            "sentences_per_second_batched": round(batched, 1),
            "single_ms_p50": round(1000 * float(np.median(singles)), 2),
            "single_ms_p95": round(1000 * float(np.percentile(singles, 95)), 2),
            "torch_threads": torch.get_num_threads(),
        },
    }
    write_results("emotion", figures)
    return figures


if __name__ == "__main__":
    main()
