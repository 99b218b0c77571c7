"""The service benchmark uses the service tests' real servers and API process."""

from tests.control_api.service.conftest import api_url, servers, settings  # noqa: F401
