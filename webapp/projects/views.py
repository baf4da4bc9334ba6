"""Pages of the projects app: the list of my projects and one project's page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from webapp.images.models import Image
from webapp.projects import services
from webapp.projects.access import project_for
from webapp.projects.forms import ProjectForm
from webapp.projects.models import Action, Project, Role, role_allows

IMAGES_PER_PAGE = 60


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
    project = project_for(request.user, pk, Action.VIEW)
    role = project.role_of(request.user)
    can_manage = role_allows(role, Action.MANAGE)
    images = Paginator(project.images.all(), IMAGES_PER_PAGE).get_page(request.GET.get("page"))
    # Only owners may hand out the owner role, so managers are not offered it.
    grantable_roles = [
        (value, label) for value, label in Role.choices if value != Role.OWNER or role == Role.OWNER
    ]
    context = {
        "project": project,
        "role": role,
        "can_manage": can_manage,
        "can_export": role_allows(role, Action.REVIEW),
        "images": images,
        "progress": Image.objects.filter(project=project).progress(),
        "memberships": project.memberships.select_related("user").order_by("user__username"),
        "label_classes": project.label_classes.annotate(
            annotation_count=Count("annotations")
        ).order_by("order", "id"),
        "grantable_roles": grantable_roles,
    }
    return render(request, "projects/detail.html", context)
