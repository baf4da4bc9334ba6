"""End to end with real parts: a project whose decoder was never built gets a 503 from
the web app, a real Celery worker (real Redis) builds the real MobileSAM ONNX files, and
the same web process then serves them, without a restart."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from django.urls import reverse

from inference.registry import get_model, onnx_dir
from inference.weights import checkpoint_path
from tests.webapp.celery_processes import broker_for_this_process, unavailable, wait_for
from webapp.images.models import DecoderBuild, DecoderBuildStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_builds_a_missing_decoder_and_the_web_app_then_serves_it(
    make_project,
    user_in,
    api_client,
    media_root: Path,
    redis_server,
    start_worker,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    weights = checkpoint_path(get_model("mobile_sam"))
    if not weights.is_file():
        unavailable("the set-up has not fetched the MobileSAM weights")
    # A cache of our own with the real weights in it and nothing built yet, for this
    # process and the worker alike.
    cache = tmp_path / "cache"
    (cache / "weights").mkdir(parents=True)
    (cache / "weights" / weights.name).symlink_to(weights)
    monkeypatch.setenv("SAMLABEL_CACHE_DIR", str(cache))
    project = make_project(name="Never built", model="mobile_sam")
    client = api_client(user_in(project, "annotator"))
    manifest_url = reverse("decoder-manifest", kwargs={"project_pk": project.pk})
    worker = start_worker(redis_server.url, media_root, SAMLABEL_CACHE_DIR=str(cache))

    with broker_for_this_process(redis_server.url):
        first = client.get(manifest_url)

    assert first.status_code == 503
    assert "A worker is building them" in first.json()["detail"]
    wait_for(
        lambda: DecoderBuild.objects.filter(
            model="mobile_sam", status__in=[DecoderBuildStatus.DONE, DecoderBuildStatus.FAILED]
        ).exists(),
        900,
        "the worker to finish building MobileSAM's ONNX files",
    )
    build = DecoderBuild.objects.get(model="mobile_sam")
    assert build.status == DecoderBuildStatus.DONE, build.failure_reason + worker.text()[-3000:]

    served = client.get(manifest_url)

    assert served.status_code == 200
    manifest = served.json()
    assert manifest == json.loads((onnx_dir("mobile_sam") / "manifest.json").read_text())
    browser = manifest["decoders"][manifest["browser_decoder"]]
    for entry in (browser, browser["image_stage"]):
        response = client.get(
            reverse("decoder-file", kwargs={"project_pk": project.pk, "filename": entry["file"]})
        )
        assert response.status_code == 200
        content = b"".join(response.streaming_content)
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
