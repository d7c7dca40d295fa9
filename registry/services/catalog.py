"""Finding entries: search by name, title, paper, venue, metric and badge state; the most recent versions; a
venue's entries, filtered by badge state and exported.

Every listing is a bounded number of SQL queries whatever the number of entries: the badge states are read from
``version_states`` (kept by ``reproreg.services.badge_states``), filters and order are SQL, and pages follow each
other by keyset cursors (opaque, stable while entries are added). Search uses PostgreSQL's full-text search
(``simple`` configuration, each word a prefix) and, on SQLite, a LIKE per word over the same text."""

import base64
import binascii
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, exists, func, literal_column, select, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from reproreg.context import RegistryContext
from reproreg.errors import RegistryError
from reproreg.models import Artifact, Claim, Namespace, User, Version, VersionState
from reproreg.services.access import readable_artifact_filter
from reproreg.services.badge_states import words
from reproreg.services.badges import states_document
from reproreg_schemas.names import DIGEST_PREFIX, DIGEST_RE, LATEST
from reproreg_schemas.vocabulary import METADATA_PUBLIC_STAGES, ReproducedState

PAGE_SIZE = 50
VENUE_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
#: rows fetched at a time while an export streams
EXPORT_BATCH = 500

STATE_CONDITIONS = {
    "available": lambda: VersionState.available.is_(True),
    "functional": lambda: VersionState.functional.is_(True),
    "reproduced": lambda: VersionState.reproduced.is_(True),
    "failed": lambda: VersionState.reproduced_state == str(ReproducedState.FAILED),
    "not-verified": lambda: VersionState.reproduced_state == str(ReproducedState.NOT_VERIFIED),
    "checklist": lambda: VersionState.checklist.is_(True),
}
#: the state filters, by name (kept for the pages' menus)
STATE_FILTERS = tuple(STATE_CONDITIONS)

EXPORT_COLUMNS = ("name", "version", "digest", "title", "url", "available", "functional", "reproduced",
                  "reproduced_state", "checklist", "yanked", "published_at")


@dataclass
class Page:
    entries: list[dict] = field(default_factory=list)
    #: the cursor of the next page, None on the last one
    next_cursor: str | None = None
    #: how many entries match in all; None when not counted, or when more than COUNT_CAP match
    total: int | None = None


def encode_cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: tuple) -> tuple | None:
    """The position a cursor names, or None for the first page; a cursor this registry did not hand out is a
    VALIDATION_ERROR, never a 500."""
    if not cursor:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(values, list) and len(values) == len(types) and all(
                isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types, strict=True)):
            return tuple(values)
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        pass
    raise RegistryError("VALIDATION_ERROR", "cursor is not one this registry handed out: start from the first page",
                        problems={"cursor": ["is not a cursor of this listing"]})


def page_size(limit: int | None, default: int) -> int:
    if limit is None:
        return default
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise RegistryError("VALIDATION_ERROR", f"limit must be between 1 and {MAX_PAGE_SIZE}",
                            problems={"limit": [f"must be between 1 and {MAX_PAGE_SIZE}"]})
    return limit


def state_condition(state: str | None):
    if not state:
        return None
    if state not in STATE_CONDITIONS:
        raise RegistryError("VALIDATION_ERROR", f"state must be one of {', '.join(STATE_CONDITIONS)}",
                            problems={"state": [f"must be one of {', '.join(STATE_CONDITIONS)}"]})
    return STATE_CONDITIONS[state]()


#: the stored states a listing shows (never the search text, nor its vector)
LISTED_STATES = ("revision", "rank", "yanked", "available", "functional", "reproduced", "reproduced_state",
                 "checklist", "checklist_state", "checklist_answered", "checklist_items", "claims", "trusted",
                 "held", "failed", "latest_trusted_id", "community", "metrics")
#: matching entries are counted up to this many; beyond it a listing says "more than COUNT_CAP" (counting every
#: match of a broad search would cost more than finding the page itself)
COUNT_CAP = 10_000


def _listing(user: User | None):
    """Readable versions with their names and stored states: one row per version of plain columns (no ORM objects
    to build), no further queries. Statements are immutable: an anonymous reader's is built once."""
    if user is None:
        return _ANONYMOUS_LISTING
    return _readable_versions(user)


