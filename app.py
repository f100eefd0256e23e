"""Gradio UI: chat with streamed replies and recommendation cards, clip upload, profile, review.

Run with `moodtune serve` (UI at /, API at /api/v1 and /v1, MCP at /mcp on the same port), or
`python app.py`. Analytics are off; it binds to 127.0.0.1 unless told otherwise.

Every handler takes the user from the identity the gate gave the request (`api.security`):
the browser keeps only its conversation id, and a conversation that belongs to someone else
is never shown or continued. The Review tab and its handlers need a reviewer's identity.
"""

from __future__ import annotations

import html
import os
import uuid

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr

from agent import understood
from agent.explain import GENRE_ZH, MOOD_ZH, PART_NAMES
from agent.rank import parts_worth_showing
from agent.session import Moodtune
from api.security import Credentials, Identity, identity_of
from moodtune.config import Settings
from moodtune.errors import MoodtuneError
from moodtune.types import Reply
from prompts import load_prompt

CSS = """
.mt-card {border:1px solid #ddd; border-radius:10px; padding:10px 12px; margin:8px 0; background:#fafafa}
.mt-card h4 {margin:0 0 4px 0}
.mt-badge {display:inline-block; font-size:11px; padding:1px 6px; border-radius:8px; background:#ffe9b3; margin-left:6px}
.mt-bars {display:grid; grid-template-columns: 80px 1fr 1fr; gap:2px 8px; font-size:11px; margin-top:6px}
.mt-bar {height:9px; border-radius:3px}
.mt-parts {font-size:12px; color:#444; margin-top:4px}
#mt-chips label {border-radius:14px}
.mt-playlist {font-size:13px; margin:4px 0}
.mt-playlist a {display:inline-block; padding:2px 10px; border:1px solid #4a7bd0; border-radius:8px; text-decoration:none}
"""


# The cards follow the reply's language; the page's own labels follow the language switch, which
# follows the language the user writes in (prompts/ui.yaml holds both).
CARD_WORDS = {
    "en": {
        "synthetic": "synthetic demo rendering",
        "generated": "synthetic: AI-generated demo track",
        "score": "score",
        "track": "track",
        "request": "request",
    },
    "zh": {
        "synthetic": "合成的演示音频",
        "generated": "合成：AI 生成的演示曲目",
        "score": "得分",
        "track": "曲目",
        "request": "请求",
    },
}
# Demo sources and the badge each gets; the badge's tooltip is the track's licence.
SOURCE_BADGES = {"demo-synthetic": "synthetic", "demo-generated": "generated"}
LANGUAGES = [("English", "en"), ("中文", "zh")]


def ui_words(language: str) -> dict:
    return load_prompt("ui")["ui"]["zh" if language == "zh" else "en"]


def browser_language(request: gr.Request | None) -> str:
    """The page's first language: Chinese when the browser asks for it first, else English."""
    try:
        accept = (request.headers.get("accept-language") or "") if request is not None else ""
    except AttributeError:
        accept = ""
    return "zh" if accept.strip().lower().startswith("zh") else "en"


def _label(name: str, language: str) -> str:
    if language == "zh":
        return MOOD_ZH.get(name) or GENRE_ZH.get(name) or PART_NAMES["zh"].get(name, name)
    return PART_NAMES["en"].get(name, name.replace("_", " "))


def _bar(value: float, colour: str) -> str:
    return f'<div class="mt-bar" style="width:{max(1.0, 100 * value):.0f}%;background:{colour}" title="{100 * value:.0f}%"></div>'


def vector_bars(
    track_dist: dict[str, float], target: dict[str, float] | None, *, top: int = 4, language: str = "en"
) -> str:
    """A small chart: the track's top values (blue) next to the request's target (grey)."""
    names = sorted(track_dist, key=lambda n: -track_dist[n])[:top]
    rows = [
        f"<span>{_label(n, language)}</span>{_bar(track_dist[n], '#4a7bd0')}{_bar((target or {}).get(n, 0.0), '#b9b9b9')}"
        for n in names
    ]
    words = CARD_WORDS[language]
    return f'<div class="mt-bars"><b></b><b>{words["track"]}</b><b>{words["request"]}</b>' + "".join(rows) + "</div>"


