from __future__ import annotations

from django.urls import path

from webapp.qualityrules import views

app_name = "qualityrules"

urlpatterns = [
    path("<int:pk>/quality-rules/", views.quality_rules_page, name="page"),
]
