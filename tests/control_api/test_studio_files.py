"""The built studio served at / (control_api/api/studio.py): the app for every page path, hashed assets
cached for good, a CSP without inline scripts, API paths never swallowed, and how to build it when it
is not built."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from control_api.api import create_app
from control_api.settings import ServiceSettings


@pytest.fixture
def dist(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>')
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log('studio')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("outside")
    return tmp_path


def client_for(studio_dir) -> TestClient:
    return TestClient(create_app(ServiceSettings(studio_dir=studio_dir)))  # no lifespan: no servers needed


def test_pages_get_the_app_with_a_strict_policy_and_assets_are_cached_for_good(dist):
    client = client_for(dist)
    for path in ("/", "/scripts", "/tasks/3f0c/anything"):
        page = client.get(path)
        assert page.status_code == 200 and page.text.startswith("<!doctype html>"), path
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        assert "unsafe-eval" not in policy and page.headers["cache-control"] == "no-cache"
    asset = client.get("/assets/app-1a2b.js")
    assert asset.text == "console.log('studio')" and "immutable" in asset.headers["cache-control"]
    assert client.get("/favicon.svg").headers["cache-control"] == "no-cache"
    assert "outside" not in client.get("/../secret.txt").text and "outside" not in client.get("/%2e%2e/secret.txt").text


def test_api_paths_stay_the_api(dist):
    client = client_for(dist)
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert client.get("/openapi.json").json()["info"]["title"] == "dramaflow"
    assert client.get("/healthz").json() == {"status": "ok"}


def test_without_a_build_the_root_says_how_to_build_it(tmp_path):
    response = client_for(tmp_path / "nothing-here").get("/")
    assert response.status_code == 503 and "make studio" in response.text
