"""Tool schemas shaped like the public reference MCP servers' (our own fixtures, written
after their tool lists): filesystem and memory (TypeScript, zod-to-json-schema
output: `additionalProperties: false`, `$schema`), git, fetch, time and sqlite
(Python, pydantic output: `title`s, `anyOf` with null, `$defs`), plus schemas
exercising every keyword argsgen handles. Each entry: (server, tool, description,
inputSchema)."""

from __future__ import annotations

_ZOD = "http://json-schema.org/draft-07/schema#"


def _zod(properties, required):
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False, "$schema": _ZOD}


def _pyd(title, properties, required, defs=None):
    schema = {"type": "object", "title": title, "properties": properties, "required": required}
    if defs:
        schema["$defs"] = defs
    return schema


_S = {"type": "string"}
FILESYSTEM = [
    ("filesystem", "read_text_file", "Read the complete contents of a file as text.",
     _zod({"path": _S, "tail": {"type": "number", "description": "If provided, returns only the last N lines"},
           "head": {"type": "number", "description": "If provided, returns only the first N lines"}}, ["path"])),
    ("filesystem", "read_multiple_files", "Read several files at once.",
     _zod({"paths": {"type": "array", "items": _S, "minItems": 1,
                     "description": "Array of file paths to read."}}, ["paths"])),
    ("filesystem", "write_file", "Create a new file or overwrite one.",
     _zod({"path": _S, "content": _S}, ["path", "content"])),
    ("filesystem", "edit_file", "Line-based edits to a text file.",
     _zod({"path": _S,
           "edits": {"type": "array", "items": {"type": "object", "properties": {
               "oldText": {"type": "string", "description": "Text to search for - must match exactly"},
               "newText": {"type": "string", "description": "Text to replace with"}},
               "required": ["oldText", "newText"], "additionalProperties": False}},
           "dryRun": {"type": "boolean", "default": False, "description": "Preview changes using git-style diff format"}},
          ["path", "edits"])),
    ("filesystem", "list_directory_with_sizes", "Listing with sizes.",
     _zod({"path": _S, "sortBy": {"type": "string", "enum": ["name", "size"], "default": "name"}}, ["path"])),
    ("filesystem", "move_file", "Move or rename.", _zod({"source": _S, "destination": _S}, ["source", "destination"])),
    ("filesystem", "search_files", "Recursively search for files and directories matching a pattern.",
     _zod({"path": _S, "pattern": _S, "excludePatterns": {"type": "array", "items": _S, "default": []}},
          ["path", "pattern"])),
    ("filesystem", "list_allowed_directories", "The directories this server may access.", _zod({}, [])),
]
GIT = [
    ("git", "git_status", "Shows the working tree status",
     _pyd("GitStatus", {"repo_path": {"title": "Repo Path", "type": "string"}}, ["repo_path"])),
    ("git", "git_diff_unstaged", "Shows changes in the working directory that are not yet staged",
     _pyd("GitDiffUnstaged", {"repo_path": {"title": "Repo Path", "type": "string"},
                              "context_lines": {"title": "Context Lines", "type": "integer", "default": 3}},
          ["repo_path"])),
    ("git", "git_commit", "Records changes to the repository",
     _pyd("GitCommit", {"repo_path": {"title": "Repo Path", "type": "string"},
                        "message": {"title": "Message", "type": "string"}}, ["repo_path", "message"])),
    ("git", "git_add", "Adds file contents to the staging area",
     _pyd("GitAdd", {"repo_path": {"title": "Repo Path", "type": "string"},
                     "files": {"title": "Files", "type": "array", "items": {"type": "string"}}},
          ["repo_path", "files"])),
    ("git", "git_log", "Shows the commit logs",
     _pyd("GitLog", {"repo_path": {"title": "Repo Path", "type": "string"},
                     "max_count": {"title": "Max Count", "type": "integer", "default": 10},
                     "start_timestamp": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None,
                                         "title": "Start Timestamp",
                                         "description": "Start timestamp, e.g. '2024-01-15' or '2 weeks ago'"}},
          ["repo_path"])),
    ("git", "git_create_branch", "Creates a new branch from an optional base branch",
     _pyd("GitCreateBranch", {"repo_path": {"title": "Repo Path", "type": "string"},
                              "branch_name": {"title": "Branch Name", "type": "string",
                                              "pattern": r"^[A-Za-z0-9._/-]+$", "minLength": 1},
                              "base_branch": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}},
          ["repo_path", "branch_name"])),
    ("git", "git_show", "Shows the contents of a commit",
     _pyd("GitShow", {"repo_path": {"title": "Repo Path", "type": "string"},
                      "revision": {"title": "Revision", "type": "string", "pattern": r"^[0-9a-f]{7,40}$"}},
          ["repo_path", "revision"])),
]
FETCH = [
    ("fetch", "fetch", "Fetches a URL from the internet and optionally extracts its contents as markdown.",
     _pyd("Fetch", {
         "url": {"description": "URL to fetch", "format": "uri", "minLength": 1, "title": "Url", "type": "string"},
         "max_length": {"default": 5000, "description": "Maximum number of characters to return.",
                        "exclusiveMaximum": 1000000, "exclusiveMinimum": 0, "title": "Max Length", "type": "integer"},
         "start_index": {"default": 0, "minimum": 0, "title": "Start Index", "type": "integer"},
         "raw": {"default": False, "title": "Raw", "type": "boolean"}}, ["url"])),
]
TIME = [
    ("time", "get_current_time", "Get current time in a specific timezones",
     {"type": "object", "properties": {"timezone": {
         "type": "string",
         "description": "IANA timezone name (e.g., 'America/New_York', 'Europe/London'). Use 'UTC' as local "
                        "timezone if no timezone provided by the user."}}, "required": ["timezone"]}),
    ("time", "convert_time", "Convert time between timezones",
     {"type": "object", "properties": {
         "source_timezone": {"type": "string", "description": "Source IANA timezone name (e.g., 'America/New_York')."},
         "time": {"type": "string", "description": "Time to convert in 24-hour format (HH:MM)",
                  "pattern": r"^([01]\d|2[0-3]):[0-5]\d$"},
         "target_timezone": {"type": "string", "description": "Target IANA timezone name (e.g., 'Asia/Tokyo')."}},
      "required": ["source_timezone", "time", "target_timezone"]}),
]
SQLITE = [
    ("sqlite", "read_query", "Execute a SELECT query on the SQLite database",
     {"type": "object", "properties": {"query": {"type": "string", "description": "SELECT SQL query to execute"}},
      "required": ["query"]}),
    ("sqlite", "list_tables", "List all tables in the SQLite database", {"type": "object", "properties": {}}),
    ("sqlite", "describe_table", "Get the schema information for a specific table",
     {"type": "object", "properties": {"table_name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}},
      "required": ["table_name"]}),
    ("sqlite", "append_insight", "Add a business insight to the memo",
     {"type": "object", "properties": {"insight": {"type": "string", "minLength": 10}}, "required": ["insight"]}),
]
_ENTITY = {"type": "object", "properties": {
    "name": {"type": "string", "description": "The name of the entity"},
    "entityType": {"type": "string", "description": "The type of the entity"},
    "observations": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "entityType", "observations"], "additionalProperties": False}
MEMORY = [
    ("memory", "create_entities", "Create multiple new entities in the knowledge graph",
     _zod({"entities": {"type": "array", "items": _ENTITY}}, ["entities"])),
    ("memory", "create_relations", "Create relations between entities (active voice)",
     _zod({"relations": {"type": "array", "items": {"type": "object", "properties": {
         "from": _S, "to": _S, "relationType": _S}, "required": ["from", "to", "relationType"],
         "additionalProperties": False}}}, ["relations"])),
    ("memory", "delete_entities", "Delete entities and their relations",
     _zod({"entityNames": {"type": "array", "items": _S, "uniqueItems": True, "minItems": 2}}, ["entityNames"])),
    ("memory", "search_nodes", "Search for nodes", _zod({"query": _S}, ["query"])),
    ("memory", "read_graph", "Read the entire knowledge graph", _zod({}, [])),
]
KEYWORDS = [
    ("keywords", "formats", "Every format argsgen fills.",
     {"type": "object", "required": ["d", "dt", "t", "u", "e", "id", "host", "ip"], "properties": {
         "d": {"type": "string", "format": "date"}, "dt": {"type": "string", "format": "date-time"},
         "t": {"type": "string", "format": "time"}, "u": {"type": "string", "format": "uri"},
         "e": {"type": "string", "format": "email"}, "id": {"type": "string", "format": "uuid"},
         "host": {"type": "string", "format": "hostname"}, "ip": {"type": "string", "format": "ipv4"}}}),
    ("keywords", "numbers", "Bounds and steps.",
     {"type": "object", "required": ["a", "b", "c", "d", "e"], "properties": {
         "a": {"type": "integer", "minimum": 5, "maximum": 9}, "b": {"type": "number", "exclusiveMinimum": 0.5},
         "c": {"type": "integer", "maximum": -3}, "d": {"type": "integer", "minimum": 7, "multipleOf": 5},
         "e": {"type": "number", "minimum": 0.1, "maximum": 0.2}}}),
    ("keywords", "strings", "Lengths, patterns, enum, const, examples.",
     {"type": "object", "required": ["short", "long", "code", "ticket", "mode", "version", "ex", "sha", "nonslash"],
      "properties": {
          "short": {"type": "string", "maxLength": 3}, "long": {"type": "string", "minLength": 40},
          "code": {"type": "string", "pattern": "^[A-Z]{3}$"},
          "ticket": {"type": "string", "pattern": r"^[A-Z]{2,5}-\d+$", "maxLength": 12},
          "mode": {"enum": ["fast", "slow"]}, "version": {"const": 2},
          "ex": {"type": "string", "examples": ["hello"]},
          "sha": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
          "nonslash": {"type": "string", "pattern": "^[^/]+$", "minLength": 5}}}),
    ("keywords", "nested", "Nested objects and arrays through $defs.",
     _pyd("Nested", {"query": {"$ref": "#/$defs/Query"},
                     "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}, "minItems": 2, "maxItems": 3},
                     "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
                     "opt": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/Tag"}]}},
          ["query", "tags", "pair", "opt"],
          {"Query": {"type": "object", "properties": {
              "text": {"type": "string", "minLength": 1},
              "filters": {"type": "object", "properties": {"since": {"type": "string", "format": "date"},
                                                           "limit": {"type": "integer", "minimum": 1}},
                          "required": ["since", "limit"]}}, "required": ["text", "filters"]},
           "Tag": {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[a-z]+$"},
                                                    "weight": {"type": "number", "minimum": 0, "maximum": 1}},
                   "required": ["name", "weight"]}})),
    ("keywords", "all_of", "allOf merging.",
     {"type": "object", "allOf": [{"properties": {"a": {"type": "integer", "minimum": 3}}, "required": ["a"]},
                                  {"properties": {"b": {"type": "string", "format": "date"}}, "required": ["b"]}]}),
]
CORPUS = FILESYSTEM + GIT + FETCH + TIME + SQLITE + MEMORY + KEYWORDS
