"""Venues: their committee and their entries."""

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from reproreg import urls
from reproreg.api import current_user
from reproreg.api.listings import list_arguments, next_link
from reproreg.request_scope import current_registry, db_session
from reproreg.services import catalog, venues
from reproreg_schemas.venues import MemberSchema, VenueSchema

blp = Blueprint("venues", __name__, url_prefix="/api/v1/venues", description="Venues and their committees")


@blp.route("/<slug>")
class VenueView(MethodView):
    @blp.response(200, VenueSchema)
    @blp.doc(parameters=[{"in": "query", "name": name, "schema": {"type": kind}, "description": text}
                         for name, kind, text in (
                             ("state", "string", "only entries in this badge state"),
                             ("cursor", "string", "the next page, from the Link header (rel=next)"),
                             ("limit", "integer", f"entries per page (default {catalog.VENUE_PAGE_SIZE}, "
                                                  f"at most {catalog.MAX_PAGE_SIZE})"))])
    def get(self, slug):
        """A venue, its committee and a page of its entries' badge states, by name (newest version first);
        the next page is named by the Link header (rel=next)."""
        session = db_session()
        venue = venues.get_venue(session, slug)
        state, cursor, limit = list_arguments()
        page = catalog.venue_entries(current_registry(), session, current_user(), slug, state, cursor, limit)
        base = urls.base_url(current_registry().settings.public_url, request.host_url)
        headers = next_link(page, lambda following: base + url_for(
            "venues.VenueView", slug=slug, cursor=following, **({"state": state} if state else {}),
            **({"limit": limit} if limit else {})))
        return {"slug": venue.slug, "title": venue.title, "members": venues.members(venue),
                "entries": page.entries}, 200, headers


@blp.route("/<slug>/members")
class Members(MethodView):
    @blp.arguments(MemberSchema)
    @blp.response(201, MemberSchema)
    def post(self, body, slug):
        """Add a reviewer (or chair) to the venue's committee; chairs only."""
        member = venues.add_member(db_session(), current_user(), slug, body["user"], body["role"])
        return {"user": member.user.name, "role": member.role}
