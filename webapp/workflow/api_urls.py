"""JSON API routes of the workflow (mounted under /api/)."""

from __future__ import annotations

from django.urls import path

from webapp.workflow import api

project = "projects/<int:project_pk>"
image = f"{project}/images/<int:image_pk>/work"

urlpatterns = [
    path(f"{project}/work/", api.WorkItemList.as_view(), name="work-list"),
    path(f"{project}/work/next/", api.NextImage.as_view(), name="work-next"),
    path(f"{project}/work/assign/", api.Assign.as_view(), name="work-assign"),
    path(f"{project}/work/active-time/", api.ActiveTimeReport.as_view(), name="work-active-time"),
    path(f"{project}/events/", api.EventList.as_view(), name="event-list"),
    path(f"{image}/", api.WorkItemDetail.as_view(), name="work-detail"),
    path(f"{image}/heartbeat/", api.WorkItemHeartbeat.as_view(), name="work-heartbeat"),
    path(f"{image}/<str:action>/", api.WorkItemMove.as_view(), name="work-move"),
]

from webapp.workflow import dashboard, gallery_api  # noqa: E402

urlpatterns += [
    path(f"{project}/gallery/", gallery_api.GalleryView.as_view(), name="work-gallery"),
    path(f"{project}/dashboard/", dashboard.DashboardView.as_view(), name="work-dashboard"),
]
