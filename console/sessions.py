"""Who is signed in: a signed session cookie, or an authenticating proxy's header.

The cookie holds `Session` signed with CONSOLE_SESSION_SECRET (itsdangerous;
it is signed, not encrypted: it carries nothing secret from the user but its
CSRF token, which the page shows anyway). It is HttpOnly, SameSite=Strict,
Secure outside dev, and expires after CONSOLE_SESSION_SECONDS.

Behind oauth2-proxy, `X-Forwarded-Email` names the admin, but only from a
peer in CONSOLE_TRUSTED_PROXIES that also sends CONSOLE_PROXY_SECRET in
`X-Console-Proxy-Secret`: a header from anyone else is refused, never ignored,
so a misrouted request cannot fall back to some other identity.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import asdict, dataclass

from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer

from console.errors import Forbidden
from console.settings import Settings

COOKIE = "console_session"
EMAIL_HEADER = "X-Forwarded-Email"
SECRET_HEADER = "X-Console-Proxy-Secret"  # noqa: S105 -- a header name, not a secret
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Session:
    """A browser's session; `email` empty until someone signs in."""

    csrf: str
    email: str = ""
    # The one org a console link signed in to; empty for a proxy session,
    # whose org is the URL's (the identity service checks the admin for it).
    org: str = ""
    via: str = ""  # "link" or "proxy"


def new_session(email: str = "", org: str = "", via: str = "") -> Session:
    return Session(csrf=secrets.token_urlsafe(32), email=email, org=org, via=via)


class SessionCookie:
    def __init__(self, settings: Settings) -> None:
        self._serializer = URLSafeTimedSerializer(settings.session_secret, salt="console-session")
        self._max_age = settings.session_seconds
        self._secure = not settings.dev

    def read(self, request: web.Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=self._max_age)
            return Session(**data)
        except (BadSignature, TypeError):  # forged, expired or of another shape
            return None

    def write(self, response: web.StreamResponse, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self._serializer.dumps(asdict(session)),
            max_age=self._max_age,
            path="/",
            httponly=True,
            secure=self._secure,
            samesite="Strict",
        )

    def clear(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/")


def _from_trusted_proxy(request: web.Request, settings: Settings) -> bool:
    try:
        peer = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    if not any(peer in network for network in settings.trusted_proxies):
        return False
    sent = request.headers.get(SECRET_HEADER, "")
    return hmac.compare_digest(sent.encode(), settings.proxy_secret.encode())


def proxy_session(
    request: web.Request, settings: Settings, session: Session | None
) -> Session | None:
    """The proxy's admin, as a session (kept while the same admin); None without the header."""
    if EMAIL_HEADER not in request.headers:
        return None
    email = request.headers.get(EMAIL_HEADER, "").strip()
    if not settings.proxy_enabled or not _from_trusted_proxy(request, settings) or not email:
        raise Forbidden(f"{EMAIL_HEADER} is accepted only from the console's trusted proxy")
    if session is not None and session.via == "proxy" and session.email == email:
        return session
    return new_session(email, via="proxy")  # someone else: a fresh CSRF token too


def csrf_ok(session: Session | None, sent: str) -> bool:
    """Whether a form's token is this session's (constant time)."""
    if session is None or not sent:
        return False
    return hmac.compare_digest(sent.encode(), session.csrf.encode())
