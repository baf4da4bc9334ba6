"""Pages of the accounts app beyond Django's own sign-in, sign-out and password change:
accepting an invitation to a project."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from webapp.accounts.forms import InvitedSignUpForm
from webapp.projects.models import Invitation, InvitationUnusable


@require_http_methods(["GET", "HEAD", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The page an invitation link opens.

    Someone signed in joins with one button; anyone else chooses a username and a
    password, which creates their account with the invited address, signs them in and
    opens the project. A link that is unknown (404), used or expired (410) says so.
    """
    invitation = Invitation.objects.with_token(token)
    if invitation is None:
        return _refused(request, "This invitation link is not valid.", status=404)
    if not invitation.is_open:
        return _refused(request, invitation.refusal(), status=410)

    form = None
    if request.user.is_authenticated:
        if request.method == "POST":
            try:
                invitation.accept(request.user)
            except InvitationUnusable as refusal:
                return _refused(request, str(refusal), status=410)
            return _joined(request, invitation)
    else:
        form = InvitedSignUpForm(request.POST or None, email=invitation.email)
        if request.method == "POST" and form.is_valid():
            try:
                with transaction.atomic():
                    user = form.save()
                    invitation.accept(user)
            except InvitationUnusable as refusal:
                return _refused(request, str(refusal), status=410)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return _joined(request, invitation)
    return render(request, "accounts/invitation.html", {"invitation": invitation, "form": form})


def _joined(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    role = invitation.project.role_of(request.user)
    messages.success(request, f"Welcome to {invitation.project.name}. Your role: {role}.")
    return redirect("projects:detail", pk=invitation.project_id)


def _refused(request: HttpRequest, reason: str, *, status: int) -> HttpResponse:
    return render(request, "accounts/invitation_refused.html", {"reason": reason}, status=status)
