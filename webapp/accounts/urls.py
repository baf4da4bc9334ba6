"""Pages of the accounts app: signing in and out, changing one's password and revoking
one's API token, accepting an invitation."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from webapp.accounts import views
from webapp.accounts.forms import SignInForm

app_name = "accounts"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            authentication_form=SignInForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    # Django's LogoutView accepts only POST, so a link or a prefetch cannot sign anyone out.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordPageView.as_view(), name="password_change"),
    path("token/revoke/", views.revoke_api_token, name="revoke_token"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("invitations/<str:token>/", views.accept_invitation, name="invitation"),
]
