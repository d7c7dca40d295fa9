"""Signing keys, verification reports and badge states."""

from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api import current_user
from registry.context import current_registry, db_session
from registry.errors import RegistryError
from registry.models import SigningKey
from registry.services import verifications
from registry.services.access import readable_artifact
from registry.services.badges import badge_states
from registry.services.versions import resolve_version
from schemas.verification import BadgeStatesSchema, SigningKeySchema, SubmissionSchema, VerificationSchema

blp = Blueprint("verifications", __name__, url_prefix="/api/v1", description="Verifications, keys and badges")


@blp.route("/keys")
class Keys(MethodView):
    @blp.arguments(SigningKeySchema)
    @blp.response(201, SigningKeySchema)
    def post(self, body):
        """Register the public half of an Ed25519 signing key."""
        return verifications.register_key(db_session(), current_user(), body["public_key"], body["name"])

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
        """Record a signed verification report of this version."""
        row = verifications.submit(db_session(), current_user(), f"{namespace}/{name}", reference, body)
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
