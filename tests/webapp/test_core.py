from __future__ import annotations

from django.test import Client
from pytest_django.fixtures import Settings


def test_healthz_reports_ok_and_the_default_model(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "model": "mobile_sam"}


def test_healthz_reports_the_configured_model(client: Client, settings: Settings) -> None:
    settings.SAMLABEL_MODEL = "sam_vit_b"

    assert client.get("/healthz").json()["model"] == "sam_vit_b"


def test_healthz_refuses_writes(client: Client) -> None:
    assert client.post("/healthz").status_code == 405


def test_home_page_says_what_the_product_is(client: Client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "samlabel" in page
    assert "Segment Anything" in page
    assert "mobile_sam" in page
