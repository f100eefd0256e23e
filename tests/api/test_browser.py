"""The Gradio UI in headless Chromium: ask, see cards with score parts and audio, give a thumb."""

from __future__ import annotations

from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output"


@pytest.mark.parametrize(("request_text", "explanation_word", "card_words"), [
    ("calm music for reading", "bpm", ("score", "mood match", "calm")),
    ("适合读书的安静音乐", "情绪", ("得分", "情绪匹配", "平静")),
], ids=["en", "zh"])
def test_chat_cards_and_feedback_in_a_real_browser(
    serve, demo_agent, settings, browser, request_text, explanation_word, card_words
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from app import create_server_app

    base = serve(create_server_app(settings, agent=demo_agent))
    browser.get(base + "/")
    wait = WebDriverWait(browser, 60)
    box = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#mt-message textarea")))
    box.send_keys(request_text)
    browser.find_element(By.CSS_SELECTOR, "#mt-send").click()

    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")) >= 3)
    cards = browser.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")
    shown_ids = [card.get_attribute("data-track-id") for card in cards]
    assert set(shown_ids) <= {track.id for track in demo_agent.store.iter_tracks()}
    assert all(word in cards[0].text for word in card_words), "the card speaks the request's language"
    assert any(explanation_word in card.text for card in cards)
    assert cards[0].find_elements(By.TAG_NAME, "audio"), "every card offers its audio"
    wait.until(lambda d: "✓" in d.find_element(By.ID, "mt-status").text)

    browser.find_element(By.CSS_SELECTOR, "#mt-up").click()
    wait.until(lambda d: "Noted: up" in d.find_element(By.ID, "mt-status").text)
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"ui-{'zh' if explanation_word == '情绪' else 'en'}.png"))
    # A browser without a stored identity is the local "default" user.
    assert demo_agent.profile("default")["counts"].get("up", 0) == 1

    # The conversation survives a reload: the browser keeps its session id.
    browser.refresh()
    wait.until(lambda d: request_text in d.find_element(By.CSS_SELECTOR, "#mt-chat").text)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")) >= 3)

    # "More like this" is a new turn: tracks that sound like the chosen one, the seed not among them.
    seed = browser.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")[0].get_attribute("data-track-id")
    browser.find_element(By.CSS_SELECTOR, "#mt-more").click()
    seed_title = demo_agent.track(seed).title
    wait.until(lambda d: seed_title in d.find_element(By.CSS_SELECTOR, "#mt-chat").text.split(request_text)[-1])
    wait.until(lambda d: seed not in [c.get_attribute("data-track-id") for c in d.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")])
    assert len(browser.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")) >= 3
    assert demo_agent.profile("default")["counts"].get("more_like_this", 0) == 1


def test_a_browser_signs_in_and_sees_only_its_own_conversation(serve, demo_agent, secured, tokens, browser):
    """With tokens set: the login page, then the UI as the token's user; another user's browser starts empty."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from app import create_server_app

    base = serve(create_server_app(secured, agent=demo_agent))
    wait = WebDriverWait(browser, 60)

    def sign_in(token: str) -> None:
        browser.get(base + "/")
        wait.until(lambda d: "/login" in d.current_url)
        browser.find_element(By.ID, "mt-token").send_keys(token)
        browser.find_element(By.ID, "mt-sign-in").click()
        wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#mt-message textarea")))

    sign_in(tokens.ana)
    wait.until(lambda d: "Signed in as ana" in d.find_element(By.ID, "mt-whoami").text)
    assert not [tab for tab in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]") if tab.text == "Review"]
    browser.find_element(By.CSS_SELECTOR, "#mt-message textarea").send_keys("calm music for ana")
    browser.find_element(By.CSS_SELECTOR, "#mt-send").click()
    wait.until(lambda d: "✓" in d.find_element(By.ID, "mt-status").text)
    # The cards' audio is served to the signed-in browser (its cookie goes with the request).
    audio_ok = browser.execute_script(
        "return fetch(arguments[0]).then(r => r.status)", base + "/api/v1/tracks/t0/audio"
    )
    assert audio_ok == 200
    browser.find_element(By.CSS_SELECTOR, "#mt-up").click()
    wait.until(lambda d: "Noted: up" in d.find_element(By.ID, "mt-status").text)
    assert demo_agent.profile("ana")["counts"]["up"] == 1 and demo_agent.profile("default")["counts"]["up"] == 0
    assert "HttpOnly" not in browser.execute_script("return document.cookie"), "the cookie is out of scripts' reach"
    assert browser.execute_script("return document.cookie") == "" or "moodtune_auth" not in browser.execute_script(
        "return document.cookie"
    )

    # Same browser (same stored conversation id), signed in as Ben: Ana's conversation is not shown.
    browser.get(base + "/logout")
    sign_in(tokens.ben)
    wait.until(lambda d: "Signed in as ben" in d.find_element(By.ID, "mt-whoami").text)
    assert "calm music for ana" not in browser.find_element(By.CSS_SELECTOR, "#mt-chat").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")

    # The reviewer sees the Review tab.
    browser.get(base + "/logout")
    sign_in(tokens.reviewer)
    wait.until(lambda d: [tab for tab in d.find_elements(By.CSS_SELECTOR, "button[role=tab]") if tab.text == "Review"])
