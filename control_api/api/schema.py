"""Print the API's OpenAPI schema (``python -m control_api.api.schema``): the studio's typed client is
generated from it (``control_api/studio/src/api/openapi.json``)."""

from __future__ import annotations

import json


def schema_text() -> str:
    from control_api.api import create_app
    from control_api.settings import ServiceSettings

    return json.dumps(create_app(ServiceSettings()).openapi(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
