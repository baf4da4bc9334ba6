"""The API docs page in a real browser with every other host unreachable: Swagger UI
comes from this server's own static files and renders the operations."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_docs_render_with_no_host_but_this_server(live_server: Any, browser: Any) -> None:
    server = urlsplit(live_server.url).netloc
    elsewhere: list[str] = []
    seen: list[str] = []

    def only_this_server(route: Any) -> None:
        url = route.request.url
        seen.append(url)
        if urlsplit(url).netloc != server:
            elsewhere.append(url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    context = browser.new_context()
    try:
        page = context.new_page()
        page.route("**/*", only_this_server)
        page.goto(f"{live_server.url}/api/docs/")

        operations = page.locator(".opblock")
        operations.first.wait_for(timeout=30_000)

        assert page.locator(".opblock-summary-path", has_text="/api/projects/").count() > 0
        assert operations.count() > 10
        assert page.locator(".information-container .title").inner_text().startswith("samlabel API")
        assert elsewhere == []
        assert any("/static/drf_spectacular_sidecar/" in url for url in seen)
    finally:
        context.close()
