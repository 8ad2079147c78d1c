"""The experts file: parsing, errors that name the entry, and API keys that never leak."""

from __future__ import annotations

import json
import re

import pytest

from codeperf.experts import config
from codeperf.experts.config import ExpertsConfigError
from codeperf.experts.orchestrator import consult
from _experts_fixtures import circle, run, serve_routes, simulator

SECRET = "sk-test-DO-NOT-LEAK-0123456789"


def test_default_file_points_at_the_simulator():
    cfg = config.load()
    assert cfg.needs_simulator
    assert len(cfg.experts) >= 3
    models = {m["name"] for m in cfg.simulator["model"]}
    assert {e.model for e in cfg.experts} <= models
    moved = cfg.with_simulator_url("http://127.0.0.1:1234/v1")
    assert not moved.needs_simulator
    assert moved.experts[0].completions_url == "http://127.0.0.1:1234/v1/chat/completions"


def test_full_entry_parses(tmp_path):
    path = tmp_path / "experts.toml"
    path.write_text('[[expert]]\nname = "gpt"\nbase_url = "https://api.openai.com/v1"\n'
                    'model = "gpt-4o-mini"\napi_key_env = "OPENAI_API_KEY"\ntimeout_s = 12\n'
                    'stream = true\nmax_retries = 1\n')
    expert = config.load(path).experts[0]
    assert (expert.name, expert.timeout_s, expert.stream, expert.max_retries) == ("gpt", 12, True, 1)


