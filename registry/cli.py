"""``registry``: serve, migrate, and administer users and tokens."""

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from reproreg import urls
from reproreg.config import ConfigError, Settings
from reproreg.errors import RegistryError
from reproreg.jobs import EmbeddedExecutor
from reproreg.unit_of_work import unit_of_work

#: the entry point group where the reference worker (a package of its own, never imported here) offers itself
WORKER_ENTRY_POINTS = "reproreg.worker"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as err:
        raise click.ClickException(str(err)) from None


@contextmanager
def _sessions(settings: Settings | None = None) -> Iterator:
    """The database's session factory for one command (its engine is closed after it): a command opens its one
    transaction with ``unit_of_work``."""
    from reproreg.db import make_engine, make_session_factory

    engine = make_engine((settings or _settings()).database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _worker(kind: str):
    """The reference worker's ``kind`` ("embedded" or "celery"), through its entry point."""
    from importlib.metadata import entry_points

    found = entry_points(group=WORKER_ENTRY_POINTS, name=kind)
    try:
        return next(iter(found)).load()
    except (StopIteration, ImportError) as err:
        detail = f" ({err})" if isinstance(err, ImportError) else ""
        raise click.ClickException(
            f"the reference worker is not installed (no '{kind}' entry point in {WORKER_ENTRY_POINTS}){detail}: "
            "install the reproducibility-registry package with its worker, or run with REGISTRY_JOBS=celery and "
            "workers elsewhere") from None


@click.group()
def main():
    """The Reproducibility Registry server. Configured by REGISTRY_* environment variables."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Create a demo user, print its token, and publish and verify an example.")
def serve(host: str, port: int, demo: bool):
    """Serve the registry (development server; use gunicorn in production).

    With REGISTRY_JOBS=inprocess (the default) verification jobs run in a thread of this process."""
    from werkzeug.serving import run_simple

    from reproreg.app import ApiErrorRequestHandler, create_app
    from reproreg_migrations import pending

    settings = _settings()
    if pending(settings.database_url):
        raise click.ClickException("the database schema is not up to date: run 'registry db upgrade' first")
    url = f"http://{host}:{port}"
    dispatcher = _embedded_executor(settings, url) if settings.jobs_backend == "inprocess" else None
    demo_token = _demo_user(settings, "demo", url) if demo else None
    app = create_app(settings, dispatcher=dispatcher)
    click.echo(f"Registry serving at {url}/ (database {_safe_url(app)}, jobs {settings.jobs_backend})", err=True)
    threading.Thread(target=_when_up, args=(host, port, dispatcher, url, demo_token), daemon=True).start()
    ReleaseTicker(app.extensions["registry"].sessions).start()
    run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=ApiErrorRequestHandler)


def _embedded_executor(settings: Settings, url: str) -> EmbeddedExecutor:
    """The reference worker's embedded executor, acting as the worker account 'reference' with a token made for
    this run; it keeps its key and cache in the ``worker`` folder beside the blobs."""
    from sqlalchemy import select

    from reproreg.models import User
    from reproreg.services.auth import create_token, create_user, revoke_tokens_described

    create_executor = _worker("embedded")
    with _sessions(settings) as sessions, unit_of_work(sessions) as session:
        user = session.scalar(select(User).where(User.name == "reference"))
        if user is None:
            user = _run(lambda: create_user(session, "reference", is_worker=True))
        revoke_tokens_described(session, user, "in-process executor")
        _, secret = create_token(session, user, "in-process executor", scopes=["verify"])  # least privilege
    return create_executor(url=url, token=secret, home=settings.blob_dir.parent / "worker")


def _when_up(host: str, port: int, dispatcher, url: str, demo_token: str | None) -> None:
    import socket
    import time

    for _ in range(600):
        try:
            socket.create_connection((host, port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    if dispatcher is not None:
        dispatcher.start()
    if demo_token:
        from reproreg.demo import seed

        seed(url, demo_token, lambda message: click.echo(message, err=True))


def _safe_url(app) -> str:
    from sqlalchemy.engine import make_url

    return make_url(app.extensions["registry"].settings.database_url).render_as_string(hide_password=True)


@main.group()
def db():
    """The database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str):
    """Apply the migrations up to REVISION."""
    from reproreg_migrations import upgrade

    upgrade(_settings().database_url, revision)
    click.echo(f"database at {revision}", err=True)