def _readable_versions(user: User | None):
    return (select(Namespace.name.label("namespace"), Artifact.name.label("artifact"), Version.id,
                   Version.version, Version.digest, Version.title, Version.venue, Version.published_at,
                   Version.license, *(getattr(VersionState, column) for column in LISTED_STATES))
            .select_from(Version)
            .join(Artifact, Artifact.id == Version.artifact_id)
            .join(Namespace, Namespace.id == Artifact.namespace_id)
            .join(VersionState, VersionState.version_id == Version.id)
            .where(readable_artifact_filter(user)))


_ANONYMOUS_LISTING = _readable_versions(None)


def _count(session: Session, user: User | None, conditions: list, versions: bool, states: bool) -> int | None:
    """How many readable versions meet ``conditions``, joining only the tables they name (``versions``,
    ``states``); None when more than COUNT_CAP do."""
    if states:
        query = select(VersionState.version_id).join(Artifact, Artifact.id == VersionState.artifact_id)
        if versions:
            query = query.join(Version, Version.id == VersionState.version_id)
    else:
        query = select(Version.id).join(Artifact, Artifact.id == Version.artifact_id)
    query = query.where(readable_artifact_filter(user), *conditions).limit(COUNT_CAP + 1)
    found = session.scalar(select(func.count()).select_from(query.subquery()))
    return found if found <= COUNT_CAP else None


def entry(row) -> dict:
    return {**states_document(f"{row.namespace}/{row.artifact}", row.version, row.digest, row),
            "title": row.title, "venue": row.venue, "published_at": row.published_at, "license": row.license,
            "metrics": list(row.metrics or [])}


def _text_condition(session: Session, text: str):
    wanted = words(text)
    if not wanted:
        return None
    if session.get_bind().dialect.name == "postgresql":
        config = literal_column("'simple'::regconfig")
        query = " & ".join(f"{word}:*" for word in wanted)  # \w+ words: nothing a tsquery would read as syntax
        return VersionState.search_vector.op("@@")(func.to_tsquery(config, query))
    return and_(*(VersionState.search_text.like(f"%{word}%") for word in wanted))


def search(ctx: RegistryContext, session: Session, user: User | None, text: str = "", venue: str = "",
           metric: str = "", state: str = "", cursor: str | None = None, limit: int | None = None) -> Page:
    """The latest readable version of each matching artifact, by name; filters apply to that version."""
    size = page_size(limit, PAGE_SIZE)
    conditions = [VersionState.latest.is_(True)]
    for condition in (_text_condition(session, text) if text.strip() else None, state_condition(state)):
        if condition is not None:
            conditions.append(condition)
    if metric:
        conditions.append(exists().where(Claim.version_id == VersionState.version_id,
                                         func.lower(Claim.metric) == metric.strip().lower()))
    if venue:
        conditions.append(Version.venue == venue)
    after = decode_cursor(cursor, (str, str))
    total = _count(session, user, conditions, versions=bool(venue), states=True)
    query = _listing(user).where(*conditions)
    if after is not None:
        query = query.where(tuple_(Namespace.name, Artifact.name) > tuple_(*after))
    rows = session.execute(query.order_by(Namespace.name, Artifact.name).limit(size + 1)).all()
    following = encode_cursor([rows[size - 1].namespace, rows[size - 1].artifact]) if len(rows) > size else None
    return Page([entry(row) for row in rows[:size]], following, total)


def recent(ctx: RegistryContext, session: Session, user: User | None, limit: int = 10) -> list[dict]:
    rows = session.execute(_listing(user).where(Version.yanked_at.is_(None))
                           .order_by(Version.published_at.desc(), Version.id.desc()).limit(limit))
    return [entry(row) for row in rows]


def _venue_query(user: User | None, slug: str, state: str | None):
    query = _listing(user).where(Version.venue == slug)
    condition = state_condition(state)
    return query if condition is None else query.where(condition)


VENUE_ORDER = (Namespace.name, Artifact.name, VersionState.rank)


def venue_entries(ctx: RegistryContext, session: Session, user: User | None, slug: str, state: str = "",
                  cursor: str | None = None, limit: int | None = None) -> Page:
    """A page of the versions naming the venue that ``user`` may read: by artifact name, newest version first."""
    size = page_size(limit, VENUE_PAGE_SIZE)
    query = _venue_query(user, slug, state)
    condition = state_condition(state)
    after = decode_cursor(cursor, (str, str, int))
    total = _count(session, user, [Version.venue == slug, *([] if condition is None else [condition])],
                   versions=True, states=condition is not None)
    if after is not None:
        query = query.where(tuple_(*VENUE_ORDER) > tuple_(*after))
    rows = session.execute(query.order_by(*VENUE_ORDER).limit(size + 1)).all()
    following = None
    if len(rows) > size:
        last = rows[size - 1]
        following = encode_cursor([last.namespace, last.artifact, last.rank])
    return Page([entry(row) for row in rows[:size]], following, total)


