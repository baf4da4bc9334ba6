from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """Signed-in people go straight to their projects; others see what this is and sign in."""
    if request.user.is_authenticated:
        return redirect("projects:list")
    return render(request, "core/home.html", {"model_name": settings.SAMLABEL_MODEL})


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and people: ``{"status": "ok", "model": "mobile_sam"}``."""
    return JsonResponse({"status": "ok", "model": settings.SAMLABEL_MODEL})
