"""Pages of the accounts app beyond Django's own sign-in and sign-out: the password
page (with the API token's state and a button that revokes it), and accepting an
invitation to a project."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordChangeView
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.authtoken.models import Token

from webapp.accounts.forms import InvitedSignUpForm
from webapp.accounts.tokens import expires_at, is_expired, revoke_token
from webapp.projects.models import Invitation, InvitationUnusable

# The backend that signs in someone who has just chosen their password.
SIGN_IN_BACKEND = "webapp.accounts.backends.ThrottledModelBackend"


class PasswordPageView(PasswordChangeView):
    """Change your password; see whether you have an API token, until when it works,
    and revoke it."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        token = Token.objects.filter(user=self.request.user).first()
        context["api_token"] = (
            {
                "created": token.created,
                "expires_at": expires_at(token),
                "expired": is_expired(token),
            }
            if token is not None
            else None
        )
        return context


@login_required
@require_POST
def revoke_api_token(request: HttpRequest) -> HttpResponse:
    """Delete the signed-in person's API token: scripts that use it are refused at once."""
    if revoke_token(request.user):
        messages.success(request, "Your API token is revoked; scripts using it are refused.")
    else:
        messages.info(request, "You had no API token.")
    return redirect("accounts:password_change")


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
            login(request, user, backend=SIGN_IN_BACKEND)
            return _joined(request, invitation)
    return render(request, "accounts/invitation.html", {"invitation": invitation, "form": form})


def _joined(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    role = invitation.project.role_of(request.user)
    messages.success(request, f"Welcome to {invitation.project.name}. Your role: {role}.")
    return redirect("projects:detail", pk=invitation.project_id)


def _refused(request: HttpRequest, reason: str, *, status: int) -> HttpResponse:
    return render(request, "accounts/invitation_refused.html", {"reason": reason}, status=status)
