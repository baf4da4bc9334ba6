"""Pages of the projects app: the list of my projects and one project's page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from webapp.images.models import Image
from webapp.projects import services
from webapp.projects.access import project_for
from webapp.projects.filters import GalleryFilter
from webapp.projects.forms import ProjectForm
from webapp.projects.models import Action, Project, Role, next_label_color, role_allows

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
    """One project: encoding progress, uploads, the gallery (filtered by the query
    string: ``name``, ``status``, ``annotated``, ``page``), members, invitations, label
    classes and, for managers and owners, the project's settings."""
    project = project_for(request.user, pk, Action.VIEW)
    role = project.role_of(request.user)
    can_manage = role_allows(role, Action.MANAGE)
    gallery_filter = GalleryFilter(request.GET)
    matching = gallery_filter.apply(project.images.all()).annotate(
        annotation_count=Count("annotations")
    )
    images = Paginator(matching.order_by("id"), IMAGES_PER_PAGE).get_page(request.GET.get("page"))
    label_classes = list(
        project.label_classes.annotate(annotation_count=Count("annotations")).order_by(
            "order", "id"
        )
    )
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
        "gallery_filter": gallery_filter,
        "filter_query": gallery_filter.query(),
        "progress": Image.objects.filter(project=project).progress(),
        "memberships": project.memberships.select_related("user").order_by("user__username"),
        "invitations": (
            project.invitations.open().select_related("invited_by") if can_manage else []
        ),
        "label_classes": label_classes,
        "new_label_color": next_label_color({c.color for c in label_classes}),
        "annotation_total": sum(c.annotation_count for c in label_classes),
        "grantable_roles": grantable_roles,
    }
    return render(request, "projects/detail.html", context)
