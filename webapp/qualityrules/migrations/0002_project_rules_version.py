"""Projects that had rules before the project row kept their version get it now."""

from typing import Any

from django.db import migrations


def fill(apps: Any, schema_editor: Any) -> None:
    Project = apps.get_model("projects", "Project")
    RuleSetVersion = apps.get_model("qualityrules", "RuleSetVersion")
    for project_id in RuleSetVersion.objects.values_list("project_id", flat=True).distinct():
        latest = RuleSetVersion.objects.filter(project_id=project_id).order_by("-version").first()
        Project.objects.filter(pk=project_id).update(
            quality_rules_version=latest.version if latest.rules else 0
        )


class Migration(migrations.Migration):
    dependencies = [
        ("qualityrules", "0001_initial"),
        ("projects", "0006_project_quality_rules_version"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