def cards_html(reply: Reply | None, wording: dict[int, str] | None = None, *, language: str = "en") -> str:
    """The reply's cards. A score part that is 0.00 on every card is left out (it says nothing about the list)."""
    if reply is None:
        return f"<p>{html.escape(ui_words(language)['no_reply'])}</p>"
    if not reply.recommendations:
        return f"<p>{html.escape(reply.message)}</p>"
    wording = wording or {}
    target_moods = reply.intent.emotion.as_dict()
    target_styles = reply.intent.style.as_dict() if reply.intent.style else None
    language = reply.intent.language if reply.intent.language in CARD_WORDS else "en"
    words = CARD_WORDS[language]
    shown_parts = parts_worth_showing([rec.scored for rec in reply.recommendations])
    out = []
    for i, rec in enumerate(reply.recommendations):
        track = rec.track
        kind = SOURCE_BADGES.get(track.source, "synthetic" if track.source.startswith("demo") else "")
        badge = f'<span class="mt-badge" title="{html.escape(track.licence)}">{words[kind]}</span>' if kind else ""
        text = wording.get(i) or rec.explanation.llm or rec.explanation.template
        key = f" · {html.escape(track.key)} {html.escape(track.mode)}" if track.key else ""
        parts = " · ".join(
            f"{_label(name, language)} {value:.2f}" for name, value in rec.scored.parts.items() if name in shown_parts
        )
        out.append(
            f'<div class="mt-card" data-track-id="{html.escape(track.id)}"><h4>{rec.rank}. {html.escape(track.title)}{badge}</h4>'
            f"<div>{html.escape(track.artist)} · {track.tempo:.0f} bpm{key}</div>"
            f'<div class="mt-expl">{html.escape(text)}</div><div class="mt-parts">{words["score"]} {rec.scored.total:.2f}: {parts}</div>'
            f'<audio controls preload="none" src="/api/v1/tracks/{html.escape(track.id)}/audio"></audio>'
            f"{vector_bars(track.emotion.as_dict(), target_moods, language=language)}"
            f"{vector_bars(track.style.as_dict(), target_styles, language=language)}</div>"
        )
    return "".join(out)


def chips_update(reply: Reply | None):
    """The reply's reading as ticked chips (agent/understood.py), in the reply's language."""
    found = understood.chips(reply.intent) if reply is not None and reply.recommendations else []
    return gr.update(choices=[(c.label, c.id) for c in found], value=[c.id for c in found], visible=bool(found))


def playlist_html(reply: Reply | None, language: str) -> str:
    """Download links for the logged reply as m3u8 and XSPF (the HTTP API's playlist routes)."""
    if reply is None or not reply.recommendations:
        return ""
    base = f"/api/v1/replies/{html.escape(reply.reply_id)}/playlist"
    label = html.escape(ui_words(language)["playlist"])
    return (
        f'<div class="mt-playlist">{label}: <a id="mt-m3u8" href="{base}.m3u8" download="moodtune-{html.escape(reply.reply_id)}.m3u8">m3u8</a>'
        f' · <a id="mt-xspf" href="{base}.xspf" download="moodtune-{html.escape(reply.reply_id)}.xspf">XSPF</a></div>'
    )


def profile_html(profile: dict, language: str = "en") -> str:
    words = ui_words(language)
    kinds = words["kinds"]
    counts = ", ".join(f"{kinds.get(k, k)} {v}" for k, v in profile["counts"].items())
    return (
        f"<p>{words['feedback_so_far']}: {counts}</p><h4>{words['moods_you_like']}</h4>"
        f"{vector_bars(profile['moods'], None, top=8, language=language)}"
        f"<h4>{words['styles_you_like']}</h4>{vector_bars(profile['styles'], None, top=10, language=language)}"
    )


