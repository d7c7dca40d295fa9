"""``registry``: serve, migrate, and administer users and tokens."""

import sys

import click

from registry.config import ConfigError, Settings
from registry.errors import RegistryError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as err:
        raise click.ClickException(str(err)) from None


def _session():
    from registry.db import make_engine, make_session_factory

    return make_session_factory(make_engine(_settings().database_url))()


@click.group()
def main():
    """The Reproducibility Registry server. Configured by REGISTRY_* environment variables."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def serve(host: str, port: int):
    """Serve the registry (development server; use gunicorn in production)."""
    from werkzeug.serving import run_simple

    from migrations import pending
    from registry.app import create_app

    settings = _settings()
    if pending(settings.database_url):
        raise click.ClickException("the database schema is not up to date: run 'registry db upgrade' first")
    app = create_app(settings)
    click.echo(f"Registry serving at http://{host}:{port}/ (database {_safe_url(app)})", err=True)
    run_simple(host, port, app, threaded=True, use_reloader=False)


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
    from migrations import upgrade

    upgrade(_settings().database_url, revision)
    click.echo(f"database at {revision}", err=True)


@main.group()
def users():
    """Users (each owns the namespace of the same name)."""


@users.command("create")
@click.argument("name")
def users_create(name: str):
    from registry.services.auth import create_user

    with _session() as session:
        _run(lambda: create_user(session, name))
    click.echo(f"created user {name} and namespace {name}/", err=True)


@main.group()
def tokens():
    """API tokens (shown once, stored hashed)."""


@tokens.command("create")
@click.argument("user")
@click.option("--description", default=None, help="What the token is for.")
def tokens_create(user: str, description: str | None):
    """Create a token for USER; the token is the only line printed on stdout."""
    from registry.services.auth import create_token, get_user

    with _session() as session:
        token, secret = _run(lambda: create_token(session, get_user(session, user), description))
        click.echo(secret)
        click.echo(f"token id {token.id} for {user}; it is shown only now", err=True)


@tokens.command("list")
@click.argument("user")
def tokens_list(user: str):
    from registry.services.auth import get_user, list_tokens

    with _session() as session:
        for token in _run(lambda: list_tokens(session, get_user(session, user))):
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            click.echo(f"{token.id}\t{token.display_prefix}…\t{state}\t{token.description or ''}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int):
    """Revoke a token by its id (see 'registry tokens list USER')."""
    from registry.services.auth import revoke_token

    with _session() as session:
        _run(lambda: revoke_token(session, token_id))
    click.echo(f"token {token_id} revoked", err=True)


@main.command()
@click.option("--user", "name", default="demo", show_default=True)
@click.option("--url", default="http://127.0.0.1:8080", show_default=True)
def demo(name: str, url: str):
    """Create a demo user (if absent) with a fresh token, and show how to try regctl."""
    from sqlalchemy import select

    from registry.models import User
    from registry.services.auth import create_token, create_user

    with _session() as session:
        user = session.scalar(select(User).where(User.name == name)) or _run(lambda: create_user(session, name))
        _, secret = create_token(session, user, "demo")
    click.echo(f"""
Demo user '{name}' with a new token:

    export REGCTL_URL={url}
    export REGCTL_TOKEN={secret}

Try it:

    .venv/bin/regctl push examples/hello        # a complete example artifact ({name}/hello)
    .venv/bin/regctl show {name}/hello
    .venv/bin/regctl pull {name}/hello -o /tmp/hello
""")


def _run(action):
    try:
        return action()
    except RegistryError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(4)
