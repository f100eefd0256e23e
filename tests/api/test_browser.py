"""The Gradio UI in headless Chromium: ask, see cards with score parts and audio, give a thumb."""

from __future__ import annotations

from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output"


@pytest.mark.parametrize(
    ("request_text", "explanation_word", "card_words", "noted"),
    [
        ("calm music for reading", "bpm", ("score", "mood match", "calm"), "Noted: up"),
        ("适合读书的安静音乐", "情绪", ("得分", "情绪匹配", "平静"), "已记录"),
    ],
    ids=["en", "zh"],
)
def test_chat_cards_and_feedback_in_a_real_browser(
    serve, demo_agent, settings, browser, request_text, explanation_word, card_words, noted
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from app import create_server_app

    base = serve(create_server_app(settings, agent=demo_agent))
    browser.get(base + "/")
    wait = WebDriverWait(browser, 180)
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

    assert "already shown" not in cards[0].text and "已推荐过" not in cards[0].text, (
        "a part zero on every card is left out"
    )
    browser.find_element(By.CSS_SELECTOR, "#mt-up").click()
    wait.until(lambda d: noted in d.find_element(By.ID, "mt-status").text)
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
    wait.until(
        lambda d: (
            seed
            not in [c.get_attribute("data-track-id") for c in d.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")]
        )
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")) >= 3
    assert demo_agent.profile("default")["counts"].get("more_like_this", 0) == 1


def test_a_browser_signs_in_and_sees_only_its_own_conversation(serve, demo_agent, secured, tokens, browser):
    """With tokens set: the login page, then the UI as the token's user; another user's browser starts empty."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from app import create_server_app

    base = serve(create_server_app(secured, agent=demo_agent))
    wait = WebDriverWait(browser, 180)

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


# Six calm classical tracks, four energetic rock ones, four mostly sad blues ones (a third calm):
# "calm but not sad" shows the calm and energetic ones; without "not sad" the sad ones outrank the energetic.
READING_CATALOG = [("c", "calm", "classical", 6), ("e", "energetic", "rock", 4), ("s", "sad", "blues", 4)]
# What the page says in each language: the request, the "not sad" chip, the reply's first words,
# and labels of the page's own that must be in that language.
READINGS = {
    "en": (
        "calm but not sad for driving, no jazz",
        "not sad",
        "Calm, not sad, for driving, no jazz: 10 tracks",
        "Calm, for driving, no jazz: 10 tracks",
        ("Chat", "Profile", "Send", "Find music like this clip", "Like", "Ask out loud", "Voice mode"),
    ),
    "zh": (
        "适合开车听的安静但不悲伤的歌，不要爵士",
        "不要悲伤",
        "平静、不要悲伤、适合开车、不要爵士：10 首",
        "平静、适合开车、不要爵士：10 首",
        ("聊天", "我的偏好", "发送", "找和这段音频相似的音乐", "喜欢", "说出来", "语音模式"),
    ),
}


@pytest.fixture
def reading_agent(settings, track_factory, fake_llm):
    from agent.session import Moodtune
    from catalog.store import CatalogStore
    from moodtune.types import EmotionVector

    store = CatalogStore.open(settings)
    tracks = []
    for prefix, mood, genre, count in READING_CATALOG:
        for i in range(count):
            track = track_factory(
                f"{prefix}{i}",
                mood=mood,
                genre=genre,
                artist=f"{prefix} artist {i}",
                title=f"{mood} {genre} {i}",
                tempo=70.0 + 10 * i,
            )
            if mood == "sad":
                track = track.with_(emotion=EmotionVector.from_mapping({"sad": 0.7, "calm": 0.3}))
            tracks.append(track)
    store.upsert(tracks)
    answer = {
        "m": ["calm"],
        "x": ["sad"],
        "g": [],
        "a": [],
        "xa": [],
        "xg": ["jazz"],
        "c": "",
        "f": False,
        "s": "match",
        "e": "calm but not sad for driving, no jazz",
        "music": True,
    }
    return Moodtune(settings, llm=fake_llm(answer, "1. Calm and soft.\n2. Gentle.\n"), store=store)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_reply_says_what_it_understood_and_its_chips_search_again(
    serve, reading_agent, settings, browser, language
):
    """The reading as chips: untick "not sad" and the list changes (sad tracks come in), with no new LLM call."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    from app import create_server_app

    request_text, not_sad, said, said_after, labels = READINGS[language]
    base = serve(create_server_app(settings, agent=reading_agent))
    browser.get(base + "/")
    wait = WebDriverWait(browser, 180)
    box = wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "#mt-message textarea")))
    box.send_keys(request_text)
    browser.find_element(By.CSS_SELECTOR, "#mt-send").click()
    wait.until(lambda d: "✓" in d.find_element(By.ID, "mt-status").text)

    def shown() -> list[str]:
        return [
            card.get_attribute("data-track-id") for card in browser.find_elements(By.CSS_SELECTOR, "#mt-cards .mt-card")
        ]

    before = shown()
    assert len(before) == 10 and not [t for t in before if t.startswith("s")], "'not sad' keeps the sad tracks out"
    assert said in browser.find_element(By.CSS_SELECTOR, "#mt-chat").text, "the reply names its reading"
    # The page's own labels follow the language the user wrote in.
    page = browser.find_element(By.TAG_NAME, "body").text
    assert all(label in page for label in labels), [label for label in labels if label not in page]
    chips = browser.find_elements(By.CSS_SELECTOR, "#mt-chips label")
    assert not_sad in [chip.text.strip() for chip in chips]
    # The reply as a playlist, from the page's link.
    link = browser.find_element(By.CSS_SELECTOR, "#mt-m3u8").get_attribute("href")
    assert browser.execute_script("return fetch(arguments[0]).then(r => r.text())", link).startswith("#EXTM3U")
    SCREENSHOTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"reply-reading-{language}.png"))

    calls = len(reading_agent.llm.calls)
    next(chip for chip in chips if chip.text.strip() == not_sad).click()
    wait.until(lambda d: said_after in d.find_element(By.CSS_SELECTOR, "#mt-chat").text)
    wait.until(lambda d: shown() != before)
    after = shown()
    assert {"s0", "s1", "s2", "s3"} <= set(after) and after[:6] == before[:6], (
        "the sad tracks come in below the calm ones"
    )
    assert not_sad not in [chip.text.strip() for chip in browser.find_elements(By.CSS_SELECTOR, "#mt-chips label")]
    assert len(reading_agent.llm.calls) == calls, "the edited reading is searched without a new LLM call"
    browser.save_screenshot(str(SCREENSHOTS / f"reply-reading-{language}-edited.png"))
    review_tab_follows_the_language(browser, wait, reading_agent, language, request_text)


