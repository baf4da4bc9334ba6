"""Pages of the projects app: the list of my projects, one project's page (with its
gallery) and its dashboard for the lead."""

from __future__ import annotations

from collections import defaultdict

from django.apps import apps
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from webapp.projects import services
from webapp.projects.access import project_for
from webapp.projects.forms import ActivityFilter, ProjectForm
from webapp.projects.models import Action, Project, Role, next_label_color, role_allows
from webapp.workflow import charts
from webapp.workflow.dashboard import project_figures
from webapp.workflow.gallery import GalleryQuery, gallery_page, page_number
from webapp.workflow.models import Event, WorkState
from webapp.workflow.recount import tally_figures

# The images API's page size, so that the page and its polling see the same images.
IMAGES_PER_PAGE = int(settings.REST_FRAMEWORK["PAGE_SIZE"])


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def project_list(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = Project.create_with_owner(request.user, **form.cleaned_data)
        return redirect("projects:detail", pk=project.pk)
    projects = list(Project.objects.visible_to(request.user).with_role_of(request.user))
    progress = services.image_progress_by_project(projects)
    rows = [(project, progress[project.pk]) for project in projects]
    return render(request, "projects/list.html", {"rows": rows, "form": form})


@login_required
@require_safe
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One project: encoding progress, uploads, the gallery (filtered and sorted by the
    query string, see :class:`~webapp.workflow.gallery.GalleryQuery`, and ``page``),
    members, invitations, label classes and, for managers and owners, the project's
    settings and the controls that give images out."""
    project = project_for(request.user, pk, Action.VIEW)
    role = project.role_of(request.user)
    can_manage = role_allows(role, Action.MANAGE)
    gallery_filter = GalleryQuery(request.GET, project)
    images = gallery_page(
        project, gallery_filter, page_number(request.GET.get("page")), IMAGES_PER_PAGE
    )
    label_classes = list(project.label_classes.order_by("order", "id"))
    # From the project's annotation tallies, a few rows, rather than every annotation.
    counts: dict[int, int] = defaultdict(int)
    for class_id, _, n, _ in tally_figures(project):
        counts[class_id] += n
    for label_class in label_classes:
        label_class.annotation_count = counts[label_class.pk]
    # Only owners may hand out the owner role, so managers are not offered it.
    grantable_roles = [
        (value, label) for value, label in Role.choices if value != Role.OWNER or role == Role.OWNER
    ]
    context = {
        "project": project,
        "role": role,
        "can_manage": can_manage,
        "can_delete": role_allows(role, Action.DELETE_PROJECT),
        "can_export": role_allows(role, Action.REVIEW),
        "images": images,
        "work_states": WorkState.choices,
        "gallery_filter": gallery_filter,
        "filter_query": gallery_filter.query(),
        # Grouped by status on the images' (project, status) index alone.
        "progress": services.image_progress_by_project([project])[project.pk],
        "memberships": project.memberships.select_related("user").order_by("user__username"),
        "invitations": (
            project.invitations.open().select_related("invited_by") if can_manage else []
        ),
        "label_classes": label_classes,
        "new_label_color": next_label_color({c.color for c in label_classes}),
        "annotation_total": sum(c.annotation_count for c in label_classes),
        "grantable_roles": grantable_roles,
        # The page asks, once loaded, how class suggestions are pre-selected here.
        "suggestion_calibration_url": (
            reverse("suggestion-calibration", args=[project.pk])
            if apps.is_installed("webapp.suggestions")
            else None
        ),
    }
    return render(request, "projects/detail.html", context)


FEED_PAGE_SIZE = 25


@login_required
@require_safe
def project_dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    """The lead's view of a project (any member may look): images per workflow state,
    per member and per label class figures, submissions per day, and the activity feed
    (filtered by ``actor`` and ``kind``, paged by ``page``)."""
    project = project_for(request.user, pk, Action.VIEW)
    figures = project_figures(project)
    states = figures["images"]["by_state"]
    state_chart = charts.horizontal_bars(
        "Images per workflow state",
        [(WorkState(state).label, count, state) for state, count in states.items()],
    )
    day_chart = charts.vertical_bars(
        "Submissions per day",
        [
            (day[5:], count)
            for day, count in zip(figures["days"], figures["throughput"], strict=True)
        ],
    )
    for member in figures["members"]:
        member["active_text"] = charts.duration_text(member["active_seconds"])
        member["spark"] = charts.sparkline(member["per_day"])
    activity = ActivityFilter(request.GET, project=project)
    events = activity.apply(Event.objects.filter(project=project).select_related("actor"))
    feed = Paginator(events, FEED_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "project": project,
        "role": project.role_of(request.user),
        "figures": figures,
        "state_chart": state_chart,
        "day_chart": day_chart,
        "activity": activity,
        "activity_query": activity.query(),
        "feed": feed,
    }
    return render(request, "projects/dashboard.html", context)