def venue_has_entries(session: Session, user: User | None, slug: str) -> bool:
    return session.scalar(_venue_query(user, slug, None).with_only_columns(Version.id).limit(1)) is not None


def all_venue_entries(session: Session, user: User | None, slug: str) -> Iterator[dict]:
    """Every version naming the venue that ``user`` may read, in the venue page's order, streamed from one query
    (memory stays flat whatever the number of entries). The query is built now and run when the entries are
    first asked for (a streamed response reads them after its request's own transaction has ended)."""
    query = _venue_query(user, slug, None).order_by(*VENUE_ORDER).execution_options(yield_per=EXPORT_BATCH)
    return (entry(row) for row in _rows(session, query))


def _rows(session: Session, query):
    yield from session.execute(query)


def badge_lookup(session: Session, user: User | None, namespace: str, name: str, reference: str | None):
    """The row of one version for its badge: names, digest and stored states (``VersionState``), or None when it
    is unknown or not readable. One indexed query; ``reference`` is a version, ``sha256:<digest>`` or latest."""
    query = _listing(user).where(Namespace.name == namespace, Artifact.name == name)
    if reference in (None, "", LATEST):
        query = query.where(VersionState.latest.is_(True))
    elif reference.lower().startswith(DIGEST_PREFIX):
        if not DIGEST_RE.fullmatch(reference):
            return None
        query = query.where(Version.digest == reference)
    else:
        query = query.where(Version.version == reference)
    return session.execute(query.limit(1)).first()


#: what a badge needs of a version: its id and revision (the ETag) and the states a badge is drawn from
BADGE_STATES = ("revision", "yanked", "available", "functional", "reproduced", "reproduced_state",
                "checklist_state")


def _public_badge_queries() -> dict[str, object]:
    """One Core statement per kind of reference (latest, a digest, a version) over the tables themselves, built
    once: no ORM entity, nothing to compile again per request."""
    namespaces, artifacts = Namespace.__table__, Artifact.__table__
    versions, states = Version.__table__, VersionState.__table__
    base = (select(versions.c.id, *(states.c[column] for column in BADGE_STATES))
            .select_from(versions.join(artifacts, artifacts.c.id == versions.c.artifact_id)
                         .join(namespaces, namespaces.c.id == artifacts.c.namespace_id)
                         .join(states, states.c.version_id == versions.c.id))
            .where(namespaces.c.name == bindparam("namespace"), artifacts.c.name == bindparam("name"),
                   artifacts.c.visibility.in_([str(stage) for stage in METADATA_PUBLIC_STAGES])))
    return {"latest": base.where(states.c.latest.is_(True)).limit(1),
            "digest": base.where(versions.c.digest == bindparam("reference")).limit(1),
            "version": base.where(versions.c.version == bindparam("reference")).limit(1)}


_PUBLIC_BADGE_QUERIES = _public_badge_queries()
def _read_one(engine: Engine, statement, parameters: dict):
    """The first row of ``statement``, read in autocommit on a connection of ``engine``'s pool: a single SELECT
    needs no transaction of its own (no BEGIN, no ROLLBACK)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(statement, parameters).first()


def public_badge_lookup(engine: Engine, namespace: str, name: str, reference: str | None):
    """:func:`badge_lookup` for an anonymous reader, as one indexed SELECT on its own connection (no session, no
    transaction, no ORM): the row's ``id``, ``revision`` and the states in BADGE_STATES, or None when the version is
    unknown or not public."""
    if reference in (None, "", LATEST):
        kind = "latest"
    elif reference.lower().startswith(DIGEST_PREFIX):
        if not DIGEST_RE.fullmatch(reference):
            return None
        kind = "digest"
    else:
        kind = "version"
    parameters = {"namespace": namespace, "name": name} if kind == "latest" else \
        {"namespace": namespace, "name": name, "reference": reference}
    return _read_one(engine, _PUBLIC_BADGE_QUERIES[kind], parameters)
