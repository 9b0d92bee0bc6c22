"""Organizations and spaces."""

from __future__ import annotations

from fastapi import FastAPI

from register_dr.sandbox.cf.routes import list_messages
from register_dr.sandbox.cf.routes.context import Context
from register_dr.sandbox.cf.routes.list_query import ACCEPTED


def add_routes(app: FastAPI, ctx: Context) -> None:
    ctx.add_reads(app, "/v3/organizations", "organizations", "Organization", ctx.show.organization,
                  list_messages.ORGANIZATIONS, {"names": lambda r: r["name"],
                                                # OrgsListFetcher uses it only under /v3/isolation_segments/:guid
                                                "isolation_segment_guid": ACCEPTED}, org=lambda r: r["guid"])
    ctx.add_reads(app, "/v3/spaces", "spaces", "Space", ctx.show.space, list_messages.SPACES, {
        "names": lambda r: r["name"],
        "organization_guids": lambda r: r["relationships"]["organization"]["data"]["guid"]},
        space=lambda r: r["guid"], read_space=lambda r: r["guid"],
        # IncludeSpaceOrganizationDecorator
        includes=ctx.space_includes(lambda r: r["guid"], (), ("org", "organization"))[1:])
