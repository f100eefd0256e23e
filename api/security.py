"""One gate in front of everything Moodtune serves over HTTP.

`Gate` is a plain ASGI middleware wrapped around the whole server app, so the Gradio UI and
its API under /gradio_api, the REST routes, the OpenAI-compatible routes, the audio files,
/docs, /openapi.json and MCP over streamable HTTP all pass through it, and so does anything
mounted later. The rule:

- No credential configured: only this machine is served. A request must come from a loopback
  address and name a loopback host (so a web page cannot reach the server by DNS rebinding),
  and `moodtune serve` refuses to bind beyond loopback. Such a request is the local user.
- Any credential configured (MOODTUNE_API_TOKEN, MOODTUNE_API_TOKENS, MOODTUNE_REVIEWER_TOKEN):
  every request needs one, from loopback too. The only exception is the sign-in page itself
  (/login, /logout). A credential is `Authorization: Bearer <token>`, or the cookie a browser
  gets by signing in at /login (HttpOnly, SameSite=Lax, signed with a key derived from the
  token it was issued for, so changing or removing that token signs the browser out).

Each request leaves the gate with an `Identity` in its ASGI scope (`identity_of`); handlers
take the user id from it, never from a field the client fills in. Secrets are compared in
constant time (of their SHA-256 digests) and never logged or echoed. The gate also bounds
request bodies: a declared or streamed (chunked) body beyond the limit gets 413.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import ipaddress
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from moodtune.config import Settings
from moodtune.errors import ConfigError, PermissionDeniedError

IDENTITY_KEY = "moodtune.identity"
COOKIE = "moodtune_auth"
LOGIN, LOGOUT = "/login", "/logout"
UPLOAD_SUFFIX = "/gradio_api/upload"  # Gradio's upload route: its bodies may be up to max_upload_mb
VOICE_PATH = "/api/v1/voice"  # a spoken request's recording: an upload too (a 5 s WAV is ~400 KB)
MIN_SECRET_CHARS = 16
MAX_LOGIN_BODY = 8 * 1024
FAILED_SIGN_IN_DELAY_S = 1.0
TOKEN_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclass(frozen=True)
class Identity:
    """Who a request is. `user_id` None: may name any user (this machine's user, the owner's token)."""

    name: str  # "local", "owner", "reviewer" or "user:<id>"; safe to log and to store as the reviewer
    user_id: str | None
    reviewer: bool = False

    def user(self, requested: str | None = None) -> str:
        """The user a request acts for: the one it names if it may, its own if scoped."""
        from agent.session import validate_user_id

        if self.user_id is None:
            return validate_user_id(requested or "default")
        if requested in (None, "", self.user_id):
            return self.user_id
        raise PermissionDeniedError(
            "this token acts for its own user only", hint="leave user_id out, or use that user's own token"
        )

    @property
    def browser_user(self) -> str:
        """The user a signed-in browser chats as."""
        return self.user_id or "default"

    @property
    def may_read_server_files(self) -> bool:
        """Whether it may name a file on the server (MCP's classify_style): unscoped identities only."""
        return self.user_id is None

    def require_reviewer(self) -> None:
        if not self.reviewer:
            raise PermissionDeniedError(
                "the review log needs a reviewer's credential",
                hint="sign in with MOODTUNE_REVIEWER_TOKEN, or use Moodtune on this machine without tokens",
            )


LOCAL = Identity("local", None, reviewer=True)
OWNER = Identity("owner", None, reviewer=False)
REVIEWER = Identity("reviewer", "reviewer", reviewer=True)


def is_loopback(address: str | None) -> bool:
    """Is this client address this machine (127.0.0.0/8, ::1, IPv4-mapped 127.x)?"""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address.lower() == "localhost"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def is_loopback_host(host_header: str | None) -> bool:
    """Does the Host header name this machine ("127.0.0.1:7860", "localhost", "[::1]:7860")?"""
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host == "localhost" or host.endswith(".localhost") or is_loopback(host)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


class Credentials:
    """The configured secrets and the identity each stands for."""

    def __init__(self, settings: Settings) -> None:
        self._entries: list[tuple[bytes, bytes, Identity]] = []  # (digest, cookie key, identity)
        if settings.api_token:
            self._add(settings.api_token, OWNER, "MOODTUNE_API_TOKEN")
        for token, user_id in settings.scoped_tokens.items():
            from agent.session import validate_user_id
            from moodtune.errors import InputError

            try:
                validate_user_id(user_id)
            except InputError as exc:
                raise ConfigError(f"MOODTUNE_API_TOKENS: {exc.message}") from exc
            if user_id == REVIEWER.user_id:
                raise ConfigError("MOODTUNE_API_TOKENS: 'reviewer' is the reviewer's user id; choose another")
            self._add(token, Identity(f"user:{user_id}", user_id), "MOODTUNE_API_TOKENS")
        if settings.reviewer_token:
            self._add(settings.reviewer_token, REVIEWER, "MOODTUNE_REVIEWER_TOKEN")

    def _add(self, secret: str, identity: Identity, env: str) -> None:
        secret = secret.strip()
        if len(secret) < MIN_SECRET_CHARS:
            raise ConfigError(f"a token in {env} is shorter than {MIN_SECRET_CHARS} characters", hint=TOKEN_HINT)
        digest = _digest(secret)
        if any(hmac.compare_digest(digest, known) for known, _, _ in self._entries):
            raise ConfigError(f"a token in {env} is also given to another role or user", hint="give each its own token")
        key = hmac.new(b"moodtune-cookie-v1", secret.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        self._entries.append((digest, key, identity))

    @property
    def required(self) -> bool:
        return bool(self._entries)

    def match(self, secret: str) -> Identity | None:
        """The identity of a presented token (every entry is compared; no early exit)."""
        supplied = _digest(secret.strip())
        found = None
        for digest, _, identity in self._entries:
            if hmac.compare_digest(supplied, digest):
                found = identity
        return found

    def _key_of(self, name: str) -> bytes | None:
        return next((key for _, key, identity in self._entries if identity.name == name), None)

    def cookie_for(self, identity: Identity, *, now: float | None = None) -> str:
        payload = f"{identity.name}|{int(now or time.time())}".encode()
        key = self._key_of(identity.name)
        assert key is not None
        mac = hmac.new(key, payload, hashlib.sha256).hexdigest()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + mac

    def from_cookie(self, value: str, *, max_age_s: float, now: float | None = None) -> Identity | None:
        try:
            encoded, mac = value.split(".", 1)
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            name, issued = payload.decode().split("|")
            issued_at = int(issued)
        except (ValueError, UnicodeDecodeError):
            return None
        key = self._key_of(name)
        if key is None:
            return None
        if not hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).hexdigest(), mac):
            return None
        now = now or time.time()
        if not (now - max_age_s <= issued_at <= now + 60):
            return None
        return next(identity for _, _, identity in self._entries if identity.name == name)


