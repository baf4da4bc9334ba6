from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_patterns = [
    path("", include("webapp.accounts.api_urls")),
    path("", include("webapp.projects.api_urls")),
    path("", include("webapp.images.api_urls")),
    path("", include("webapp.annotations.api_urls")),
    path("", include("webapp.exports.api_urls")),
    path("", include("webapp.imports.api_urls")),
    path("", include("webapp.workflow.api_urls")),
    path("", include("webapp.reviews.api_urls")),
    path("", include("webapp.suggestions.api_urls")),
    path("", include("webapp.proposals.api_urls")),
    path("", include("webapp.crops.api_urls")),  # crop embeddings (large images)
    path("", include("webapp.qualityrules.api_urls")),  # quality rules (issue 17)
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "docs/",
        # GET only: the view renders every answer through its HTML template, which an
        # OPTIONS request's metadata breaks.
        SpectacularSwaggerView.as_view(
            url_name="schema",
            template_name="core/api_docs.html",
            http_method_names=["get", "head"],
        ),
        name="docs",
    ),
]

urlpatterns = [
    path("", include("webapp.core.urls")),
    path("accounts/", include("webapp.accounts.urls")),
    path("", include("webapp.annotator.urls")),
    path("projects/", include("webapp.projects.urls")),
    path("projects/", include("webapp.qualityrules.urls")),  # quality rules (issue 17)
    path("api/", include(api_patterns)),
    path("admin/", admin.site.urls),
]