@pytest.mark.parametrize("body,message", [
    ('[[expert]]\nname = "a"\nbase_url = "simulator"\n', "missing model"),
    ('[[expert]]\nname = "a"\nbase_url = "ftp://x"\nmodel = "m"\n', "base_url"),
    ('[[expert]]\nname = "a"\nbase_url = "simulator"\nmodel = "m"\ncolour = 1\n', "unknown keys colour"),
    ('[[expert]]\nname = "a"\nbase_url = "simulator"\nmodel = "m"\n'
     '[[expert]]\nname = "a"\nbase_url = "simulator"\nmodel = "m"\n', "unique"),
    ('title = "no experts"\n', "no [[expert]]"),
    ('[[expert]\n', "not valid TOML"),
])
def test_errors_name_the_file_and_the_problem(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(ExpertsConfigError, match=re.escape(message)) as info:
        config.load(path)
    assert str(path) in str(info.value)


BASE = '[[expert]]\nname = "a"\nbase_url = "simulator"\nmodel = "m"\n'


@pytest.mark.parametrize("extra,key", [
    ('timeout_s = "10"', "timeout_s"), ("timeout_s = nan", "timeout_s"),
    ("timeout_s = inf", "timeout_s"), ("timeout_s = 0", "timeout_s"),
    ("timeout_s = true", "timeout_s"),
    ('confidence = "0.5"', "confidence"), ("confidence = 1.5", "confidence"),
    ("confidence = nan", "confidence"),
    ('stream = "false"', "stream"), ("stream = 0", "stream"),
    ("max_retries = 1.5", "max_retries"), ("max_retries = -1", "max_retries"),
    ('max_retries = "2"', "max_retries"),
    ("api_key_env = 5", "api_key_env"), ("max_tokens = 0", "max_tokens"),
    ("price_prompt_per_1k_usd = -1.0", "price_prompt_per_1k_usd"),
    ('price_completion_per_1k_usd = "free"', "price_completion_per_1k_usd"),
])
def test_wrong_types_and_ranges_name_the_key_and_the_file(tmp_path, extra, key):
    path = tmp_path / "typed.toml"
    path.write_text(BASE + extra + "\n")
    with pytest.raises(ExpertsConfigError, match=rf"{key} must be") as info:
        config.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("body,message", [
    ('[[expert]]\nname = 5\nbase_url = "simulator"\nmodel = "m"\n', "name must be a string"),
    ('[[expert]]\nname = "a"\nbase_url = 5\nmodel = "m"\n', "base_url must be a string"),
    ('[[expert]]\nname = "a"\nbase_url = "simulator"\nmodel = ["m"]\n', "model must be a string"),
    ("expert = [1, 2]\n", "each [[expert]] must be a table"),
    ('expert = "x"\n', "no [[expert]] entries"),
])
def test_wrong_shapes_are_config_errors_not_tracebacks(tmp_path, body, message):
    path = tmp_path / "shape.toml"
    path.write_text(body)
    with pytest.raises(ExpertsConfigError, match=re.escape(message)) as info:
        config.load(path)
    assert str(path) in str(info.value)


def test_good_values_of_every_type_are_kept(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(BASE + "timeout_s = 2.5\nconfidence = 1\nstream = false\nmax_retries = 0\n"
                    "max_tokens = 64\nprice_prompt_per_1k_usd = 0\n")
    e = config.load(path).experts[0]
    assert (e.timeout_s, e.confidence, e.stream, e.max_retries, e.max_tokens) == (2.5, 1, False, 0, 64)


def test_a_key_in_the_file_is_refused_without_echoing_it(tmp_path):
    path = tmp_path / "keyed.toml"
    path.write_text(f'[[expert]]\nname = "a"\nbase_url = "simulator"\nmodel = "m"\n'
                    f'api_key = "{SECRET}"\n')
    with pytest.raises(ExpertsConfigError, match="api_key_env") as info:
        config.load(path)
    assert SECRET not in str(info.value)


def test_key_is_read_from_the_environment_and_never_serialised(monkeypatch):
    monkeypatch.setenv("CODEPERF_TEST_KEY", SECRET)
    cfg = circle("http://127.0.0.1:9/v1", "m", api_key_env="CODEPERF_TEST_KEY")
    assert cfg.experts[0].api_key() == SECRET
    data = json.dumps(cfg.to_dict())
    assert SECRET not in data
    assert '"api_key_env": "CODEPERF_TEST_KEY"' in data and '"api_key_set": true' in data
    assert cfg.redact(f"Authorization: Bearer {SECRET}") == "Authorization: Bearer [REDACTED]"


def test_key_is_sent_to_the_endpoint_but_not_into_results(monkeypatch):
    monkeypatch.setenv("CODEPERF_TEST_KEY", SECRET)

    async def go():
        async with simulator(api_key=SECRET) as sim:
            good = await consult("q", circle(sim.base_url, "t-fast", api_key_env="CODEPERF_TEST_KEY"),
                                 quorum=1)
            bad = await consult("q", circle(sim.base_url, "t-fast"), quorum=1)
            return good, bad

    good, bad = run(go())
    assert good.ok, good.error
    assert bad.error_kind == "http_401"  # the simulator really checks the key
    assert SECRET not in json.dumps(good.to_dict(include_content=True))
    assert SECRET not in json.dumps(bad.to_dict(include_content=True))


async def _echoing_server():
    """An endpoint that answers 400 with the Authorization header in its body, as some do."""
    from aiohttp import web

    async def handler(request):
        return web.Response(status=400, text="bad request; you sent "
                                             + request.headers.get("Authorization", "nothing"))

    runner, base = await serve_routes({"/v1/chat/completions": handler})
    return runner, f"{base}/v1"


@pytest.mark.parametrize("as_config", [True, False])
def test_a_key_echoed_in_an_error_body_is_redacted_on_every_path(monkeypatch, as_config):
    import aiohttp

    from codeperf.experts.config import Expert
    from codeperf.experts.orchestrator import ExpertCall, ExpertHTTPError, call_expert

    monkeypatch.setenv("CODEPERF_TEST_KEY", SECRET)

    async def go():
        runner, url = await _echoing_server()
        try:
            cfg = circle(url, "m", api_key_env="CODEPERF_TEST_KEY", max_retries=0)
            # A caller may pass a plain list of experts instead of an ExpertsConfig.
            result = await consult("q", cfg if as_config else list(cfg.experts), quorum=1)
            async with aiohttp.ClientSession() as session:
                try:
                    await call_expert(session, cfg.experts[0], "q", ExpertCall("x", "m"))
                except ExpertHTTPError as exc:
                    raised = exc
            return result, raised
        finally:
            await runner.cleanup()

    result, raised = run(go())
    assert result.error_kind == "http_400"
    assert "you sent Bearer [REDACTED]" in result.calls[0].error  # the body is kept, the key is not
    assert SECRET not in json.dumps(result.to_dict(include_content=True))
    assert SECRET not in str(raised) and "[REDACTED]" in raised.message
    plain = [Expert("a", "http://127.0.0.1:9/v1", "m", api_key_env="CODEPERF_TEST_KEY")]
    assert config.redact(f"x{SECRET}y", plain) == "x[REDACTED]y"


def test_engine_errors_are_redacted_for_a_plain_expert_list(monkeypatch):
    from codeperf.experts import orchestrator

    monkeypatch.setenv("CODEPERF_TEST_KEY", SECRET)

    def leaky_engine(responses, threshold, similarity):
        raise RuntimeError(f"backend saw header Bearer {SECRET}")

    monkeypatch.setattr(orchestrator, "_engine_step", leaky_engine)

    async def go():
        async with simulator(api_key=SECRET) as sim:
            cfg = circle(sim.base_url, "t-fast", api_key_env="CODEPERF_TEST_KEY")
            return await consult("q", list(cfg.experts), quorum=1)

    result = run(go())
    assert result.error_kind == "engine"
    assert SECRET not in result.error and "Bearer [REDACTED]" in result.error


def test_simulator_config_never_carries_the_key():
    from codeperf.experts.simulator import SimulatorConfig

    assert SECRET not in json.dumps(SimulatorConfig(api_key=SECRET).to_dict())
