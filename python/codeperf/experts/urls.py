"""A circle of experts from URLs, without a file: `--expert URL[#MODEL]`.

Each URL is an OpenAI-compatible base URL (`http://127.0.0.1:8000/v1`; a URL
with no path gets `/v1`, as vLLM, Ollama and llama.cpp serve it there). The
model after `#` is used as given; without one, the server is asked
(`GET <base>/models`) and its first listed model is used. A server that lists
no model, or cannot be asked, is an ExpertUrlError naming the URL: we do not
guess a model name.

`check` runs on every URL before any request is made (the caller's loopback
rule), so discovery never reaches a host the user did not allow.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

from codeperf.experts.config import Expert, ExpertsConfig

DISCOVERY_TIMEOUT_S = 10.0


class ExpertUrlError(ValueError):
    """An --expert URL cannot be used; the message names it."""


def parse(value: str) -> tuple[str, str | None]:
    """`URL[#MODEL]` -> (base URL, model or None)."""
    url, _, model = value.partition("#")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ExpertUrlError(f"--expert {value!r}: expected http(s)://HOST[:PORT]/v1[#MODEL]")
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, "")), (model or None)


def discover_models(base_url: str, api_key: str | None = None,
                    timeout_s: float = DISCOVERY_TIMEOUT_S) -> list[str]:
    """The model ids `GET <base_url>/models` lists (OpenAI's {"data": [{"id": ...}]})."""
    request = urllib.request.Request(base_url + "/models", headers={"Accept": "application/json"})
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (checked URL)
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise ExpertUrlError(f"--expert {base_url}: GET /models answered HTTP {exc.code}; "
                             f"name the model: --expert '{base_url}#MODEL'") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExpertUrlError(f"--expert {base_url}: cannot list models ({reason})") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ExpertUrlError(f"--expert {base_url}: GET /models did not return JSON") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return []
    return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]


def from_urls(values: Sequence[str], *, api_key_env: str = "",
              check: Callable[[str], None] = lambda url: None) -> ExpertsConfig:
    """The circle: one expert per `--expert`, named by its model (made unique)."""
    api_key = os.environ.get(api_key_env) if api_key_env else None
    experts: list[Expert] = []
    names: set[str] = set()
    for value in values:
        base_url, model = parse(value)
        check(base_url)
        if model is None:
            models = discover_models(base_url, api_key)
            if not models:
                raise ExpertUrlError(f"--expert {base_url}: GET {base_url}/models lists no model; "
                                     f"name one: --expert '{base_url}#MODEL'")
            model = models[0]
        name, n = model, 2
        while name in names:
            name, n = f"{model}-{n}", n + 1
        names.add(name)
        experts.append(Expert(name=name, base_url=base_url, model=model, api_key_env=api_key_env,
                              stream=True))
    return ExpertsConfig(tuple(experts), {}, source="--expert " + " ".join(values))