@main.group()
def users():
    """Users (each owns the namespace of the same name)."""


@users.command("create")
@click.argument("name")
@click.option("--worker", is_flag=True, help="A reference worker: its verifications count as the registry's own.")
def users_create(name: str, worker: bool):
    from reproreg.services.auth import create_user

    with _sessions() as sessions, unit_of_work(sessions) as session:
        _run(lambda: create_user(session, name, is_worker=worker))
    click.echo(f"created {'reference worker' if worker else 'user'} {name} and namespace {name}/", err=True)


@main.group()
def uploads():
    """Uploads in progress."""


@uploads.command("prune")
@click.option("--older-than", "older_than_s", type=int, default=None,
              help="Seconds (default: REGISTRY_UPLOAD_TTL_S, one day).")
def uploads_prune(older_than_s: int | None):
    """Discard unfinished uploads, and their bytes, started longer ago than the limit (run it from cron)."""
    from reproreg.app import create_app
    from reproreg.services.uploads import prune_abandoned

    settings = _settings()
    app = create_app(settings)
    ctx = app.extensions["registry"]
    try:
        with unit_of_work(ctx.sessions) as session:
            count = prune_abandoned(ctx, session, older_than_s or settings.upload_session_ttl_s)
    finally:
        ctx.engine.dispose()
    click.echo(f"discarded {count} abandoned upload(s)", err=True)


@main.group()
def storage():
    """Blob storage."""


@storage.command("fsck")
@click.option("--dry-run", is_flag=True, help="Report damaged blobs but leave them in place.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout.")
@click.option("--sample", type=click.IntRange(min=1), default=None,
              help="Re-hash only this many blobs, drawn at random (a routine check of a large store).")
def storage_fsck(dry_run: bool, as_json: bool, sample: int | None):
    """Re-hash every stored blob; move each damaged one to the quarantine folder next to the blobs (kept for
    inspection, never served). A quarantined blob counts as missing: the next push of its bytes stores it again
    and its versions are served again.

    Prints a one-line summary, then one line per damaged, missing or still quarantined blob.

    \b
    Exit codes:
      0  every stored blob is sound
      3  damage found: blobs damaged (quarantined unless --dry-run), missing, or awaiting a new upload
      1  the check could not run (configuration, database); 2 usage error
    """
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from reproreg.app import create_app
    from reproreg.services.integrity import fsck

    app = create_app(_settings())
    ctx = app.extensions["registry"]
    try:
        with unit_of_work(ctx.sessions) as session:
            report = fsck(ctx, session, quarantine=not dry_run, sample=sample)
    except SQLAlchemyError as err:
        detail = getattr(err, "orig", None) or err
        raise click.ClickException(f"the database could not be read: {detail}") from None
    finally:
        ctx.engine.dispose()
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(report.summary())
        for entry in report.damaged:
            where = f"quarantined at {entry['quarantined_at']}" if entry["quarantined_at"] else "left in place"
            click.echo(f"damaged  {entry['digest']}  {entry['size']} bytes hash to {entry['actual']}; {where}")
        for digest in report.missing:
            click.echo(f"missing  {digest}")
        for digest in report.awaiting_upload:
            click.echo(f"awaiting upload  {digest}  (quarantined earlier)")
    sys.exit(0 if report.sound else 3)