def identity_of(request: Any) -> Identity:
    """The identity the gate gave a request: a gr.Request, a Starlette request or an ASGI scope.

    Fails closed: a request that did not pass the gate has no identity and may do nothing.
    """
    inner = getattr(request, "request", None)  # gr.Request wraps the Starlette request
    scope = getattr(inner, "scope", None) or getattr(request, "scope", None)
    if scope is None and isinstance(request, dict):
        scope = request
    identity = scope.get(IDENTITY_KEY) if scope else None
    if not isinstance(identity, Identity):
        raise PermissionDeniedError("this request did not pass Moodtune's sign-in", hint="sign in at /login")
    return identity


def _headers(scope: dict) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookies(header: str) -> dict[str, str]:
    cookies = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            cookies[name] = value
    return cookies


@dataclass(frozen=True)
class Denial:
    status: int
    error: str
    message: str
    hint: str


class Gate:
    """The ASGI middleware: identify, sign browsers in, bound bodies; then the app."""

    def __init__(self, app: Any, *, settings: Settings) -> None:
        self.app = app
        self.credentials = Credentials(settings)
        self.max_body = settings.max_body_kb * 1024
        self.max_upload = settings.max_upload_mb * 1024 * 1024
        self.session_s = settings.session_days * 86400

    # -- who is asking -------------------------------------------------------------------
    def identify(self, scope: dict) -> tuple[Identity | None, Denial | None]:
        headers = _headers(scope)
        client = (scope.get("client") or (None, None))[0]
        if not self.credentials.required:
            if is_loopback(client) and is_loopback_host(headers.get("host")):
                return LOCAL, None
            return None, Denial(
                403,
                "Forbidden",
                "without a token Moodtune serves only this machine",
                "set MOODTUNE_API_TOKEN (or MOODTUNE_API_TOKENS) to serve other machines",
            )
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, secret = authorization.partition(" ")
            identity = self.credentials.match(secret) if scheme.lower() == "bearer" and secret.strip() else None
            if identity:
                return identity, None
            return None, Denial(
                401, "Unauthorized", "missing or wrong bearer token", "send 'Authorization: Bearer <token>'"
            )
        cookie = _cookies(headers.get("cookie", "")).get(COOKIE)
        if cookie:
            identity = self.credentials.from_cookie(cookie, max_age_s=self.session_s)
            if identity:
                return identity, None
        return None, Denial(
            401,
            "Unauthorized",
            "this Moodtune needs a token",
            "send 'Authorization: Bearer <token>', or sign in at /login",
        )

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        path = scope.get("path", "")
        if scope["type"] == "http" and path in (LOGIN, LOGOUT):
            await self._sign_in_page(scope, receive, send)
            return
        identity, denial = self.identify(scope)
        if identity is None:
            await self._deny(scope, send, denial)
            return
        scope = {**scope, IDENTITY_KEY: identity}
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._bounded(scope, receive, send)

    # -- bodies --------------------------------------------------------------------------
    async def _bounded(self, scope: dict, receive: Any, send: Any) -> None:
        uploads = scope["path"].endswith(UPLOAD_SUFFIX) or scope["path"] == VOICE_PATH
        limit = self.max_upload if uploads else self.max_body
        declared = _headers(scope).get("content-length", "")
        if declared.strip().isdigit() and int(declared) > limit:
            await self._too_large(send, limit)
            return
        received = 0
        overflowed = False
        started = False
        # On the upload route a 500 is held back until we know why: Gradio's parser raises on a
        # broken multipart body (answered 400 below), anything else goes out as it was.
        held: list[dict] = []
        hold = scope["path"].endswith(UPLOAD_SUFFIX)

        async def counting_receive() -> dict:
            nonlocal received, overflowed
            if overflowed:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    overflowed = True  # the app sees a client that went away; the client gets 413
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if overflowed and not started:
                return
            if held or (hold and message["type"] == "http.response.start" and message["status"] >= 500):
                held.append(message)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception as exc:
            if overflowed:
                pass
            elif not started and _is_malformed_form(exc):
                # Gradio's upload parser raises on a broken multipart body; that is the client's fault.
                await _json(
                    send,
                    400,
                    {"error": "BadRequest", "message": "the upload is not a valid multipart form", "hint": ""},
                )
                return
            else:
                await _flush(send, held)
                raise
        if overflowed and not started:
            await self._too_large(send, limit)
            return
        await _flush(send, held)

    async def _too_large(self, send: Any, limit: int) -> None:
        size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
        await _json(
            send,
            413,
            {
                "error": "PayloadTooLarge",
                "message": f"request bodies here are limited to {size}",
                "hint": "send less (uploads: MOODTUNE_MAX_UPLOAD_MB, other bodies: MOODTUNE_MAX_BODY_KB)",
            },
            extra=[(b"connection", b"close")],
        )

    # -- refusals and signing in ---------------------------------------------------------
    async def _deny(self, scope: dict, send: Any, denial: Denial) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = _headers(scope)
        wants_page = scope.get("method") in ("GET", "HEAD") and "text/html" in headers.get("accept", "")
        if denial.status == 401 and wants_page and self.credentials.required:
            target = scope.get("path", "/") + (
                ("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else ""
            )
            await _redirect(send, f"{LOGIN}?next={urllib.parse.quote(target, safe='')}")
            return
        extra = [(b"www-authenticate", b'Bearer realm="moodtune"')] if denial.status == 401 else []
        await _json(
            send, denial.status, {"error": denial.error, "message": denial.message, "hint": denial.hint}, extra=extra
        )

    async def _sign_in_page(self, scope: dict, receive: Any, send: Any) -> None:
        query = urllib.parse.parse_qs(scope.get("query_string", b"").decode("latin-1"))
        target = _safe_next(query.get("next", ["/"])[0])
        if not self.credentials.required:
            identity, denial = self.identify(scope)
            if identity is None:
                await self._deny(scope, send, denial)
            else:
                await _redirect(send, target)
            return
        secure = scope.get("scheme") == "https"
        if scope["path"] == LOGOUT:
            await _redirect(send, LOGIN, cookie=_cookie_header("", 0, secure=secure))
            return
        if scope.get("method") == "POST":
            body = await _read_body(receive, MAX_LOGIN_BODY)
            if body is None:
                await _json(
                    send, 413, {"error": "PayloadTooLarge", "message": "the sign-in form is too large", "hint": ""}
                )
                return
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            target = _safe_next(form.get("next", [target])[0])
            identity = (
                self.credentials.match(form.get("token", [""])[0]) if form.get("token", [""])[0].strip() else None
            )
            if identity is not None:
                value = self.credentials.cookie_for(identity)
                await _redirect(send, target, cookie=_cookie_header(value, self.session_s, secure=secure))
                return
            await asyncio.sleep(FAILED_SIGN_IN_DELAY_S)  # slows guessing; the token itself is never logged
            await _html(send, 401, _login_page(target, failed=True))
            return
        identity, _ = self.identify(scope)
        if identity is not None:
            await _redirect(send, target)
            return
        await _html(send, 200, _login_page(target, failed=False))


async def _flush(send: Any, held: list[dict]) -> None:
    for message in held:
        await send(message)
    held.clear()


def _is_malformed_form(exc: BaseException) -> bool:
    seen: list[BaseException] = [exc]
    while seen:
        current = seen.pop()
        if type(current).__module__.startswith(("python_multipart", "multipart")):
            return True
        seen += list(getattr(current, "exceptions", ()))
        seen += [e for e in (current.__cause__, current.__context__) if e is not None and e is not current][:2]
        if len(seen) > 20:
            break
    return False


def _safe_next(target: str) -> str:
    """Only a path on this server ("/x"), never "//elsewhere" or a scheme."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or any(c in target for c in "\r\n"):
        return "/"
    return target


def _cookie_header(value: str, max_age: int, *, secure: bool) -> bytes:
    parts = [f"{COOKIE}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode("latin-1")


async def _read_body(receive: Any, limit: int) -> bytes | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body"):
            return body


async def _json(send: Any, status: int, payload: dict, *, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _html(send: Any, status: int, page: str) -> None:
    body = page.encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-frame-options", b"DENY"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Any, location: str, *, cookie: bytes | None = None) -> None:
    headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0"), (b"cache-control", b"no-store")]
    if cookie is not None:
        headers.append((b"set-cookie", cookie))
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _login_page(target: str, *, failed: bool) -> str:
    problem = '<p class="bad">That token is not right.</p>' if failed else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Moodtune: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}}
input{{width:100%;padding:.5rem;margin:.4rem 0;box-sizing:border-box}}.bad{{color:#b00}}</style></head>
<body><h1>Moodtune</h1><p>This Moodtune needs a token. Ask whoever runs it for yours.</p>{problem}
<form method="post" action="{LOGIN}"><input type="hidden" name="next" value="{html.escape(target)}">
<label>Token <input type="password" name="token" id="mt-token" autocomplete="current-password" autofocus></label>
<input type="submit" value="Sign in" id="mt-sign-in"></form></body></html>"""
