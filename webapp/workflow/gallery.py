"""The project gallery's query: filters, sort orders and pages, shared by the project
page and the gallery API so that both list exactly the same images.

Each page is three queries whatever its size: one ``COUNT`` of the matching images, one
of the page's ids in the sort order, and one ``SELECT`` of those rows with their workflow
state, the usernames of their assignee and annotator, and their annotation count (kept on
the work item, see :mod:`webapp.workflow.tallies`, so that sorting by it uses the work
items' (project, -annotation count, image) index). Rows come back as plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.apps import apps
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from webapp.annotations.models import Annotation
from webapp.images.models import Image, ImageQuerySet
from webapp.projects.filters import GalleryFilter
from webapp.projects.models import Project
from webapp.workflow.models import WorkItem, WorkState

# The assignee filter's value for "given to nobody"; no username holds a colon.
NOBODY = ":none"
# The workflow's order, for sorting by state.
STATE_ORDER = list(WorkState.values)
SORTS = {
    "oldest": ("First uploaded first", ["id"]),
    "newest": ("Newest first", ["-id"]),
    "name": ("Name", ["original_name", "id"]),
    "state": ("Workflow state", ["id"]),  # see state_ordered_page
    # By the work item's columns, and (see gallery_page) among the project's work items,
    # so that the page is read in the order of their (project, -count, image) index.
    "annotations": ("Most annotations", ["-work__annotation_count", "work__image_id"]),
}
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def reviews_installed() -> bool:
    """Whether review issues exist yet (the ``webapp.reviews`` app)."""
    return apps.is_installed("webapp.reviews")


class GalleryQuery(GalleryFilter):
    """The gallery's filters and sort, from the query string: the images API's ``name``,
    ``status`` and ``annotated``, plus ``state``, ``assignee`` (a username, or ``:none``),
    ``label`` (a label class id: images with at least one annotation of it), ``issues``
    (``open``: images with an open review issue) and ``sort`` (see :data:`SORTS`)."""

    state = forms.ChoiceField(
        required=False,
        choices=[("", "Any state"), *WorkState.choices],
        widget=forms.Select(attrs={"aria-label": "Workflow state"}),
    )
    assignee = forms.ChoiceField(
        required=False, widget=forms.Select(attrs={"aria-label": "Assignee"})
    )
    label = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(attrs={"aria-label": "Label class"}),
    )
    issues = forms.ChoiceField(
        required=False,
        choices=[("", "With or without issues"), ("open", "With open issues")],
        widget=forms.Select(attrs={"aria-label": "Issues"}),
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[(key, label) for key, (label, _) in SORTS.items()],
        widget=forms.Select(attrs={"aria-label": "Sort"}),
    )

    def __init__(self, data: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.project = project
        members = project.memberships.select_related("user").order_by("user__username")
        self.member_ids = {m.user.get_username(): m.user_id for m in members}
        self.fields["assignee"].choices = [
            ("", "Anyone or nobody"),
            (NOBODY, "Given to nobody"),
            *((name, name) for name in self.member_ids),
        ]
        classes = project.label_classes.order_by("order", "id").values_list("id", "name")
        self.fields["label"].choices = [("", "Any label class"), *classes]
        if not reviews_installed():
            del self.fields["issues"]

    def apply(self, images: ImageQuerySet) -> ImageQuerySet:
        values = self.values()
        # The images API's filters, but "annotated" reads the image's kept count (through
        # the work item) rather than looking for an annotation of every image.
        if "name" in values:
            images = images.filter(original_name__icontains=values["name"])
        if "status" in values:
            images = images.filter(status=values["status"])
        if values.get("annotated") == "true":
            images = images.filter(work__annotation_count__gt=0)
        elif values.get("annotated") == "false":
            images = images.filter(work__annotation_count=0)
        if "state" in values:
            images = images.filter(work__state=values["state"])
        if values.get("assignee") == NOBODY:
            images = images.filter(work__assignee__isnull=True)
        elif "assignee" in values:
            # By id (the choices allow members only), so that the work items' (project,
            # assignee, state) index serves.
            images = images.filter(work__assignee_id=self.member_ids[values["assignee"]])
        if values.keys() & {"state", "assignee"} or values.get("annotated") == "false":
            # Always true, but it lets the database start from the work items' (project,
            # ...) indexes instead of reading every image of the project first.
            images = images.filter(work__project=self.project)
        if values.get("label") is not None:
            # A semi-join on the class's annotations, read once from their (label class,
            # image) index alone (an EXISTS per image would probe it once per image).
            of_class = Annotation.objects.filter(label_class=values["label"]).values("image_id")
            images = images.filter(pk__in=of_class)
        if values.get("issues") == "open":
            images = images.filter(Exists(open_issues().filter(image=OuterRef("pk"))))
        return images

    def sort_key(self) -> str:
        return self.values().get("sort") or "oldest"

    def query(self) -> str:
        """The active filters and sort as a query string, or "" (the default sort is
        left out)."""
        values = {k: v for k, v in self.values().items() if v is not None}
        if values.get("sort") == "oldest":
            del values["sort"]
        return urlencode(values)


def open_issues() -> QuerySet[Any]:
    """Open review issues (only call when :func:`reviews_installed`)."""
    issue = apps.get_model("reviews", "Issue")
    return issue.objects.filter(status="open")


@dataclass(frozen=True)
class GalleryPage:
    """One page of the gallery: ``rows`` (dicts, see :func:`gallery_rows`), the
    1-based ``number``, the ``size`` asked for and the ``count`` of all matching images."""

    rows: list[dict[str, Any]]
    number: int
    size: int
    count: int

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def page_number(raw: object, default: int = 1) -> int:
    try:
        number = int(str(raw))
    except (TypeError, ValueError):
        return default
    return min(max(number, 1), 10**9)


def gallery_page(
    project: Project, query: GalleryQuery, number: int = 1, size: int = DEFAULT_PAGE_SIZE
) -> GalleryPage:
    """The ``number``-th page of ``size`` images of ``project`` that ``query`` lets
    through, in its sort order. A page past the last gives the last."""
    matching = query.apply(Image.objects.filter(project=project))
    sort = query.sort_key()
    if sort == "state":
        filtered = any(key != "sort" for key in query.values())
        return state_ordered_page(matching, number, size, project=None if filtered else project)
    count = matching.count()
    if sort == "annotations":
        matching = matching.filter(work__project=project)
    pages = max(1, -(-count // size))
    number = min(number, pages)
    rows = gallery_rows(matching, sort, (number - 1) * size, size)
    return GalleryPage(rows=rows, number=number, size=size, count=count)


def state_ordered_page(
    matching: QuerySet[Image], number: int, size: int, project: Project | None = None
) -> GalleryPage:
    """A page of ``matching`` in workflow order (new first, then annotating...), by id
    within a state. The images per state are counted in one grouped query (on the work
    items alone, through their (project, state) index, when ``project`` says that
    ``matching`` is all of its images); the page is then read state by state (one query
    per state it spans, usually one) rather than by sorting every image."""
    if project is not None:
        grouped = WorkItem.objects.filter(project=project).order_by().values_list("state")
        pairs = grouped.annotate(n=Count("pk")).values_list("state", "n")
    else:
        by_state = matching.order_by().values_list("work__state")
        pairs = by_state.annotate(n=Count("pk")).values_list("work__state", "n")
    per_state = dict(pairs)
    count = sum(per_state.values())
    pages = max(1, -(-count // size))
    number = min(number, pages)
    offset = (number - 1) * size
    rows: list[dict[str, Any]] = []
    for state in STATE_ORDER:
        in_state = per_state.get(state, 0)
        if offset >= in_state:
            offset -= in_state
            continue
        take = min(size - len(rows), in_state - offset)
        rows += gallery_rows(matching.filter(work__state=state), "oldest", offset, take)
        offset = 0
        if len(rows) >= size:
            break
    return GalleryPage(rows=rows, number=number, size=size, count=count)


def gallery_rows(
    images: QuerySet[Image], sort: str, offset: int, limit: int
) -> list[dict[str, Any]]:
    """``limit`` rows from ``offset`` of ``images`` sorted by ``sort``: ``{"id",
    "original_name", "status", "failure_reason", "thumbnail", "width", "height",
    "created_at", "state", "assignee", "annotator", "reviewer", "annotation_count"}``
    (usernames or None), plus ``"open_issues"`` when review issues exist."""
    # The page's ids first, from the sort's columns alone (an index walk, however deep
    # the page), then their rows, with no filter left to evaluate again: an offset over
    # the full rows would build every row it skips.
    ordered = images.order_by(*SORTS[sort][1]).values_list("pk", flat=True)
    ids = list(ordered[offset : offset + limit])
    rows = Image.objects.filter(pk__in=ids).annotate(
        state=F("work__state"),
        assignee=F("work__assignee__username"),
        annotator=F("work__annotator__username"),
        reviewer=F("work__reviewer__username"),
        annotation_count=Coalesce(F("work__annotation_count"), Value(0)),
    )
    fields = [
        "id",
        "original_name",
        "status",
        "failure_reason",
        "thumbnail",
        "width",
        "height",
        "created_at",
        "state",
        "assignee",
        "annotator",
        "reviewer",
        "annotation_count",
    ]
    if reviews_installed():
        opened = (
            open_issues()
            .filter(image=OuterRef("pk"))
            .order_by()
            .values("image")
            .annotate(n=Count("pk"))
            .values("n")
        )
        rows = rows.annotate(
            open_issues=Coalesce(Subquery(opened, output_field=IntegerField()), Value(0))
        )
        fields.append("open_issues")
    found = {row["id"]: row for row in rows.order_by().values(*fields)}
    return [found[pk] for pk in ids if pk in found]
