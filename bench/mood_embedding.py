"""Does the MSD tagger's 200-d embedding read the audio's mood better than its tags? (issue 14)

    python -m bench.mood_embedding

Arousal and valence as in bench/fit_audio_reading.py (balanced L2 logistic regression on
standardised features, leave one package out, pooled ROC-AUC of the linear part), over: the tags
as log-odds plus tempo and loudness (what the shipped reader reads), the embedding alone, both,
and the tags plus the embedding's first k principal components (fitted on the training packages
only). The embedding is what ingestion stores in the catalog's audio collection; for the dev
recordings it is computed once (a decode per file) and cached beside the components
(`bench.fit_audio_reading.embedding`). Writes bench/results/mood_embedding.json.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import realaudio
from bench.common import write_results
from bench.fit_audio_reading import _auc, _Features, components, embedding
from tools.audio_reading import ALL_TAGS, MEASURED, MoodAxis, prefixed

C_GRID = (0.003, 0.01, 0.03, 0.1)
PCA_DIMS = (4, 8, 16, 32)


def lopo(x: np.ndarray, emb: np.ndarray, y: np.ndarray, groups: np.ndarray, C: float, pca: int = 0) -> float | None:
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    scores = np.zeros(len(y))
    for package in np.unique(groups):
        train, test = groups != package, groups == package
        xtr, xte = x[train], x[test]
        if pca:
            reduce = PCA(pca).fit(emb[train])
            xtr, xte = np.hstack([xtr, reduce.transform(emb[train])]), np.hstack([xte, reduce.transform(emb[test])])
        mu, sd = xtr.mean(axis=0), xtr.std(axis=0) + 1e-6
        model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced").fit((xtr - mu) / sd, y[train])
        scores[test] = ((xte - mu) / sd) @ model.coef_[0]
    auc = _auc(list(y), list(scores))
    return round(auc, 4) if auc is not None else None


def main() -> dict[str, Any]:
    rows = realaudio.load_rows("all")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="moodtune-embedding-") as tmp:
        items = [(r, components(r, Path(tmp)), embedding(r, Path(tmp))) for r in rows]
    names = (*ALL_TAGS, *MEASURED)
    for axis, positive in (("arousal", "high"), ("valence", "positive")):
        labelled = [(r, c, e) for r, c, e in items if r.get(axis) not in (None, "")]
        y = np.array([int(r[axis] == positive) for r, _, _ in labelled])
        groups = np.array([r["package"] for r, _, _ in labelled])
        emb = np.stack([e for _, _, e in labelled]).astype(np.float64)
        tags = np.stack(
            [
                MoodAxis.raw(prefixed(c["msd"], c["mtt"]), _Features(c["tempo"], c["loudness_db"]), names, "logodds")  # type: ignore[arg-type]
                for _, c, _ in labelled
            ]
        )
        none = np.zeros((len(y), 0))
        result: dict[str, Any] = {"tracks": len(y), "positives": int(y.sum()), "packages": len(set(groups))}
        for C in C_GRID:
            result[f"C={C}"] = {
                "tags_logodds+measured": lopo(tags, emb, y, groups, C),
                "embedding": lopo(emb, emb, y, groups, C),
                "tags+embedding": lopo(np.hstack([tags, emb]), emb, y, groups, C),
                **{f"embedding_pca{k}": lopo(none, emb, y, groups, C, pca=k) for k in PCA_DIMS},
                **{f"tags+embedding_pca{k}": lopo(tags, emb, y, groups, C, pca=k) for k in PCA_DIMS},
            }
        figures[axis] = result
        print(axis, result)
    write_results("mood_embedding", figures)
    return figures


if __name__ == "__main__":
    main()
