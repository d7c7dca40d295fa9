from flask.views import MethodView
from flask_smorest import Blueprint

from reproreg.api import current_user
from reproreg.errors import RegistryError
from reproreg.models import Namespace
from reproreg.request_scope import db_session
from reproreg_schemas.api import WhoAmISchema

blp = Blueprint("users", __name__, url_prefix="/api/v1", description="Who is calling")


@blp.route("/whoami")
class WhoAmI(MethodView):
    @blp.response(200, WhoAmISchema)
    def get(self):
        """The user behind the bearer token."""
        user = current_user()
        if user is None:
            raise RegistryError("UNAUTHORIZED", "no token was sent; run 'regctl login' or set REGCTL_TOKEN")
        namespaces = db_session().query(Namespace.name).filter(Namespace.owner_id == user.id).all()
        return {"name": user.name, "namespaces": [name for (name,) in namespaces]}