def review_html(reply: Reply, language: str = "en") -> str:
    """A logged reply for a reviewer, in the page's language: every score part, the template, the LLM's line."""
    words = ui_words(language)
    colon = "：" if language == "zh" else ": "
    rows = []
    for rec in reply.recommendations:
        parts = "".join(
            f"<span>{html.escape(_label(n, language))}</span>"
            f"{_bar(min(1.0, abs(v)), '#d0874a' if n == 'repetition' else '#4a7bd0')}<span>{v:.3f}</span>"
            for n, v in rec.scored.parts.items()
        )
        facts = rec.explanation.facts
        rejected = ""
        if facts.get("llm_rejected_text"):
            reasons = "; ".join(facts.get("llm_rejected_reasons", []))
            rejected = (
                f'<div class="mt-expl"><b>{words["review_rejected"]}{colon}</b>{html.escape(facts["llm_rejected_text"])}'
                f"<br><b>{words['review_why']}{colon}</b>{html.escape(reasons)}</div>"
            )
        rows.append(
            f'<div class="mt-card"><h4>{rec.rank}. {html.escape(rec.track.title)} — {words["review_total"]} {rec.scored.total:.3f}</h4>'
            f'<div class="mt-bars">{parts}</div>'
            f'<div class="mt-expl"><b>{words["review_template"]}{colon}</b>{html.escape(rec.explanation.template)}</div>'
            f'<div class="mt-expl"><b>{words["review_llm"]}{colon}</b>{html.escape(rec.explanation.llm or words["review_not_used"])}</div>'
            f"{rejected}{vector_bars(rec.track.emotion.as_dict(), reply.intent.emotion.as_dict(), language=language)}</div>"
        )
    intent = reply.intent
    exclusions = [_label(g, language) for g in intent.exclude_genres] + list(intent.exclude_artists)
    reading = words["review_reading"].format(
        mood=_label(intent.emotion.top, language),
        valence=intent.valence,
        arousal=intent.arousal,
        strategy=words["review_strategies"].get(intent.strategy, intent.strategy),
        exclusions=load_prompt("ui")["reading"]["zh" if language == "zh" else "en"]["joiner"].join(exclusions)
        or words["review_none"],
    )
    head = (
        f"<p><b>{words['review_request']}{colon}</b>{html.escape(reply.request)}<br>"
        f"<b>{words['review_understood']}{colon}</b>{html.escape(reading)}<br>"
        f"<b>{words['review_versions']}{colon}</b>{html.escape(str(dict(reply.versions)))} · "
        f"{words['review_candidates'].format(count=len(reply.candidates))}</p>"
    )
    return head + "".join(rows)


