"""Schema-driven argument generation: every generated argument set validates against its
tool's schema (jsonschema, formats checked), on a corpus shaped like public servers' tools."""

from __future__ import annotations

import copy
import re
from datetime import datetime
from urllib.parse import urlsplit

import jsonschema
import pytest

from _mcp_schema_corpus import CORPUS
from codeperf.mcp.bench.argsgen import args_for, from_pattern, generate

_IDS = [f"{server}.{tool}" for server, tool, _d, _s in CORPUS]
# jsonschema checks date, email, uuid and ipv4 itself; date-time, time, uri and hostname need
# optional packages we do not install, so they are checked here (strictly enough to fail).
_FORMATS = copy.deepcopy(jsonschema.Draft202012Validator.FORMAT_CHECKER)


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value):
    return not isinstance(value, str) or bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                                                          value)) and bool(datetime.fromisoformat(value))


@_FORMATS.checks("time")
def _time(value):
    return not isinstance(value, str) or bool(re.fullmatch(r"\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value))


@_FORMATS.checks("uri")
def _uri(value):
    parts = urlsplit(value) if isinstance(value, str) else None
    return parts is None or bool(parts.scheme and parts.netloc)


@_FORMATS.checks("hostname")
def _hostname(value):
    return not isinstance(value, str) or bool(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", value))


def test_the_format_checks_can_fail():
    for fmt in ("date", "date-time", "time", "uri", "email", "uuid", "hostname", "ipv4"):
        assert not _FORMATS.conforms("not valid !", fmt), fmt


def _validate(instance, schema):
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls(schema, format_checker=_FORMATS).validate(instance)


@pytest.mark.parametrize("server, tool, description, schema", CORPUS, ids=_IDS)
def test_generated_arguments_validate(server, tool, description, schema):
    _validate(generate(schema), schema)


@pytest.mark.parametrize("server, tool, description, schema", CORPUS, ids=_IDS)
def test_generated_arguments_with_every_optional_property_validate(server, tool, description, schema):
    _validate(generate(schema, optional=True), schema)


def _schema(name):
    return next(s for _srv, tool, _d, s in CORPUS if tool == name)


def test_uses_the_schema_keywords():
    strings = generate(_schema("strings"))
    assert strings["mode"] == "fast" and strings["version"] == 2 and strings["ex"] == "hello"
    assert len(strings["long"]) >= 40 and len(strings["short"]) <= 3
    assert re.fullmatch("[A-Z]{3}", strings["code"]) and re.fullmatch(r"[A-Z]{2,5}-\d+", strings["ticket"])
    numbers = generate(_schema("numbers"))
    assert numbers == {"a": 5, "b": pytest.approx(0.500001), "c": -3, "d": 10, "e": 0.1}
    formats = generate(_schema("formats"))
    assert formats["d"] == "2025-01-01" and formats["id"].count("-") == 4 and "@" in formats["e"]
    nested = generate(_schema("nested"))
    assert len(nested["tags"]) == 2 and nested["opt"] is not None  # a real value beats null
    assert nested["query"]["filters"]["since"] == "2025-01-01"


def test_real_shapes_get_useful_values():
    # A description's example is a value the server knows ("e.g., 'America/New_York'").
    assert generate(_schema("get_current_time")) == {"timezone": "America/New_York"}
    assert generate(_schema("convert_time"))["time"] == "12:00"  # "(HH:MM)" in its description
    assert generate(_schema("fetch")) == {"url": "https://example.invalid/"}
    # Required arrays get an item: an empty list exercises nothing.
    assert generate(_schema("read_multiple_files")) == {"paths": ["codeperf"]}
    entities = generate(_schema("create_entities"))["entities"]
    assert entities == [{"name": "codeperf", "entityType": "codeperf", "observations": ["codeperf"]}]
    names = generate(_schema("delete_entities"))["entityNames"]
    assert len(names) == 2 and len(set(names)) == 2  # uniqueItems


@pytest.mark.parametrize("pattern", [
    r"^[a-z]+$", r"^\d{4}-\d{2}-\d{2}$", r"^(main|master)$", r"^[A-Z]{2,3}-\d+$", r"^[^/]+$",
    r"^sha256:[0-9a-f]{64}$", r"\w+@\w+\.com", r"^v?\d+\.\d+(\.\d+)?$", r"^([a-z])-\1$", r"^\S+\s\S+$",
])
def test_patterns_are_satisfied(pattern):
    value = from_pattern(pattern)
    assert value is not None and re.search(pattern, value), value


def test_patterns_beyond_the_generator_are_reported_not_faked():
    assert from_pattern(r"^(?=.*\d)(?!x).+$") is None  # lookarounds
    assert from_pattern("[") is None  # not a regular expression


def test_arguments_file_entries_win_over_generation():
    tool = {"name": "read_file", "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}},
                                                 "required": ["path"]}}
    assert args_for("fs", tool, {}) == ([{"path": "codeperf"}], "schema")
    assert args_for("fs", tool, {"read_file": [{"path": "a"}]}) == ([{"path": "a"}], "scenario")
    assert args_for("fs", tool, {"read_file": [{"path": "a"}], "fs.read_file": [{"path": "b"}]}) \
        == ([{"path": "b"}], "scenario")
