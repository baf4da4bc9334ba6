"""JSON API routes of the proposals app (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.proposals import api

IMAGE = "projects/<int:project_pk>/images/<int:image_pk>/proposals/"

urlpatterns = [
    path(IMAGE, api.ImageProposalList.as_view(), name="proposal-list"),
    path(f"{IMAGE}status/", api.ImageProposalStatus.as_view(), name="proposal-status"),
    path(f"{IMAGE}accept-all/", api.ProposalAcceptAll.as_view(), name="proposal-accept-all"),
    path(f"{IMAGE}<int:pk>/accept/", api.ProposalAccept.as_view(), name="proposal-accept"),
    path(
        "projects/<int:project_pk>/proposals/generate/",
        api.ProposalGenerate.as_view(),
        name="proposal-generate",
    ),
]