def verdict_choices(language: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The two verdict radios' choices, shown in the page's language; their values stay the same."""
    words = ui_words(language)
    return (
        [(words["review_faithful"], "faithful"), (words["review_unfaithful"], "unfaithful")],
        [(words["review_fits"], "fits"), (words["review_not_fit"], "does not fit")],
    )


def who(request: gr.Request | None) -> Identity:
    """The identity of a UI request; a Gradio error for one that did not pass the gate."""
    try:
        return identity_of(request)
    except MoodtuneError as exc:
        raise gr.Error(str(exc)) from exc


def build_ui(agent: Moodtune, *, signed_in: bool = False) -> gr.Blocks:
    """The chat UI. `signed_in`: credentials are configured, so the page shows who you are and a sign-out link."""
    en = ui_words("en")
    with gr.Blocks(title="Moodtune", analytics_enabled=False) as ui:
        # The browser keeps only its conversation id; the user is the request's identity.
        state = gr.BrowserState({"session_id": ""}, storage_key="moodtune")
        last_reply = gr.State(None)
        with gr.Row():
            title = gr.Markdown(en["title"], elem_id="mt-title")
            language = gr.Radio(LANGUAGES, value="en", label=en["language"], elem_id="mt-lang", scale=0)
        whoami = gr.Markdown(elem_id="mt-whoami")
        with gr.Tab(en["tab_chat"], elem_id="mt-tab-chat") as chat_tab:
            chatbot = gr.Chatbot(label=en["conversation"], height=300, elem_id="mt-chat")
            with gr.Row():
                message = gr.Textbox(placeholder=en["placeholder"], label=en["request"], scale=4, elem_id="mt-message")
                send = gr.Button(en["send"], variant="primary", scale=1, elem_id="mt-send")
            with gr.Accordion(en["clip"], open=False, elem_id="mt-clip-box") as clip_box:
                clip = gr.Audio(type="filepath", label=en["clip"], sources=["upload"], elem_id="mt-clip")
            voice_in, voice_mode, voice_out, heard = voice_components()
            with gr.Row():
                # The reading of the request: untick a chip, or add one, and the list is searched again
                # with the edited intent (no new LLM call: Moodtune.stream_edited).
                chips = gr.CheckboxGroup(label=en["understood"], choices=[], visible=False, elem_id="mt-chips", scale=4)
                add = gr.Dropdown(
                    label=en["add"],
                    choices=understood.add_choices("en"),
                    value=None,
                    elem_id="mt-add",
                    scale=1,
                    info=en["add_placeholder"],
                )
            playlist = gr.HTML(elem_id="mt-playlist")
            cards = gr.HTML(cards_html(None), elem_id="mt-cards")
            with gr.Row():
                chosen = gr.Dropdown(label=en["track"], choices=[], interactive=True, scale=3, elem_id="mt-track")
                up = gr.Button(en["like"], elem_id="mt-up", scale=0)
                down = gr.Button(en["dislike"], elem_id="mt-down", scale=0)
                skip = gr.Button(en["skip"], elem_id="mt-skip", scale=0)
                more = gr.Button(en["more"], elem_id="mt-more", scale=0)
            status = gr.Markdown(elem_id="mt-status")
        with gr.Tab(en["tab_profile"], elem_id="mt-tab-profile") as profile_tab:
            profile_view = gr.HTML(elem_id="mt-profile")
            with gr.Row():
                refresh = gr.Button(en["refresh"], elem_id="mt-refresh")
                reset = gr.Button(en["reset"], variant="stop", elem_id="mt-reset")
            with gr.Row():
                confirm_delete = gr.Checkbox(label=en["confirm_delete"], value=False, elem_id="mt-confirm-delete")
                delete = gr.Button(en["delete"], variant="stop", elem_id="mt-delete")
            delete_status = gr.Markdown()
        with gr.Tab(en["tab_review"], visible=False, elem_id="mt-tab-review") as review_tab:
            sessions = gr.Dropdown(label=en["review_session"], choices=[], elem_id="mt-review-session")
            replies = gr.Dropdown(label=en["review_reply"], choices=[], elem_id="mt-review-reply")
            review_view = gr.HTML(elem_id="mt-review")
            with gr.Row():
                verdict_track = gr.Dropdown(label=en["review_track"], choices=[], elem_id="mt-review-track")
                explanation_choices, fit_choices = verdict_choices("en")
                faithful = gr.Radio(explanation_choices, label=en["review_explanation"], elem_id="mt-review-faithful")
                fits = gr.Radio(fit_choices, label=en["review_recommendation"], elem_id="mt-review-fits")
            note = gr.Textbox(label=en["review_note"], elem_id="mt-review-note")
            save_verdict = gr.Button(en["review_record"], elem_id="mt-review-record")
            verdict_status = gr.Markdown(elem_id="mt-review-status")

        # Everything whose words follow the page's language, in the order `relabel` updates them.
        labelled = [
            title,
            language,
            chat_tab,
            chatbot,
            message,
            send,
            clip_box,
            clip,
            chips,
            add,
            chosen,
            up,
            down,
            skip,
            more,
            profile_tab,
            refresh,
            reset,
            confirm_delete,
            delete,
            review_tab,
            voice_in,
            voice_mode,
            voice_out,
            sessions,
            replies,
            verdict_track,
            faithful,
            fits,
            note,
            save_verdict,
        ]

        def relabel(lang: str, reply: Reply | None, request: gr.Request):
            words = ui_words(lang)
            profile = profile_html(agent.profile(who(request).browser_user), lang)
            return [
                gr.update(value=words["title"]),
                gr.update(label=words["language"]),
                gr.update(label=words["tab_chat"]),
                gr.update(label=words["conversation"]),
                gr.update(label=words["request"], placeholder=words["placeholder"]),
                gr.update(value=words["send"]),
                gr.update(label=words["clip"]),
                gr.update(label=words["clip"]),
                gr.update(label=words["understood"]),
                gr.update(
                    label=words["add"], info=words["add_placeholder"], choices=understood.add_choices(lang), value=None
                ),
                gr.update(label=words["track"]),
                gr.update(value=words["like"]),
                gr.update(value=words["dislike"]),
                gr.update(value=words["skip"]),
                gr.update(value=words["more"]),
                gr.update(label=words["tab_profile"]),
                gr.update(value=words["refresh"]),
                gr.update(value=words["reset"]),
                gr.update(label=words["confirm_delete"]),
                gr.update(value=words["delete"]),
                gr.update(label=words["tab_review"]),
                gr.update(label=words["voice_in"]),
                gr.update(label=words["voice_mode"]),
                gr.update(label=words["voice_out"]),
                gr.update(label=words["review_session"]),
                gr.update(label=words["review_reply"]),
                gr.update(label=words["review_track"]),
                gr.update(label=words["review_explanation"], choices=verdict_choices(lang)[0]),
                gr.update(label=words["review_recommendation"], choices=verdict_choices(lang)[1]),
                gr.update(label=words["review_note"]),
                gr.update(value=words["review_record"]),
                profile,
                playlist_html(reply, lang),
                cards_html(reply, language=lang) if reply is None else gr.update(),
            ]

        language.change(relabel, [language, last_reply], [*labelled, profile_view, playlist, cards])

        def own_session(browser: dict | None, user_id: str) -> dict:
            """The browser's conversation if it is this user's; a new one otherwise."""
            session_id = str((browser or {}).get("session_id") or "")[:64]
            if not session_id or agent.session_owner(session_id) not in (None, user_id):
                session_id = uuid.uuid4().hex[:12]
            return {"session_id": session_id}

        def history_messages(session_id: str) -> list[dict]:
            messages = []
            for reply in agent.history(session_id):
                messages.append({"role": "user", "content": reply.request})
                messages.append({"role": "assistant", "content": reply.message})
            return messages

        def on_load(browser: dict, request: gr.Request):
            identity = who(request)
            browser = own_session(browser, identity.browser_user)
            history = agent.history(browser["session_id"])
            reply = history[-1] if history else None
            lang = reply.intent.language if reply is not None else browser_language(request)
            signed = ui_words(lang)["signed_in"].format(user=identity.browser_user) if signed_in else ""
            return (
                browser,
                history_messages(browser["session_id"]),
                reply,
                cards_html(reply, language=lang),
                track_choices(reply),
                gr.update(visible=identity.reviewer),
                signed,
                profile_html(agent.profile(identity.browser_user), lang),
                chips_update(reply),
                playlist_html(reply, lang),
                lang,
                ui_words(lang)["loading"] if agent.warming_up else "",
            )

        def track_choices(reply: Reply | None):
            choices = [(f"{r.rank}. {r.track.title}", r.track.id) for r in (reply.recommendations if reply else [])]
            return gr.update(choices=choices, value=choices[0][1] if choices else None)

        def play_events(events, browser: dict, chat: list, *, echo_request: bool = False):
            """The UI's updates for a streamed reply: list and reading first, wording as it streams, links when logged.

            `echo_request`: the turn was not typed ("More like this"), so its request joins the chat too.
            """
            wording: dict[int, str] = {}
            reply = None
            for event in events:
                if event.kind == "reply":
                    reply = event.reply
                    if echo_request:
                        chat = [*chat, {"role": "user", "content": reply.request}]
                    chat = [*chat, {"role": "assistant", "content": reply.message}]
                    lang = reply.intent.language
                    yield (
                        browser,
                        chat,
                        reply,
                        cards_html(reply),
                        track_choices(reply),
                        "",
                        "",
                        chips_update(reply),
                        "",
                        lang,
                    )
                elif event.kind == "explanation_delta":
                    wording[event.index] = wording.get(event.index, "") + event.text
                    yield (
                        browser,
                        chat,
                        reply,
                        cards_html(reply, wording),
                        gr.update(),
                        gr.update(),
                        gr.update(),
                        gr.update(),
                        gr.update(),
                        gr.update(),
                    )
                elif event.kind == "done":
                    reply = event.reply
                    yield (
                        browser,
                        chat,
                        reply,
                        cards_html(reply),
                        gr.update(),
                        gr.update(),
                        "✓",
                        gr.update(),
                        playlist_html(reply, reply.intent.language),
                        gr.update(),
                    )

        no_change = (gr.update(),) * 10

        def on_send(text: str, clip_path: str | None, browser: dict, chat: list, request: gr.Request):
            user_id = who(request).browser_user
            browser = own_session(browser, user_id)
            chat = [*(chat or []), {"role": "user", "content": text}]
            try:
                events = agent.stream(text, user_id=user_id, session_id=browser["session_id"], clip_path=clip_path)
                yield from play_events(events, browser, chat)
            except MoodtuneError as exc:
                chat = [*chat, {"role": "assistant", "content": str(exc)}]
                yield (browser, chat, *no_change[:4], f"⚠ {exc}", *no_change[:3])

        outputs = [state, chatbot, last_reply, cards, chosen, message, status, chips, playlist, language]
        send.click(on_send, [message, clip, state, chatbot], outputs)
        message.submit(on_send, [message, clip, state, chatbot], outputs)

        def on_voice(
            recording: str | None, speak: bool, clip_path: str | None, browser: dict, chat: list, request: gr.Request
        ):
            """A spoken request: its transcript goes through on_send; in voice mode the list is spoken as soon as it is ranked."""
            if not recording:
                return
            try:
                transcript = agent.listen(recording)
            except MoodtuneError as exc:
                yield *(gr.update() for _ in outputs), gr.update(), f"⚠ {html.escape(str(exc))}"
                return
            heard_text = f"Heard ({transcript.language}, {transcript.seconds:.1f} s): {html.escape(transcript.text)}"
            spoken = False
            for step in on_send(transcript.text, clip_path, browser, chat, request):
                speech = gr.update()
                if speak and not spoken and isinstance(step[2], Reply):
                    spoken = True
                    try:
                        speech = str(agent.speak(step[2])[1])
                    except MoodtuneError as exc:
                        heard_text += f" · ⚠ {html.escape(str(exc))}"
                yield *step, speech, heard_text

        for event in (voice_in.stop_recording, voice_in.upload):
            event(on_voice, [voice_in, voice_mode, clip, state, chatbot], [*outputs, voice_out, heard])

        def edit_reading(
            keep: list[str], added: str | None, reply: Reply | None, browser: dict, chat: list, request: gr.Request
        ):
            """The last reply searched again with the chips the user left ticked (and the one added)."""
            user_id = who(request).browser_user
            if reply is None or reply.user_id != user_id:
                yield (browser, chat, *no_change[:8])
                return
            try:
                events = agent.stream_edited(
                    reply.reply_id,
                    keep=list(keep or []),
                    add=[added] if added else [],
                    user_id=user_id,
                    session_id=reply.session_id,
                )
                for update in play_events(events, browser, list(chat or [])):
                    # The "add" box empties once its chip is in the reading.
                    yield (*update[:9], None)
            except MoodtuneError as exc:
                yield (browser, chat, *no_change[:4], f"⚠ {exc}", *no_change[:3])

        edit_outputs = [state, chatbot, last_reply, cards, chosen, message, status, chips, playlist, add]
        chips.input(edit_reading, [chips, gr.State(None), last_reply, state, chatbot], edit_outputs)
        add.input(edit_reading, [chips, add, last_reply, state, chatbot], edit_outputs)

        def feedback(kind: str):
            def handler(track_id: str | None, reply: Reply | None, lang: str, request: gr.Request):
                user_id = who(request).browser_user
                words = ui_words(lang)
                if not track_id:
                    return words["pick_track"]
                try:
                    # The reply id links the thumb to what was shown, only if it was shown to this user.
                    reply_id = reply.reply_id if reply is not None and reply.user_id == user_id else None
                    agent.feedback(user_id=user_id, track_id=str(track_id)[:200], kind=kind, reply_id=reply_id)
                    return words["noted"].format(kind=words["kinds"][kind], title=agent.track(track_id).title)
                except MoodtuneError as exc:
                    return f"⚠ {exc}"

            handler.__name__ = f"feedback_{kind}"
            return handler

        for button, kind in ((up, "up"), (down, "down"), (skip, "skip")):
            button.click(feedback(kind), [chosen, last_reply, language], [status])

        def on_more(track_id: str | None, browser: dict, chat: list, lang: str, request: gr.Request):
            """A new turn of tracks that sound like the chosen one (the tagger's embedding), no LLM."""
            user_id = who(request).browser_user
            browser = own_session(browser, user_id)
            if not track_id:
                yield (browser, chat, *no_change[:4], ui_words(lang)["pick_track"], *no_change[:3])
                return
            try:
                events = agent.stream_more_like_this(
                    str(track_id)[:200], user_id=user_id, session_id=browser["session_id"]
                )
                yield from play_events(events, browser, list(chat or []), echo_request=True)
            except MoodtuneError as exc:
                yield (browser, chat, *no_change[:4], f"⚠ {exc}", *no_change[:3])

        more.click(on_more, [chosen, state, chatbot, language], outputs)

        def show_profile(lang: str, request: gr.Request):
            return profile_html(agent.profile(who(request).browser_user), lang)

        def on_reset(lang: str, request: gr.Request):
            user_id = who(request).browser_user
            agent.reset_profile(user_id)
            return profile_html(agent.profile(user_id), lang)

        def on_delete(confirmed: bool, lang: str, request: gr.Request):
            user_id = who(request).browser_user
            words = ui_words(lang)
            if not confirmed:
                return gr.update(), words["tick_first"], gr.update(), gr.update(), False
            try:
                deleted = agent.delete_user(user_id)
            except MoodtuneError as exc:
                return gr.update(), f"⚠ {exc}", gr.update(), gr.update(), False
            done = words["deleted"].format(**deleted)
            return profile_html(agent.profile(user_id), lang), done, [], cards_html(None, language=lang), False

        refresh.click(show_profile, [language], [profile_view])
        reset.click(on_reset, [language], [profile_view])
        delete.click(
            on_delete, [confirm_delete, language], [profile_view, delete_status, chatbot, cards, confirm_delete]
        )

        def reviewer_only(request: gr.Request, lang: str) -> Identity:
            identity = who(request)
            if not identity.reviewer:
                raise gr.Error(ui_words(lang)["review_not_reviewer"])
            return identity

        def list_sessions(lang: str, request: gr.Request):
            reviewer_only(request, lang)
            label = ui_words(lang)["review_replies_count"]
            return gr.update(
                choices=[
                    (label.format(session=s["session_id"], count=s["replies"]), s["session_id"])
                    for s in agent.review.sessions()
                ]
            )

        def list_replies(session_id: str | None, lang: str, request: gr.Request):
            reviewer_only(request, lang)
            found = agent.review.replies(session_id) if session_id else []
            return gr.update(choices=[(r.request[:60], r.reply_id) for r in found], value=None)

        def show_reply(reply_id: str | None, lang: str, request: gr.Request):
            reviewer_only(request, lang)
            if not reply_id:
                return "", gr.update(choices=[])
            try:
                reply = agent.review.reply(reply_id)
            except MoodtuneError as exc:
                return f"<p>⚠ {html.escape(str(exc))}</p>", gr.update(choices=[])
            return review_html(reply, lang), gr.update(
                choices=[(r.track.title, r.track.id) for r in reply.recommendations]
            )

        def reshow_reply(reply_id: str | None, lang: str, request: gr.Request):
            """The open reply again in the page's new language (nothing for a page without the Review tab)."""
            if not who(request).reviewer or not reply_id:
                return gr.update(), gr.update()
            return show_reply(reply_id, lang, request)

        def record(reply_id, track_id, faithful_value, fits_value, note_text, lang: str, request: gr.Request):
            identity = reviewer_only(request, lang)
            words = ui_words(lang)
            if not reply_id:
                return words["review_open_first"]
            try:
                agent.review.record_verdict(
                    reply_id,
                    track_id=track_id or None,
                    explanation_faithful=None if faithful_value is None else faithful_value == "faithful",
                    fits=None if fits_value is None else fits_value == "fits",
                    note=(note_text or "")[:2000],
                    reviewer=identity.name,
                )
            except MoodtuneError as exc:
                return f"⚠ {exc}"
            return words["review_recorded"]

        sessions.focus(list_sessions, [language], [sessions])
        sessions.change(list_replies, [sessions, language], [replies])
        replies.change(show_reply, [replies, language], [review_view, verdict_track])
        language.change(reshow_reply, [replies, language], [review_view, verdict_track])
        save_verdict.click(record, [replies, verdict_track, faithful, fits, note, language], [verdict_status])
        ui.load(
            on_load,
            [state],
            [
                state,
                chatbot,
                last_reply,
                cards,
                chosen,
                review_tab,
                whoami,
                profile_view,
                chips,
                playlist,
                language,
                status,
            ],
        )
    return ui


def voice_components():
    """The voice section (issue 19): a microphone (or a file), voice mode (off by default), the spoken answer."""
    with gr.Row(elem_id="mt-voice-row"):
        voice_in = gr.Audio(
            sources=["upload", "microphone"],
            type="filepath",
            label="🎤 Ask out loud (English or 中文)",
            elem_id="mt-voice",
            scale=3,
        )
        with gr.Column(scale=2):
            voice_mode = gr.Checkbox(value=False, label="Voice mode: speak the answers", elem_id="mt-voice-mode")
            voice_out = gr.Audio(
                label="Spoken answer", type="filepath", autoplay=True, interactive=False, elem_id="mt-voice-out"
            )
    heard = gr.Markdown(elem_id="mt-heard")
    return voice_in, voice_mode, voice_out, heard


def create_server_app(settings: Settings, *, agent: Moodtune | None = None):
    """FastAPI app serving the API under /api/v1 and /v1, MCP at /mcp and the Gradio UI at /.

    All of it sits behind the one gate `create_app` puts in front of the app (api/security.py).
    """
    from api.http import create_app
    from api.mcp_server import mount_mcp

    agent = agent or Moodtune(settings)
    api = create_app(settings, agent=agent)
    mount_mcp(api, settings, agent=agent)  # before the UI: the UI's mount at / takes every other path
    ui = build_ui(agent, signed_in=Credentials(settings).required)
    return gr.mount_gradio_app(api, ui, path="/", css=CSS, max_file_size=f"{settings.max_upload_mb}mb")


if __name__ == "__main__":
    # One way to start the server: the same as `moodtune serve` (binding checks, warm-up).
    from moodtune.cli import main

    raise SystemExit(main(["serve"]))
