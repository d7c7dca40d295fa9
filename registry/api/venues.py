"""Venues: their committee and their entries."""

from flask.views import MethodView
from flask_smorest import Blueprint

from reproreg.api import current_user
from reproreg.request_scope import current_registry, db_session
from reproreg.services import catalog, venues
from reproreg_schemas.venues import MemberSchema, VenueSchema

blp = Blueprint("venues", __name__, url_prefix="/api/v1/venues", description="Venues and their committees")


@blp.route("/<slug>")
class VenueView(MethodView):
    @blp.response(200, VenueSchema)
    def get(self, slug):
        """A venue, its committee and the badge states of its entries."""
        session = db_session()
        venue = venues.get_venue(session, slug)
        entries = catalog.venue_entries(current_registry(), session, current_user(), slug)
        return {"slug": venue.slug, "title": venue.title, "members": venues.members(venue), "entries": entries}


@blp.route("/<slug>/members")
class Members(MethodView):
    @blp.arguments(MemberSchema)
    @blp.response(201, MemberSchema)
    def post(self, body, slug):
        """Add a reviewer (or chair) to the venue's committee; chairs only."""
        member = venues.add_member(db_session(), current_user(), slug, body["user"], body["role"])
        return {"user": member.user.name, "role": member.role}
