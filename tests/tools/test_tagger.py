"""The MusiCNN tagger port (tools/tagger.py) against musicnn's own TF graph, on our fixture clips.

tests/fixtures/tagger/reference_outputs.npz was written by tools/tagger_convert.py (TensorFlow,
musicnn 0.1.0's model code and checkpoints, with its two extractor bugs fixed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

import tools.tagger
from moodtune.errors import AudioReadError, InputError, ModelCorruptError, ModelMissingError
from tools.tagger import (
    ARTEFACT_DIR,
    MODEL_TAGS,
    MSD_TAGS,
    MTT_TAGS,
    PATCH_FRAMES,
    SAMPLE_RATE,
    MusicTagger,
    TaggerOutput,
    calibrate,
    calibration_file,
    decode_windows,
    log_mel,
    plan_windows,
    prepare_excerpts,
    split_patches,
    tags_file,
    weights_file,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tagger"
CLIPS = ("rock", "calm", "electro", "noise")


@pytest.fixture(scope="module")
def reference():
    with np.load(FIXTURES / "reference_outputs.npz") as ref:
        return {k: ref[k] for k in ref.files}


@pytest.fixture(scope="module")
def outputs() -> dict[tuple[str, str], TaggerOutput]:
    return {
        (model, clip): MusicTagger.load(model, precision="float32").tag_file(FIXTURES / f"{clip}.ogg", windows=None)
        for model in MODEL_TAGS
        for clip in CLIPS
    }


def _clip(name: str) -> np.ndarray:
    y, sr = soundfile.read(str(FIXTURES / f"{name}.ogg"), dtype="float32")
    assert sr == SAMPLE_RATE
    return y


def test_fixture_clips_are_small_and_16k_mono():
    total = 0
    for clip in CLIPS:
        info = soundfile.info(str(FIXTURES / f"{clip}.ogg"))
        assert (info.samplerate, info.channels) == (SAMPLE_RATE, 1)
        assert 6.0 <= info.duration <= 10.5
        total += (FIXTURES / f"{clip}.ogg").stat().st_size
    assert total < 400_000


@pytest.mark.parametrize("model", sorted(MODEL_TAGS))
@pytest.mark.parametrize("clip", CLIPS)
def test_parity_with_tensorflow_reference(model, clip, outputs, reference):
    out = outputs[(model, clip)]
    key = f"{model}__{clip}"
    assert out.taggram.shape == reference[f"{key}__taggram"].shape == (int(reference[f"{clip}__n_patches"]), 50)
    assert np.abs(out.taggram - reference[f"{key}__taggram"]).max() < 1e-4
    mean = np.array([out.tags[t] for t in MODEL_TAGS[model]])
    assert np.abs(mean - reference[f"{key}__tags"]).max() < 1e-4
    np.testing.assert_allclose(out.embeddings, reference[f"{key}__penultimate"], atol=1e-3)
    np.testing.assert_allclose(out.embedding, reference[f"{key}__penultimate"].mean(axis=0), atol=1e-3)
    assert list(reference[f"{model}__labels"]) == list(MODEL_TAGS[model])


@pytest.mark.parametrize("clip", CLIPS)
def test_log_mel_matches_reference(clip, reference):
    rep = log_mel(_clip(clip))
    assert rep.dtype == np.float32 and rep.shape[1] == 96
    assert np.isfinite(rep).all()  # the float16 cast of musicnn 0.1.0 made loud bins inf
    np.testing.assert_allclose(rep[:8], reference[f"{clip}__logmel_head"], atol=1e-5)
    np.testing.assert_allclose(rep.mean(axis=0), reference[f"{clip}__logmel_mean"], atol=1e-5)


def test_fused_front_end_equals_the_literal_tf_order(reference):
    import torch

    network = MusicTagger.load("mtt", precision="float32")._network
    patches = torch.from_numpy(split_patches(log_mel(_clip("rock")))[0])
    with torch.inference_mode():
        fast_logits, fast_pen = network(patches)
        literal_logits, literal_pen = network(patches, literal=True)
    assert torch.allclose(fast_logits, literal_logits, atol=1e-4)
    assert torch.allclose(fast_pen, literal_pen, atol=1e-4)
    np.testing.assert_allclose(literal_logits.numpy(), reference["mtt__rock__logits"], atol=1e-3)


def test_different_clips_get_different_top_tags(outputs):
    for model in MODEL_TAGS:
        tops = {clip: outputs[(model, clip)].top(1)[0][0] for clip in ("rock", "calm", "electro")}
        assert len(set(tops.values())) == 3, tops
    mtt = {clip: {t for t, _ in outputs[("mtt", clip)].top(3)} for clip in CLIPS}
    assert mtt["rock"] & {"rock", "guitar", "drums", "metal"}
    assert mtt["calm"] & {"piano", "slow", "strings", "classical", "soft", "quiet"}
    assert mtt["electro"] & {"techno", "electronic", "dance", "beat"}
    msd = {clip: {t for t, _ in outputs[("msd", clip)].top(3)} for clip in CLIPS}
    assert msd["electro"] & {"electronic", "dance", "electro", "House"}
    assert msd["calm"] & {"ambient", "instrumental", "chillout", "Mellow", "beautiful"}
    assert msd["rock"] & {"rock", "indie", "alternative", "hard rock", "metal", "punk"}
    # The embeddings of a loud band and of quiet strings are far apart.
    a, b = outputs[("msd", "rock")].embedding, outputs[("msd", "calm")].embedding
    assert np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b) < 0.9


def test_embedding_varies_over_time():
    """Each patch has its own penultimate vector (musicnn 0.1.0 repeated the first patch's)."""
    tagger = MusicTagger.load("msd")
    y = np.concatenate([_clip("calm"), _clip("electro")])
    out = tagger.tag_signal(y, SAMPLE_RATE, windows=None)
    assert out.embeddings.shape == (6, 200) and out.taggram.shape == (6, 50)
    np.testing.assert_allclose(out.patch_times, np.arange(6) * PATCH_FRAMES * 256 / SAMPLE_RATE)
    for i in range(1, 6):
        assert np.abs(out.embeddings[i] - out.embeddings[0]).max() > 1e-2
    calm_half, electro_half = out.embeddings[:3].mean(axis=0), out.embeddings[3:].mean(axis=0)
    within = np.linalg.norm(out.embeddings[1] - out.embeddings[2])
    assert np.linalg.norm(calm_half - electro_half) > within
    assert out.taggram[4, MSD_TAGS.index("dance")] > out.taggram[1, MSD_TAGS.index("dance")]


def test_plan_windows_spreads_excerpts_over_the_track():
    assert plan_windows(100.0, windows=4, window_seconds=9.0) == [(15.5, 9.0), (35.5, 9.0), (55.5, 9.0), (75.5, 9.0)]
    assert plan_windows(30.0, windows=4, window_seconds=9.0) == [(0.0, None)]  # short: read whole
    assert plan_windows(500.0, windows=None, window_seconds=9.0) == [(0.0, None)]
    assert plan_windows(40.0, windows=3, window_seconds=10.0) == [(5.0, 10.0), (15.0, 10.0), (25.0, 10.0)]
    with pytest.raises(InputError):
        plan_windows(100.0, windows=0, window_seconds=9.0)


def test_tag_file_reads_only_the_windows_of_a_long_track(tmp_path):
    # 80 s: calm, rock, electro, noise, twice; windows centred at 16, 32, 48, 64 s.
    y = np.concatenate([_clip(c) for c in CLIPS * 2])
    path = tmp_path / "long.flac"
    soundfile.write(str(path), y, SAMPLE_RATE)
    tagger = MusicTagger.load("mtt", precision="float32")  # int8 turns FLAC's 16-bit rounding into ~3e-3
    out = tagger.tag_file(path)
    assert [start for start, _ in out.windows] == [11.5, 27.5, 43.5, 59.5]
    assert out.taggram.shape == (12, 50) and out.embeddings.shape == (12, 200)
    assert out.duration == pytest.approx(80.0)
    np.testing.assert_allclose(out.patch_times[:3], [11.5, 11.5 + 2.992, 11.5 + 5.984])
    same = tagger.tag_signal(y, SAMPLE_RATE)  # the same excerpts cut from memory
    np.testing.assert_allclose(same.taggram, out.taggram, atol=1e-3)
    whole = tagger.tag_file(path, windows=None)
    assert whole.taggram.shape == (26, 50)


def test_signal_forms_short_clips_and_resampling():
    tagger = MusicTagger.load("msd")
    y = _clip("electro")
    mono = tagger.tag_signal(y, SAMPLE_RATE)
    stereo = tagger.tag_signal(np.stack([y, y]), SAMPLE_RATE)
    np.testing.assert_allclose(stereo.taggram, mono.taggram, atol=1e-6)
    short = tagger.tag_signal(y[: int(1.5 * SAMPLE_RATE)], SAMPLE_RATE)  # repeat-padded to one patch
    assert short.taggram.shape == (1, 50)
    import librosa

    y22 = librosa.resample(y, orig_sr=SAMPLE_RATE, target_sr=22_050)
    resampled = tagger.tag_signal(y22, 22_050)
    assert resampled.top(1)[0][0] == mono.top(1)[0][0]
    assert set(mono.tags) == set(MSD_TAGS) and len(MTT_TAGS) == 50


@pytest.mark.parametrize(
    ("signal", "sr"),
    [
        (np.zeros(0, dtype=np.float32), SAMPLE_RATE),
        (np.ones(1000, dtype=np.float32), SAMPLE_RATE),
        (np.zeros(SAMPLE_RATE * 5, dtype=np.float32), SAMPLE_RATE),
        (np.full(SAMPLE_RATE * 5, np.nan, dtype=np.float32), SAMPLE_RATE),
        (np.ones((2, 2, SAMPLE_RATE), dtype=np.float32), SAMPLE_RATE),
        (np.ones(SAMPLE_RATE * 5, dtype=np.float32), 0),
    ],
)
def test_bad_signals_are_input_errors(signal, sr):
    with pytest.raises(InputError):
        MusicTagger.load("msd").tag_signal(signal, sr)


def test_unreadable_audio_is_a_clear_audio_read_error(tmp_path):
    tagger = MusicTagger.load("msd")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF not really a wave file" * 50)
    with pytest.raises(AudioReadError, match="could not be decoded") as info:
        tagger.tag_file(garbage)
    assert isinstance(info.value, InputError) and "re-encode" in info.value.hint
    with pytest.raises(AudioReadError, match="does not exist"):
        tagger.tag_file(tmp_path / "missing.ogg")
    (tmp_path / "empty.flac").write_bytes(b"")
    with pytest.raises(AudioReadError, match="empty"):
        tagger.tag_file(tmp_path / "empty.flac")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(AudioReadError, match="not a supported audio format"):
        tagger.tag_file(tmp_path / "notes.txt")
    silent = tmp_path / "silent.wav"
    soundfile.write(str(silent), np.zeros(SAMPLE_RATE * 4, dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(AudioReadError, match="half a second of sound"):
        tagger.tag_file(silent)


def test_unknown_model_name_is_an_input_error():
    with pytest.raises(InputError, match="unknown tagger model"):
        MusicTagger.load("gtzan")


def test_artefact_manifest_and_tag_lists():
    manifest = json.loads((ARTEFACT_DIR / "manifest.json").read_text())
    assert manifest["name"] == "tagger" and manifest["meta"]["licence"] == "ISC"
    for model, tags in MODEL_TAGS.items():
        assert weights_file(model) in manifest["files"]
        assert tuple(json.loads((ARTEFACT_DIR / tags_file(model)).read_text())) == tags
        assert manifest["meta"]["models"][model]["parity"]["max_abs_diff_taggram"] < 1e-4
    assert MusicTagger.load("msd") is MusicTagger.load("msd")  # loaded once per process


def test_missing_artefact_file_names_the_fix(tmp_path):
    copy = tmp_path / "tagger"
    shutil.copytree(ARTEFACT_DIR, copy)
    (copy / weights_file("mtt")).unlink()
    with pytest.raises(ModelMissingError, match=r"missing mtt_musicnn\.safetensors") as info:
        MusicTagger.load("mtt", directory=copy)
    assert "git checkout -- models/tagger" in info.value.hint and "tools.tagger build" in info.value.hint
    with pytest.raises(ModelMissingError, match="not found"):
        MusicTagger.load("msd", directory=tmp_path / "nowhere")


def test_corrupt_artefact_file_names_the_fix(tmp_path):
    copy = tmp_path / "tagger"
    shutil.copytree(ARTEFACT_DIR, copy)
    weights = copy / weights_file("msd")
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelCorruptError, match="fails its checksum") as info:
        MusicTagger.load("msd", directory=copy)
    assert "git checkout -- models/tagger" in info.value.hint


# -- the int8 front-end ------------------------------------------------------------------------


def test_int8_is_the_default_and_float32_the_exact_port():
    assert MusicTagger.load("msd").precision == "int8"
    assert MusicTagger.load("msd", precision="float32").precision == "float32"
    assert MusicTagger.load("msd") is not MusicTagger.load("msd", precision="float32")
    with pytest.raises(InputError, match="unknown tagger precision"):
        MusicTagger.load("msd", precision="fp16")


@pytest.mark.parametrize("model", sorted(MODEL_TAGS))
def test_int8_reads_real_recordings_as_float32_does(model, real_recordings):
    """The calibration came from other recordings (models/tagger/manifest.json): these are unseen."""
    exact, fast = MusicTagger.load(model, precision="float32"), MusicTagger.load(model)
    for name, path in real_recordings.items():
        patches = prepare_excerpts(decode_windows(path)[0]).patches
        (p_exact, _, e_exact), (p_fast, _, e_fast) = exact.tag_patches(patches), fast.tag_patches(patches)
        mean_exact, mean_fast = p_exact.mean(axis=0), p_fast.mean(axis=0)
        assert np.abs(mean_exact - mean_fast).max() < 0.05, name
        assert set(np.argsort(-mean_exact)[:3]) == set(np.argsort(-mean_fast)[:3]), name
        corr = np.corrcoef(e_exact.mean(axis=0), e_fast.mean(axis=0))[0, 1]
        assert corr > 0.99, name


def test_int8_keeps_the_genre_tags_of_a_metal_recording(real_recordings):
    """All five convs in int8 read this track's "metal" 0.012 lower than float32 (the 32-tap
    conv's near-equal taps, see FLOAT32_LAYERS), which turned real metal tracks into rock."""
    patches = prepare_excerpts(decode_windows(real_recordings["metal"])[0]).patches
    exact = MusicTagger.load("msd", precision="float32").tag_patches(patches)[0].mean(axis=0)
    fast = MusicTagger.load("msd").tag_patches(patches)[0].mean(axis=0)
    for tag in ("metal", "heavy metal", "hard rock", "rock"):
        assert abs(fast[MSD_TAGS.index(tag)] - exact[MSD_TAGS.index(tag)]) < 0.005, tag


def test_calibration_ranges_cover_what_they_were_measured_on():
    import torch
    import torch.nn.functional as F

    network = MusicTagger.load("mtt", precision="float32")._network
    patches = split_patches(log_mel(np.concatenate([_clip("rock"), _clip("calm")])))[0]
    calibration = calibrate(network, patches, headroom=1.25)
    assert calibration["format"] == 1 and calibration["patches"] == len(patches)
    low, high = calibration["input"]
    with torch.inference_mode():
        x = network.bn_input(torch.from_numpy(patches).unsqueeze(1))
        silence = float(network.bn_input(torch.zeros(1, 1, 1, 1)))
        assert low <= silence and low <= float(x.min()) and high > float(x.max())
        for (conv, _bn, k), ranges in zip(network.front_layers(), calibration["layers"]):
            peak = F.relu(F.conv2d(network.pad_for(x, k), conv.weight, conv.bias)).amax(dim=(0, 2, 3))
            assert len(ranges) == conv.out_channels
            np.testing.assert_allclose(ranges, np.maximum(1.25 * peak.numpy(), 1e-3), rtol=1e-5)


def _rewritten(copy: Path, name: str, text: str | None) -> None:
    from moodtune.artefacts import write_manifest

    manifest = json.loads((copy / "manifest.json").read_text())
    if text is None:
        (copy / calibration_file(name)).unlink()
    else:
        (copy / calibration_file(name)).write_text(text)
    write_manifest(copy, name=manifest["name"], version=manifest["version"], meta=manifest["meta"])


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        (None, ModelMissingError, "no int8 calibration"),
        ("{not json", ModelCorruptError, "unreadable"),
        ('{"format": 2, "layers": []}', ModelCorruptError, "unknown format"),
    ],
)
def test_missing_or_broken_calibration_names_the_fix(tmp_path, text, error, match):
    copy = tmp_path / "tagger"
    shutil.copytree(ARTEFACT_DIR, copy)
    _rewritten(copy, "mtt", text)
    with pytest.raises(error, match=match) as info:
        MusicTagger.load("mtt", directory=copy)
    assert "models/tagger" in info.value.hint
    assert MusicTagger.load("mtt", directory=copy, precision="float32").precision == "float32"


def test_a_torch_without_int8_falls_back_to_float32(tmp_path, monkeypatch, caplog):
    copy = tmp_path / "tagger"
    shutil.copytree(ARTEFACT_DIR, copy)
    monkeypatch.setattr(tools.tagger, "_quantized_engine", lambda: None)
    with caplog.at_level("WARNING", logger="tools.tagger"):
        tagger = MusicTagger.load("msd", directory=copy)
    assert tagger.precision == "float32" and "float32" in caplog.text
    exact = MusicTagger.load("msd", precision="float32")
    y = _clip("rock")
    np.testing.assert_allclose(
        tagger.tag_signal(y, SAMPLE_RATE).taggram, exact.tag_signal(y, SAMPLE_RATE).taggram, atol=1e-6
    )
