"""Voice over HTTP and in the browser: real espeak-ng speech, real Whisper, a real server (fake LLM)."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace

import httpx
import numpy as np
import pytest
import soundfile

from tools import speech


@pytest.fixture
def settings(settings, real_whisper_dir):
    """Every agent here (demo_agent included) finds the real speech models."""
    return replace(settings, whisper_dir=real_whisper_dir)


@pytest.fixture
def client():
    # A turn here transcribes for real: on a machine shared with LLM benchmarks that took 40 s.
    with httpx.Client(timeout=600) as http:
        yield http


def spoken(text: str, language: str, settings) -> bytes:
    return speech.speak(text, language=language, settings=settings).read_bytes()


def test_chinese_speech_gets_a_chinese_reply_with_its_audio(serve, demo_agent, settings, client):
    from app import create_server_app

    base = serve(create_server_app(settings, agent=demo_agent))
    recording = spoken("来点安静的钢琴曲", "zh", settings)
    answer = client.post(base + "/api/v1/voice", content=recording, headers={"content-type": "audio/wav"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["transcript"]["language"] == "zh" and re.search(r"[\u4e00-\u9fff]", body["transcript"]["text"])
    reply = body["reply"]
    assert reply["request"] == body["transcript"]["text"], "the transcript is the turn's request"
    assert reply["recommendations"] and re.search(r"[\u4e00-\u9fff]", reply["message"]), reply["message"]
    said = body["speech"]
    assert said["language"] == "zh" and said["text"].startswith(reply["message"].splitlines()[0][:10])
    assert "《" in said["text"], "the top tracks are named in the spoken reply"
    wav = base64.b64decode(said["audio_base64"])
    assert soundfile.info(io.BytesIO(wav)).duration > 2.0
    fetched = client.get(base + said["url"])
    assert fetched.status_code == 200 and fetched.content == wav and fetched.headers["content-type"] == "audio/wav"


def test_a_multipart_upload_works_and_speech_can_be_left_out(serve, demo_agent, settings, client):
    from app import create_server_app

    base = serve(create_server_app(settings, agent=demo_agent))
    recording = spoken("calm music for reading", "en", settings)
    answer = client.post(base + "/api/v1/voice?speak=false&k=3", files={"audio": ("ask.wav", recording, "audio/wav")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["speech"] is None and len(answer.json()["reply"]["recommendations"]) == 3
    assert "calm" in answer.json()["transcript"]["text"].lower()


def test_bad_empty_silent_long_and_huge_audio_get_clear_4xx(serve, demo_agent, settings, client):
    from app import create_server_app

    small = replace(settings, max_upload_mb=1, voice_max_seconds=5)
    demo_agent.settings = small  # the gate reads the body limit, the agent the length limit
    base = serve(create_server_app(small, agent=demo_agent))
    url = base + "/api/v1/voice"

    def wav(seconds: float, amplitude: float) -> bytes:
        out = io.BytesIO()
        samples = np.random.default_rng(0).standard_normal(int(16000 * seconds)) * amplitude
        soundfile.write(out, samples.astype(np.float32), 16000, format="WAV", subtype="PCM_16")
        return out.getvalue()

    cases = {
        "not audio": (b"this is not a recording" * 50, 400, "decoded"),
        "empty": (b"", 400, "no audio"),
        "silence": (wav(2, 1e-4), 422, "no speech"),
        "too long": (wav(8, 0.1), 413, "transcribed up to 5 s"),
        "too big": (wav(40, 0.1), 413, "limited to 1 MB"),
    }
    for name, (body, status, words) in cases.items():
        answer = client.post(url, content=body, headers={"content-type": "audio/wav"})
        assert answer.status_code == status, (name, answer.text)
        assert words in answer.json()["message"], (name, answer.json())
    wrong_form = client.post(url, files={"recording": ("a.wav", b"x", "audio/wav")})
    assert wrong_form.status_code == 400 and "'audio'" in wrong_form.json()["message"]
    assert client.post(url + "?language=fr", content=wav(1, 0.1)).status_code == 422
    assert client.get(base + "/api/v1/speech/0123.wav").status_code == 404


def test_voice_needs_the_same_credentials_as_every_route(serve, demo_agent, settings, tokens, client):
    from app import create_server_app

    base = serve(create_server_app(replace(settings, api_token=tokens.owner, host="0.0.0.0"), agent=demo_agent))
    quiet = io.BytesIO()
    soundfile.write(quiet, np.zeros(16000, dtype=np.float32), 16000, format="WAV")
    assert client.post(base + "/api/v1/voice", content=quiet.getvalue()).status_code == 401
    # With the token the request reaches the recording (and finds no speech in it).
    signed = client.post(base + "/api/v1/voice", content=quiet.getvalue(), headers=tokens.header(tokens.owner))
    assert signed.status_code == 422 and signed.json()["error"] == "NoSpeechError"
    assert client.get(base + "/api/v1/speech/" + "0" * 32 + ".wav").status_code == 401


@pytest.mark.browser
def test_a_spoken_request_uploaded_in_the_browser_gets_cards_and_a_spoken_answer(
    serve, demo_agent, settings, browser, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from app import create_server_app

    base = serve(create_server_app(settings, agent=demo_agent))
    request = tmp_path / "request.wav"
    request.write_bytes(spoken("calm music for reading", "en", settings))
    browser.get(base + "/")
    wait = WebDriverWait(browser, 90)
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#mt-voice-mode input"))).click()
    browser.find_element(By.CSS_SELECTOR, "#mt-voice input[type=file]").send_keys(str(request))

    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")) >= 3)
    heard = browser.find_element(By.ID, "mt-heard").text
    assert "Heard (en" in heard and "calm" in heard.lower(), heard
    assert "calm" in browser.find_element(By.CSS_SELECTOR, "#mt-chat").text.lower(), "the transcript is the user's turn"
    # Voice mode: the spoken answer is in the page, ready to play (Gradio offers its WAV for download too).
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#mt-voice-out a[download$='.wav']"))
    wait.until(lambda d: "✓" in d.find_element(By.ID, "mt-status").text)
