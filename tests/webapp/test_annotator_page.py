"""The annotator page and its assets: who may open it, and the headers it needs."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from webapp.annotator.views import _ort_folder

pytestmark = pytest.mark.django_db


def page_of(client: Client, user, project, image):
    client.force_login(user)
    return client.get(f"/projects/{project.pk}/images/{image.pk}/annotate/")


@pytest.mark.parametrize("role", ["owner", "manager", "reviewer", "annotator", "viewer"])
def test_members_open_the_annotator_with_cross_origin_isolation(
    role, make_project, make_image_row, user_in
):
    project = make_project()
    image = make_image_row(project, status="ready")
    response = page_of(Client(), user_in(project, role), project, image)
    assert response.status_code == 200
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["Cross-Origin-Embedder-Policy"] == "require-corp"
    config = json.loads(
        re.search(
            r'id="annotator-config" type="application/json">(.*?)</script>',
            response.content.decode(),
            re.S,
        ).group(1)
    )
    assert config["embeddingUrl"] == f"/api/projects/{project.pk}/images/{image.pk}/embedding"
    assert config["manifestUrl"] == f"/api/projects/{project.pk}/decoder/manifest.json"
    assert (config["width"], config["height"]) == (image.width, image.height)
    read_only = b"read only" in response.content
    assert read_only == (role == "viewer")


def test_the_page_names_its_project_and_user_so_the_class_chosen_is_remembered_per_pair(
    make_project, make_image_row, user_in
):
    project = make_project()
    image = make_image_row(project, status="ready")
    member = user_in(project, "annotator")
    page = page_of(Client(), member, project, image).content.decode()
    assert f'data-project-id="{project.pk}"' in page
    assert f'data-user-id="{member.pk}"' in page
    assert 'id="annotator-keys"' in page  # the key help, listed from the page's key table


def test_anonymous_visitors_are_sent_to_sign_in(make_project, make_image_row):
    project = make_project()
    image = make_image_row(project)
    response = Client().get(f"/projects/{project.pk}/images/{image.pk}/annotate/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_next_and_previous_images_are_linked_and_prefetched(make_project, make_image_row, user_in):
    project = make_project()
    first, second, third = (make_image_row(project, status="ready") for _ in range(3))
    response = page_of(Client(), user_in(project, "owner"), project, second)
    text = response.content.decode()
    assert f"/projects/{project.pk}/images/{first.pk}/annotate/" in text
    assert f"/projects/{project.pk}/images/{third.pk}/annotate/" in text
    assert f"/api/projects/{project.pk}/images/{third.pk}/embedding" in text


def test_the_project_page_links_each_image_to_the_annotator(make_project, make_image_row, user_in):
    project = make_project()
    image = make_image_row(project)
    client = Client()
    client.force_login(user_in(project, "annotator"))
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert f'href="/projects/{project.pk}/images/{image.pk}/annotate/"' in page


def test_the_worker_script_is_served_with_the_headers_isolation_needs():
    response = Client().get("/annotator/assets/decoder.worker.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript"
    assert response["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"
    again = Client().get("/annotator/assets/decoder.worker.js", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_onnxruntime_wasm_is_served_from_our_own_files():
    response = Client().get(f"/annotator/assets/{_ort_folder()}/ort-wasm-simd-threaded.wasm")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/wasm"
    assert "immutable" in response["Cache-Control"]
    assert b"".join(response.streaming_content)[:4] == b"\0asm"


@pytest.mark.parametrize(
    "name", ["../views.py", "..%2Fviews.py", "nothing.js", "ort-1/../../urls.py", "annotator.ts"]
)
def test_assets_outside_the_build_or_of_other_kinds_are_not_served(name):
    assert Client().get(f"/annotator/assets/{name}").status_code == 404


@pytest.mark.parametrize(
    ("role", "can_start"),
    [("owner", True), ("manager", True), ("reviewer", True), ("annotator", False),
     ("viewer", False)],
)  # fmt: skip
def test_the_project_page_lists_exports_and_offers_them_to_reviewers_and_up(
    role, can_start, make_project, user_in
):
    project = make_project()
    client = Client()
    client.force_login(user_in(project, role))
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert f'data-url="/api/projects/{project.pk}/exports/"' in page
    assert ('id="export-form"' in page) == can_start
    assert "exports/exports.js" in page


def test_encoded_images_give_the_page_their_embedding_hash_for_the_browser_cache(
    make_project, make_image_row, user_in
):
    import numpy as np

    from webapp.images.models import ImageEmbedding

    project = make_project()
    image, following, pending = (make_image_row(project) for _ in range(3))
    stored = ImageEmbedding.store(image, project.model, np.zeros((256, 64, 64), np.float32))
    later = ImageEmbedding.store(following, project.model, np.ones((256, 64, 64), np.float32))
    response = page_of(Client(), user_in(project, "owner"), project, image)
    config = json.loads(
        re.search(
            r'id="annotator-config" type="application/json">(.*?)</script>',
            response.content.decode(),
            re.S,
        ).group(1)
    )
    url = f"/api/projects/{project.pk}/images/{{}}/embedding"
    assert config["embeddingSha256s"] == {
        url.format(image.pk): stored.sha256,
        url.format(following.pk): later.sha256,
    }
    assert url.format(pending.pk) in config["prefetchEmbeddingUrls"]


def config_of(client: Client, user, project, image):
    client.force_login(user)
    return client.get(f"/projects/{project.pk}/images/{image.pk}/annotate/config.json")


def test_a_member_gets_an_images_config_to_switch_to_it_without_a_reload(
    make_project, make_image_row, user_in
):
    project = make_project()
    first, second, third = (make_image_row(project, status="ready") for _ in range(3))
    response = config_of(Client(), user_in(project, "viewer"), project, second)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    config = response.json()
    base = f"/projects/{project.pk}/images"
    api = f"/api/projects/{project.pk}/images"
    assert config["imageId"] == second.pk
    assert config["imageName"] == second.original_name
    assert config["pageUrl"] == f"{base}/{second.pk}/annotate/"
    assert config["configUrl"] == f"{base}/{second.pk}/annotate/config.json"
    assert config["imageUrl"].startswith(f"{api}/{second.pk}/")
    assert config["imageStatusUrl"] == f"{api}/{second.pk}/"
    assert config["embeddingUrl"] == f"{api}/{second.pk}/embedding"
    assert config["annotationsUrl"].startswith(f"{api}/{second.pk}/annotations")
    assert (config["width"], config["height"]) == (second.width, second.height)
    assert config["previousUrl"] == f"{base}/{first.pk}/annotate/"
    assert config["nextUrl"] == f"{base}/{third.pk}/annotate/"
    assert config["previousConfigUrl"] == f"{base}/{first.pk}/annotate/config.json"
    assert config["nextConfigUrl"] == f"{base}/{third.pk}/annotate/config.json"
    assert config["prefetchEmbeddingUrls"] == [f"{api}/{third.pk}/embedding"]
    assert config["proposalsUrl"] == f"{api}/{second.pk}/proposals/"
    assert config["proposalsStatusUrl"] == f"{api}/{second.pk}/proposals/status/"
    assert config["proposalsExpected"] is False  # the project has proposals off


def test_the_config_says_when_the_worker_will_make_proposals(make_project, make_image_row, user_in):
    project = make_project(proposals_enabled=True)
    image = make_image_row(project, status="pending")
    config = config_of(Client(), user_in(project, "annotator"), project, image).json()
    assert config["proposalsExpected"] is True


def test_the_page_embeds_the_same_config_as_the_endpoint(make_project, make_image_row, user_in):
    project = make_project()
    image = make_image_row(project, status="ready")
    owner = user_in(project, "owner")
    page = page_of(Client(), owner, project, image).content.decode()
    pattern = r'id="annotator-config" type="application/json">(.*?)</script>'
    embedded = json.loads(re.search(pattern, page, re.S).group(1))
    fetched = config_of(Client(), owner, project, image).json()
    own = ("workerUrl", "wasmPaths", "workflow", "rules")  # the page's, not the image's
    assert {k: v for k, v in embedded.items() if k not in own} == fetched
    assert fetched["previousConfigUrl"] is None and fetched["nextConfigUrl"] is None


# The page and its JSON config follow one access rule.
BOTH = pytest.mark.parametrize("fetch", [page_of, config_of], ids=["page", "config"])


@BOTH
def test_an_outsider_gets_404(fetch, make_project, make_image_row, user_in):
    project = make_project()
    image = make_image_row(project)
    assert fetch(Client(), user_in(project, "outsider"), project, image).status_code == 404


@BOTH
def test_an_image_of_another_project_gets_404(fetch, make_project, make_image_row, user_in):
    mine, theirs = make_project(), make_project()
    image = make_image_row(theirs)
    assert fetch(Client(), user_in(mine, "owner"), mine, image).status_code == 404


def test_anonymous_visitors_get_no_config_and_are_sent_to_sign_in(make_project, make_image_row):
    project = make_project()
    image = make_image_row(project)
    response = Client().get(f"/projects/{project.pk}/images/{image.pk}/annotate/config.json")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