def _duration_s(text: str) -> float:
    """'24h', '30m', '90s', '2d' or a number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    raw = text.strip().lower()
    try:
        return float(raw[:-1]) * units[raw[-1]] if raw and raw[-1] in units else float(raw)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration such as 24h, 30m or 3600") from None


@storage.command("gc")
@click.option("--grace", default="24h", show_default=True,
              help="Keep blobs uploaded, and uploads begun, within this long (e.g. 24h, 30m, 0s).")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout.")
def storage_gc(grace: str, dry_run: bool, as_json: bool):
    """Delete blobs no version references and uploads abandoned longer ago than the grace period, while the
    registry serves (mark and sweep; a blob a concurrent push is about to reference is never deleted)."""
    import json

    from sqlalchemy.exc import IntegrityError, OperationalError

    from reproreg.app import create_app
    from reproreg.services import gc

    grace_s = _duration_s(grace)
    app = create_app(_settings())
    ctx = app.extensions["registry"]
    report = gc.GcReport(dry_run=dry_run)
    try:
        with unit_of_work(ctx.sessions) as session:
            marked = gc.candidates(session, grace_s)
        for digest, size in marked:
            if dry_run:
                report.blobs.append(digest)
                report.bytes += size
                continue
            try:
                with unit_of_work(ctx.sessions) as session:
                    forgotten = gc.forget(session, digest, grace_s)
            except (IntegrityError, OperationalError):  # a publish referenced it meanwhile: it stays
                forgotten = False
            if not forgotten:
                continue
            place = ctx.blobs.set_aside(digest)
            if place is None:
                report.blobs.append(digest)
                continue
            with unit_of_work(ctx.sessions) as session:
                dropped = gc.settle(ctx, session, digest, place)
            if dropped:
                report.blobs.append(digest)
                report.bytes += size
            else:
                report.kept_by_a_concurrent_upload.append(digest)
        if not dry_run:
            with unit_of_work(ctx.sessions) as session:
                report.uploads = gc.prune_uploads(ctx, session, grace_s)
    finally:
        ctx.engine.dispose()
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.summary())


@main.group()
def venues():
    """Venues (conferences) and their artifact-evaluation committees."""


@venues.command("create")
@click.argument("slug")
@click.option("--title", required=True, help="e.g. 'NeurIPS 2026'")
@click.option("--chair", required=True, help="The user who chairs its artifact evaluation.")
def venues_create(slug: str, title: str, chair: str):
    from reproreg.services.venues import create_venue

    with _sessions() as sessions, unit_of_work(sessions) as session:
        _run(lambda: create_venue(session, slug, title, chair))
    click.echo(f"created venue {slug} chaired by {chair}", err=True)


class ReleaseTicker:
    """Advances staged release plans in the background of ``registry serve``: every ``interval_s`` it takes the
    plan steps due at ``clock()`` in one transaction. With gunicorn, run ``registry release tick`` from cron or
    Celery beat instead (taking a step twice is a no-op, so several tickers are safe)."""

    def __init__(self, sessions, interval_s: float = 60.0, clock=None):
        from reproreg.models.base import utcnow

        self.sessions, self.interval_s, self.clock = sessions, interval_s, clock or utcnow
        self.stopped = threading.Event()

    def tick(self) -> list[dict]:
        from reproreg.services.release import advance_due

        with unit_of_work(self.sessions) as session:
            return advance_due(session, self.clock())

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            try:
                self.tick()
            except Exception as err:  # a failed tick is retried at the next one; the server keeps serving
                click.echo(f"release plans: this tick failed ({type(err).__name__}: {err}); retrying later",
                           err=True)

    def start(self) -> None:
        threading.Thread(target=self.run, name="release-ticker", daemon=True).start()


@main.group()
def release():
    """Staged releases (see reproreg.services.release)."""


@release.command("tick")
@click.option("--json", "as_json", is_flag=True, help="Print what happened as JSON.")
def release_tick(as_json: bool):
    """Take every release plan step that is due (run it from cron or Celery beat when not using 'serve')."""
    import json

    with _sessions() as sessions:
        happened = ReleaseTicker(sessions).tick()
    if as_json:
        click.echo(json.dumps(happened))
    for item in happened:
        held = f" held: missing {', '.join(item['missing'])}" if item.get("missing") else ""
        click.echo(f"{item['name']}: {item['stage']}{held}", err=True)


@main.group()
def states():
    """Badge states kept per version (derived data, see reproreg.services.badge_states)."""


@states.command("refresh")
@click.option("--all", "everything", is_flag=True, help="Recompute every version, not only those without states.")
def states_refresh(everything: bool):
    """Fill in (or recompute) the stored badge states: run once after upgrading a registry whose versions were
    published before states were stored (migration 0011), and after repairing storage by hand."""
    from reproreg.services.badge_states import refresh_all

    with _sessions() as sessions, unit_of_work(sessions) as session:
        count = refresh_all(session, missing_only=not everything)
    click.echo(f"refreshed the badge states of {count} artifact(s)", err=True)


@main.command()
@click.option("--artifacts", default=10_000, show_default=True, help="How many artifacts.")
@click.option("--versions", "versions_per_artifact", default=10, show_default=True, help="Versions per artifact.")
@click.option("--venue", default="seed-venue", show_default=True, help="The venue the seeded entries name.")
@click.option("--venue-entries", default=10_000, show_default=True, help="How many versions name the venue.")
@click.option("--prefix", default="seed", show_default=True, help="Namespaces and users are PREFIX-...")
@click.option("--into-non-empty", is_flag=True, help="Seed a database that already holds users (refused without).")
def seed(artifacts: int, versions_per_artifact: int, venue: str, venue_entries: int, prefix: str,
         into_non_empty: bool):
    """Fill the database with many artifacts and versions by bulk inserts, to measure and check the listings at
    scale (see reproreg.seeding). Never on a registry people use: a database that holds users is refused."""
    from sqlalchemy import func, select

    from reproreg.models import User
    from reproreg.seeding import seed as seed_rows

    with _sessions() as sessions, unit_of_work(sessions) as session:
        if not into_non_empty and session.scalar(select(func.count()).select_from(User)):
            raise click.ClickException("the database already holds users: seed a throw-away database "
                                       "(or pass --into-non-empty)")
        made = _run(lambda: seed_rows(session, artifacts, versions_per_artifact, venue, venue_entries, prefix))
    click.echo(f"seeded {made.versions} versions of {made.artifacts} artifacts; venue {made.venue} has "
               f"{made.venue_entries} entries", err=True)


@main.group()
def tokens():
    """API tokens (shown once, stored hashed)."""


@tokens.command("create")
@click.argument("user")
@click.option("--description", default=None, help="What the token is for.")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help="What the token may do (repeat for several): read, push:NAMESPACE (push:* for every namespace "
                   "of the user), verify (reports, keys, jobs, a worker's leases) or admin. Default: admin (full "
                   "power, as tokens made before scopes).")
@click.option("--expires", default=None, metavar="DURATION",
              help="Refuse the token after this long: e.g. 90m, 12h, 30d, 2w. Default: never (until revoked).")
def tokens_create(user: str, description: str | None, scopes: tuple[str, ...], expires: str | None):
    """Create a token for USER; the token is the only line printed on stdout."""
    from reproreg.services.auth import create_token, get_user, parse_expiry

    with _sessions() as sessions, unit_of_work(sessions) as session:
        token, secret = _run(lambda: create_token(session, get_user(session, user), description, list(scopes),
                                                  parse_expiry(expires)))
    click.echo(secret)  # only once it is stored
    until = f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else ""
    click.echo(f"token id {token.id} for {user} (scope {token.scopes}{until}); it is shown only now", err=True)


@tokens.command("list")
@click.argument("user")
def tokens_list(user: str):
    from reproreg.services.auth import get_user, list_tokens

    with _sessions() as sessions, unit_of_work(sessions) as session:
        for token in _run(lambda: list_tokens(session, get_user(session, user))):
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            if token.expires_at and not token.revoked_at:
                state += f" until {token.expires_at:%Y-%m-%d %H:%M}"
            click.echo(f"{token.id}\t{token.display_prefix}…\t{state}\t{token.scopes}\t{token.description or ''}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int):
    """Revoke a token by its id (see 'registry tokens list USER')."""
    from reproreg.services.auth import revoke_token

    with _sessions() as sessions, unit_of_work(sessions) as session:
        _run(lambda: revoke_token(session, token_id))
    click.echo(f"token {token_id} revoked", err=True)


@main.group()
def audit():
    """The audit log: one hash chain of every change of state."""


@audit.command("verify")
@click.option("--head", "heads", multiple=True, metavar="SEQ:HASH",
              help="A head printed by an earlier run, kept elsewhere: check that the entry is still there unchanged "
                   "(the chain alone cannot show entries cut off its end).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout.")
def audit_verify(heads: tuple[str, ...], as_json: bool):
    """Recompute the audit log's hash chain from its first entry and report the first break.

    Prints the number of entries and the head (SEQ:HASH; keep it elsewhere to check later with --head).

    \b
    Exit codes:
      0  the chain is intact (and every --head is in it)
      3  the chain is broken (an entry altered, deleted or reordered), or a --head is not in it
      1  the check could not run (configuration, database); 2 usage error
    """
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from reproreg.services.audit import contains_head, verify_chain

    expected = []
    for head in heads:
        seq, _, digest = head.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter(f"{head!r} is not SEQ:HASH (as printed by 'registry audit verify')",
                                     param_hint="--head")
        expected.append((int(seq), digest.lower()))
    try:
        with _sessions() as sessions, unit_of_work(sessions) as session:
            report = verify_chain(session)
            lost = [f"{seq}:{digest}" for seq, digest in expected if not contains_head(session, seq, digest)]
    except SQLAlchemyError as err:
        detail = getattr(err, "orig", None) or err
        raise click.ClickException(f"the database could not be read: {detail}") from None
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "missing_heads": lost}, indent=2))
    elif report.intact:
        click.echo(f"intact: {report.entries} entries, head {report.head_seq}:{report.head_hash}")
    else:
        found = report.break_at
        click.echo(f"broken at entry {found['seq']} (row id {found['id']}, {found['action']} {found['subject']}): "
                   f"{found['problem']}; the {report.entries - 1} entries before it are intact")
    for head in lost:
        click.echo(f"missing head {head}: the entry is gone or changed (the log was cut short or rewritten)")
    sys.exit(0 if report.intact and not lost else 3)


@main.command()
@click.option("--user", "name", default="demo", show_default=True)
@click.option("--url", default="http://127.0.0.1:8080", show_default=True)
def demo(name: str, url: str):
    """Create a demo user (if absent) and show how to try regctl. Its token is kept in the var folder (next to the
    blobs, readable by you only) and reused while it is valid, as 'registry serve --demo' does."""
    _demo_user(_settings(), name, url)


#: where the demo user's token is kept between runs, beside the blob folder (./var by default)
DEMO_TOKEN_FILE = "demo-token"
DEMO_TOKEN_DESCRIPTION = "demo"


def demo_token_path(settings: Settings) -> Path:
    return settings.blob_dir.parent / DEMO_TOKEN_FILE


def _demo_user(settings: Settings, name: str, url: str) -> str:
    """The demo user's token: the one kept from an earlier run when it still belongs to ``name`` and is not
    revoked, else a new one (then kept, readable by the owner only). Prints how to try regctl with it."""
    from sqlalchemy import select

    from reproreg.models import User
    from reproreg.services.auth import create_token, create_user

    path = demo_token_path(settings)
    with _sessions(settings) as sessions, unit_of_work(sessions) as session:
        user = session.scalar(select(User).where(User.name == name)) or _run(lambda: create_user(session, name))
        secret = _kept_token(session, path, user)
        if secret is None:
            _, secret = create_token(session, user, DEMO_TOKEN_DESCRIPTION)
            fresh = True
        else:
            fresh = False
    if fresh:  # kept only once its transaction committed
        _keep_token(path, secret)
    click.echo(f"""
