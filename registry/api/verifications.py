"""Signing keys, verification reports and badge states."""

from datetime import timedelta

from flask.views import MethodView
from flask_smorest import Blueprint

from reproreg.api import current_user
from reproreg.errors import RegistryError
from reproreg.models import SigningKey
from reproreg.request_scope import current_registry, db_session
from reproreg.services import verifications
from reproreg.services.access import readable_artifact
from reproreg.services.badges import badge_states
from reproreg.services.versions import resolve_version
from reproreg_schemas.verification import (
    BadgeStatesSchema,
    KeyChallengeSchema,
    SigningKeySchema,
    SubmissionSchema,
    VerificationSchema,
)

blp = Blueprint("verifications", __name__, url_prefix="/api/v1", description="Verifications, keys and badges")


@blp.route("/keys/challenge")
class KeyChallenges(MethodView):
    @blp.response(201, KeyChallengeSchema)
    def post(self):
        """A single-use challenge, valid for 5 minutes, to sign with the key you are about to register."""
        return verifications.issue_challenge(db_session(), current_user())


@blp.route("/keys")
class Keys(MethodView):
    @blp.arguments(SigningKeySchema)
    @blp.response(201, SigningKeySchema)
    def post(self, body):
        """Register the public half of an Ed25519 signing key, proving you hold it: sign a challenge from
        POST /keys/challenge (the bytes of ``KEY_CHALLENGE_CONTEXT`` followed by the challenge). A public key
        belongs to one account."""
        return verifications.register_key(db_session(), current_user(), body["public_key"], body["name"],
                                          body["challenge"], body["signature"])

    @blp.response(200, SigningKeySchema(many=True))
    def get(self):
        """The caller's signing keys."""
        user = current_user()
        if user is None:
            raise RegistryError("UNAUTHORIZED", "listing keys needs a token")
        return db_session().query(SigningKey).filter(SigningKey.user_id == user.id).all()


def _version(namespace, name, reference):
    session = db_session()
    return resolve_version(session, readable_artifact(session, current_user(), f"{namespace}/{name}"), reference)


@blp.route("/artifacts/<namespace>/<name>/versions/<reference>/verifications")
class Verifications(MethodView):
    @blp.arguments(SubmissionSchema)
    @blp.response(201, VerificationSchema)
    def post(self, body, namespace, name, reference):
        """Record a signed verification report of this version: it must name you as its verifier, be signed
        with your key within the freshness window, and never have been recorded before (signature and nonce)."""
        max_age = timedelta(seconds=current_registry().settings.report_max_age_s)
        row = verifications.submit(db_session(), current_user(), f"{namespace}/{name}", reference, body, max_age)
        return verifications.verification_document(row)

    @blp.response(200, VerificationSchema(many=True))
    def get(self, namespace, name, reference):
        """Every verification of this version, oldest first, with its signature status."""
        version = _version(namespace, name, reference)
        return [verifications.verification_document(v) for v in verifications.verifications_of(db_session(), version)]


@blp.route("/artifacts/<namespace>/<name>/versions/<reference>/badges")
class Badges(MethodView):
    @blp.response(200, BadgeStatesSchema)
    def get(self, namespace, name, reference):
        """The version's badge states (available, functional, reproduced, checklist)."""
        return badge_states(current_registry(), db_session(), _version(namespace, name, reference))