# The Review tab's words in each language: its labels, and what a logged reply shows.
REVIEW_WORDS = {
    "en": (
        "Review",
        (
            "Session",
            "Reply",
            "Track (optional)",
            "Explanation",
            "faithful",
            "Recommendation",
            "does not fit",
            "Note",
            "Record verdict",
        ),
        ("Request: ", "Understood: ", "top mood calm", "exclusions jazz", "Template: ", "total"),
        "Verdict recorded.",
    ),
    "zh": (
        "审阅",
        ("会话", "回复", "曲目（可选）", "解释", "忠实于事实", "推荐", "不合适", "备注", "记录评审"),
        ("请求：", "理解：", "主要情绪 平静", "排除 爵士", "模板：", "总分"),
        "评审已记录。",
    ),
}


def review_tab_follows_the_language(browser, wait, agent, language: str, request_text: str) -> None:
    """A reviewer (local use) opens the logged reply in the Review tab: labels and contents in the page's language,
    and a verdict given in Chinese is stored as the same verdict as in English."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    tab_name, labels, contents, recorded = REVIEW_WORDS[language]
    next(
        tab for tab in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]") if tab.text.strip() == tab_name
    ).click()
    wait.until(lambda d: d.find_element(By.ID, "mt-review-session").is_displayed())
    tab = browser.find_element(By.ID, "mt-tab-review").text
    assert all(label in tab for label in labels), [label for label in labels if label not in tab]
    english = {"Session", "Reply", "Note", "Record verdict", "Explanation"}
    assert language == "en" or not [word for word in english if word in tab], "no English label left in Chinese"

    def option(text: str):
        """The dropdown option holding `text`, or None while the list is still being drawn (its elements go stale)."""

        def find(driver):
            try:
                return next((o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]") if text in o.text), None)
            except StaleElementReferenceException:
                return None

        return find

    def pick(box_id: str, text: str) -> None:
        browser.find_element(By.CSS_SELECTOR, f"#{box_id} input").click()
        wait.until(option(text)).click()

    session_id = agent.review.sessions()[0]["session_id"]
    pick("mt-review-session", session_id)
    pick("mt-review-reply", request_text[:20])
    wait.until(lambda d: "calm classical 0" in d.find_element(By.ID, "mt-review").text)
    shown = browser.find_element(By.ID, "mt-review").text
    assert all(word in shown for word in contents), [word for word in contents if word not in shown]
    next(
        label
        for label in browser.find_elements(By.CSS_SELECTOR, "#mt-review-faithful label")
        if label.text.strip() == labels[4]
    ).click()
    browser.find_element(By.ID, "mt-review-record").click()
    wait.until(lambda d: recorded in d.find_element(By.ID, "mt-review-status").text)
    verdict = agent.review.verdicts()[-1]
    assert verdict["explanation_faithful"] == 1 and verdict["fits"] is None, verdict
    browser.save_screenshot(str(SCREENSHOTS / f"review-{language}.png"))
