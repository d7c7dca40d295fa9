"""Users and bearer tokens. Tokens look like ``rrt_<43 url-safe chars>`` so secret scanners can find leaked
ones; only their SHA-256 is stored."""

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reproreg.errors import RegistryError
from reproreg.models import ApiToken, Namespace, User
from reproreg.models.base import utcnow
from reproreg.services import audit
from reproreg_schemas.names import NAMESPACE_RE

TOKEN_PREFIX = "rrt_"
TOKEN_RE = re.compile(r"^rrt_[A-Za-z0-9_-]{43}$")
#: names that are paths of the registry's own pages, so no namespace may take them
RESERVED_NAMES = {"api", "badges", "venues", "static", "docs", "search", "login", "about", "health"}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, name: str, is_worker: bool = False) -> User:
    """A user and the namespace of the same name, which the user owns. Reference workers are users too."""
    if not NAMESPACE_RE.match(name):
        raise RegistryError("VALIDATION_ERROR", f"user name {name!r} must be 1-40 lowercase letters, digits "
                            "or '-', not starting or ending with '-'", field="name")
    if name in RESERVED_NAMES:
        raise RegistryError("NAME_TAKEN", f"the name {name!r} is reserved by the registry", field="name")
    if session.scalar(select(User).where(User.name == name)) or session.scalar(
            select(Namespace).where(Namespace.name == name)):
        raise RegistryError("NAME_TAKEN", f"the name {name!r} is taken", field="name")
    user = User(name=name, is_worker=is_worker)
    session.add(user)
    session.flush()
    session.add(Namespace(name=name, owner_id=user.id))
    audit.record(session, None, "user.create", name, worker=is_worker)
    try:
        session.flush()
    except IntegrityError:  # taken meanwhile by a concurrent request
        raise RegistryError("NAME_TAKEN", f"the name {name!r} is taken", field="name") from None
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise RegistryError("NOT_FOUND", f"no user named {name!r}")
    return user


# --- scopes -----------------------------------------------------------------------------------------------
#: everything; the scope of a token made without one (and of every token made before scopes existed)
ADMIN = "admin"
#: reading what the token's user may read; every scope includes it
READ = "read"
#: submitting verification reports, registering signing keys, requesting jobs, and a worker's leases
VERIFY = "verify"
#: ``push:<namespace>``: uploading blobs and publishing or yanking versions in that namespace (``push:*``: in any
#: namespace the user may push into)
PUSH = "push"
ANY_NAMESPACE = "*"
SCOPE_RE = re.compile(r"^(?:read|verify|admin|push:(?:\*|[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?))$")
DURATION_RE = re.compile(r"^([1-9][0-9]{0,5})([mhdw])$")
DURATION_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_scopes(scopes: list[str] | tuple[str, ...] | None) -> list[str]:
    """Validated, de-duplicated scopes in the order given; none given: ``admin`` (full power)."""
    if not scopes:
        return [ADMIN]
    wrong = [scope for scope in scopes if not SCOPE_RE.match(scope)]
    if wrong:
        raise RegistryError("VALIDATION_ERROR", f"unknown scope {wrong[0]!r}: use read, verify, admin or "
                            "push:<namespace> (push:* for every namespace the user may push into)",
                            field="scope", scopes=wrong)
    return list(dict.fromkeys(scopes))


def parse_expiry(text: str | None, now: datetime | None = None) -> datetime | None:
    """``30d`` (minutes m, hours h, days d, weeks w) from now; None for no expiry."""
    if text is None or text.strip().lower() in ("", "never"):
        return None
    match = DURATION_RE.match(text.strip().lower())
    if not match:
        raise RegistryError("VALIDATION_ERROR", f"expiry {text!r} must be a whole number of minutes, hours, days "
                            "or weeks, e.g. 90m, 12h, 30d, 2w (or 'never')", field="expires")
    return (now or utcnow()) + int(match.group(1)) * DURATION_UNITS[match.group(2)]


def token_scopes(token: ApiToken) -> list[str]:
    return (token.scopes or ADMIN).split()