Demo user '{name}' with {'a new token' if fresh else 'the token kept from the last run'} (kept in {path}):

    export REGCTL_URL={url}
    export REGCTL_TOKEN={secret}

Try it (evaluations run in your active environment, so activate the virtualenv first):

    . .venv/bin/activate
    regctl show {name}/digits-logreg                    # published and verified by a reference job
    regctl push examples/iris-overclaimed
    regctl verify {name}/iris-overclaimed               # runs the evaluation here: one claim fails, exit 1
    regctl verify {name}/iris-overclaimed --remote      # the same, by the registry's reference worker
    regctl pull {name}/digits-logreg -o /tmp/digits

Pages: {url}/    API: {urls.api_url(url, '/docs')}
""", err=True)
    return secret


def _kept_token(session, path: Path, user) -> str | None:
    """The token kept in ``path`` if it is still a valid token of ``user``."""
    from reproreg.services.auth import authenticate

    try:
        secret = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    try:
        token = authenticate(session, f"Bearer {secret}") if secret else None
    except RegistryError:  # malformed, unknown (another database) or revoked
        return None
    if token is None or token.user_id != user.id:
        return None
    path.chmod(0o600)  # kept for its owner only, even if the file was made otherwise
    return secret


def _keep_token(path: Path, secret: str) -> None:
    """Write the token readable by its owner only (through a temp file and a rename)."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    os.replace(temp, path)


