"""Users and bearer tokens. Tokens look like ``rrt_<43 url-safe chars>`` so secret scanners can find leaked
ones; only their SHA-256 is stored."""

import hashlib
import re
import secrets

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


def create_token(session: Session, user: User, description: str | None = None) -> tuple[ApiToken, str]:
    """Return the stored token row and the secret, which is never stored or shown again."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=hash_token(secret), display_prefix=secret[:10],
                     description=description)
    session.add(token)
    session.flush()
    audit.record(session, user, "token.create", user.name, token_id=token.id)
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
    return token


def use_is_stale(token: ApiToken) -> bool:
    return token.last_used_at is None or (utcnow() - token.last_used_at).total_seconds() > LAST_USE_RESOLUTION_S


def record_use(session: Session, token_id: int) -> None:
    """Note that the token was used just now (bookkeeping for its owner's token list, not a change of state)."""
    token = session.get(ApiToken, token_id)
    if token is not None and use_is_stale(token):
        token.last_used_at = utcnow()
