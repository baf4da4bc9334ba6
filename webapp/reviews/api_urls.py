"""JSON API routes of review issues and annotation history (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.reviews import api

project = "projects/<int:project_pk>"
issue = f"{project}/issues/<int:pk>"

urlpatterns = [
    path(f"{project}/issues/", api.IssueList.as_view(), name="issue-list"),
    path(f"{project}/issues/counts/", api.IssueCounts.as_view(), name="issue-counts"),
    path(f"{issue}/", api.IssueDetail.as_view(), name="issue-detail"),
    path(f"{issue}/comments/", api.IssueComments.as_view(), name="issue-comments"),
    path(f"{issue}/resolve/", api.IssueResolve.as_view(), name="issue-resolve"),
    path(f"{issue}/reopen/", api.IssueReopen.as_view(), name="issue-reopen"),
    path(
        f"{project}/annotations/<int:pk>/history/",
        api.AnnotationHistory.as_view(),
        name="annotation-history",
    ),
]