@main.command()
@click.option("--url", envvar="REGISTRY_URL", required=True, help="The registry's address (REGISTRY_URL).")
@click.option("--token", envvar="REGISTRY_WORKER_TOKEN", required=True,
              help="A token of a user made with 'registry users create NAME --worker' (REGISTRY_WORKER_TOKEN).")
@click.option("--gpu", default=None, is_flag=False, flag_value="auto", metavar="[NAME]",
              help="Take GPU jobs too, on the GPUs nvidia-smi finds (their model and memory are registered with "
                   "the registry); NAME, e.g. H100-80GB, only renames them.")
@click.option("--name", default=None, help="The worker's name (default: the host name).")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              default=lambda: str(Path.home() / ".local" / "share" / "registry-worker"),
              help="Where the worker keeps its signing key and cache.")
@click.option("--concurrency", default=1, show_default=True, type=int)
@click.option("--poll-interval", default=30.0, show_default=True, type=float,
              help="Seconds between looks for jobs whose message was lost or whose worker died.")
@click.option("--heartbeat", default=10.0, show_default=True, type=float, help="Seconds between lease renewals.")
def worker(url, token, gpu, name, home, concurrency, poll_interval, heartbeat):
    """A reference worker: a Celery worker (REGISTRY_BROKER_URL) that runs verification jobs. It registers its
    hardware with the registry and consumes the queues it can serve (verify.cpu; with --gpu also verify.gpu and
    verify.gpu.<class>gb for each GPU memory class its GPUs meet)."""
    settings = _settings()
    if not settings.broker_url:
        raise click.ClickException("set REGISTRY_BROKER_URL, e.g. redis://127.0.0.1:6379/0")
    start_worker = _worker("celery")
    try:
        start_worker(url=url, token=token, broker_url=settings.broker_url, prefix=settings.queue_prefix, gpu=gpu,
                     name=name, home=home, concurrency=concurrency, poll_interval_s=poll_interval,
                     heartbeat_s=heartbeat)
    except ValueError as err:  # the worker cannot start: no GPU found for --gpu, no broker
        raise click.ClickException(str(err)) from None


def _run(action):
    try:
        return action()
    except RegistryError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(4)
