from __future__ import annotations

from django.contrib import admin

from webapp.projects.models import LabelClass, Membership, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "model", "created_by", "created_at"]
    list_filter = ["model"]
    search_fields = ["name", "description"]
    readonly_fields = ["created_by", "created_at"]
    inlines = [MembershipInline, LabelClassInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "project__name"]
    list_select_related = ["user", "project"]
    autocomplete_fields = ["user", "project"]


@admin.register(LabelClass)
class LabelClassAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "color", "shortcut", "order"]
    search_fields = ["name", "project__name"]
    list_select_related = ["project"]
    autocomplete_fields = ["project"]