def allows(scopes: list[str], needed: str) -> bool:
    """Whether a token of ``scopes`` may do what needs ``needed`` (``read``, ``verify``, ``admin``,
    ``push:<namespace>``, or ``push:*``: any push scope, for what is not in one namespace, such as uploads)."""
    if ADMIN in scopes or needed == READ:
        return True
    if needed.startswith(f"{PUSH}:"):
        namespace = needed.partition(":")[2]
        return any(scope == f"{PUSH}:{ANY_NAMESPACE}" or (scope.startswith(f"{PUSH}:") and namespace == ANY_NAMESPACE)
                   or scope == needed for scope in scopes)
    return needed in scopes


def require_scope(token: ApiToken | None, needed: str) -> None:
    """Refuse with INSUFFICIENT_SCOPE, naming the scope needed, when the token does not grant ``needed``. Requests
    without a token are left to the rules of what they ask (most writes need a user)."""
    if token is None:
        return
    scopes = token_scopes(token)
    if not allows(scopes, needed):
        wanted = "a push scope ('push:<namespace>' or 'push:*')" if needed == f"{PUSH}:{ANY_NAMESPACE}" \
            else f"the scope {needed!r}"
        raise RegistryError("INSUFFICIENT_SCOPE", f"this token lacks {wanted} (it has "
                            f"{' '.join(scopes)}); create one with 'registry tokens create {token.user.name} "
                            f"--scope {needed.replace(ANY_NAMESPACE, token.user.name)}'", needed=needed,
                            granted=scopes)


def create_token(session: Session, user: User, description: str | None = None, scopes: list[str] | None = None,
                 expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """Return the stored token row and the secret, which is never stored or shown again. Without ``scopes`` the
    token has full power (``admin``), as tokens had before scopes existed."""
    granted = parse_scopes(scopes)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=hash_token(secret), display_prefix=secret[:10],
                     description=description, scopes=" ".join(granted), expires_at=expires_at)
    session.add(token)
    session.flush()
    audit.record(session, user, "token.create", user.name, token_id=token.id, scopes=granted,
                 expires_at=expires_at.isoformat() if expires_at else None)
    return token, secret


def revoke_tokens_described(session: Session, user: User, description: str) -> None:
    for token in list_tokens(session, user):
        if token.description == description and token.revoked_at is None:
            token.revoked_at = utcnow()


def revoke_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise RegistryError("NOT_FOUND", f"no token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, token.user, "token.revoke", token.user.name, token_id=token.id)
    return token


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


#: how stale a token's recorded last use may get before a request records it again
LAST_USE_RESOLUTION_S = 60


def authenticate(session: Session, authorization: str | None) -> ApiToken | None:
    """The token behind an ``Authorization: Bearer`` header; None when there is no header. Reads only: the edge
    records the token's use (``record_use``) in a transaction of its own, so that reads stay reads."""
    if not authorization:
        return None
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise RegistryError("UNAUTHORIZED", "send the token as 'Authorization: Bearer <token>'")
    if not TOKEN_RE.match(secret):
        raise RegistryError("UNAUTHORIZED", "the token is malformed; create one with 'registry tokens create'")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        raise RegistryError("UNAUTHORIZED", "the token is unknown or revoked; run 'regctl login' with a valid one")
    if token.expires_at is not None and token.expires_at <= utcnow():
        raise RegistryError("TOKEN_EXPIRED", f"the token expired on {token.expires_at:%Y-%m-%d %H:%M} UTC; create a "
                            "new one with 'registry tokens create' and run 'regctl login' with it",
                            expired_at=token.expires_at.isoformat())
    return token


def use_is_stale(token: ApiToken) -> bool:
    return token.last_used_at is None or (utcnow() - token.last_used_at).total_seconds() > LAST_USE_RESOLUTION_S


def record_use(session: Session, token_id: int) -> None:
    """Note that the token was used just now (bookkeeping for its owner's token list, not a change of state)."""
    token = session.get(ApiToken, token_id)
    if token is not None and use_is_stale(token):
        token.last_used_at = utcnow()
