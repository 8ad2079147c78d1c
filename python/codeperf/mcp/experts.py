"""The experts MCP server: the engine's analysis, consensus and aggregation as tools.

`analyze_responses`, `compute_consensus` and `aggregate_responses` are CPU-bound
(they run the engine on the active backend, in a worker thread so the event
loop keeps answering other requests); `consult` is I/O-bound: it fans a query
out to the configured experts through the Circle of Experts orchestrator.

Every CPU tool takes either `responses` (a list of expert answers) or a corpus
size (`corpus_n` answers of `corpus_size_bytes` each, generated
deterministically by `codeperf.engine.corpus` and cached in the server), so a
benchmark can exercise the engine without shipping megabytes per call.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Literal

import anyio
import click
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from codeperf.mcp import serve

MAX_CORPUS = 1000
EXPERTS_FILE_ENV = "CODEPERF_EXPERTS_FILE"


class ExpertAnswer(BaseModel):
    """One expert's answer, as the engine takes it."""

    expert: str
    model: str
    content: str
    confidence: float = Field(ge=0.0, le=1.0)
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


@functools.lru_cache(maxsize=16)
def _corpus(n: int, size_bytes: int, seed: int) -> tuple[Any, ...]:
    from codeperf.engine.corpus import generate_responses

    return tuple(generate_responses(n, size_bytes, seed=seed))


def _inputs(responses: list[ExpertAnswer] | None, corpus_n: int, corpus_size_bytes: int,
            corpus_seed: int) -> list[Any]:
    if responses:
        return [r.model_dump() for r in responses]
    if not 1 <= corpus_n <= MAX_CORPUS:
        raise ToolError(f"give `responses`, or corpus_n within 1..{MAX_CORPUS}")
    if not 64 <= corpus_size_bytes <= 1024 * 1024:
        raise ToolError("corpus_size_bytes must be within 64..1048576")
    return list(_corpus(corpus_n, corpus_size_bytes, corpus_seed))


async def _engine(fn_name: str, inputs: list[Any], **kwargs: Any) -> dict[str, Any]:
    import codeperf.engine as engine

    fn = getattr(engine, fn_name)
    try:
        result = await anyio.to_thread.run_sync(functools.partial(fn, inputs, **kwargs))
    except NotImplementedError:
        raise ToolError(f"engine.{fn_name} is not implemented in this build") from None
    except (ValueError, TypeError) as exc:
        raise ToolError(f"engine.{fn_name} rejected the input: {exc}") from None
    # The consensus matrix is an array('d'): MCP results are JSON.
    return {"backend": engine.active_backend(), "result": engine.jsonable(result)}


def build(experts_file: str | None = None, simulator_url: str | None = None) -> serve.MCPServer:
    server = serve.new_server("codeperf-experts",
                              "Circle of Experts: engine analysis/consensus/aggregation, and consult.")

    @server.tool()
    async def analyze_responses(responses: list[ExpertAnswer] | None = None, corpus_n: int = 10,
                                corpus_size_bytes: int = 2048, corpus_seed: int = 0) -> dict[str, Any]:
        """Engine analysis of expert answers (or of a generated corpus when `responses` is empty)."""
        return await _engine("analyze_responses",
                             _inputs(responses, corpus_n, corpus_size_bytes, corpus_seed))

    @server.tool()
    async def compute_consensus(responses: list[ExpertAnswer] | None = None, corpus_n: int = 10,
                                corpus_size_bytes: int = 2048, corpus_seed: int = 0,
                                threshold: float = 0.7,
                                similarity: Literal["cosine", "jaccard"] = "cosine") -> dict[str, Any]:
        """Engine consensus of expert answers (cosine or Jaccard similarity)."""
        return await _engine("compute_consensus",
                             _inputs(responses, corpus_n, corpus_size_bytes, corpus_seed),
                             threshold=threshold, similarity=similarity)

    @server.tool()
    async def aggregate_responses(responses: list[ExpertAnswer] | None = None, corpus_n: int = 10,
                                  corpus_size_bytes: int = 2048, corpus_seed: int = 0) -> dict[str, Any]:
        """Engine aggregation of expert answers into one report."""
        return await _engine("aggregate_responses",
                             _inputs(responses, corpus_n, corpus_size_bytes, corpus_seed))

    @server.tool()
    def engine_backend() -> str:
        """The engine backend this server runs: rust or python."""
        import codeperf.engine as engine

        return engine.active_backend()

    @server.tool()
    async def consult(query: str, quorum: int = 0) -> dict[str, Any]:
        """Ask the configured experts `query` through the orchestrator (answer from the first
        `quorum` experts; 0 = a majority): per-expert calls, consensus and aggregation."""
        from codeperf.mcp import consult as consult_mod

        return await consult_mod.consult(query, experts_file or os.environ.get(EXPERTS_FILE_ENV),
                                         simulator_url, quorum=quorum)

    return server


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--experts", "experts_file", type=click.Path(dir_okay=False), default=None,
              help=f"Experts TOML file for `consult` (default: ${EXPERTS_FILE_ENV}).")
@click.option("--simulator-url", default=None,
              help="Base URL of a running experts simulator, for experts with base_url = \"simulator\" "
                   "(default: $CODEPERF_SIMULATOR_URL).")
@serve.transport_options
def main(experts_file: str | None, simulator_url: str | None, transport: str, host: str, port: int,
         stdio_transport: str) -> None:
    """Run the codeperf experts MCP server."""
    serve.run(build(experts_file, simulator_url), transport, host, port, stdio_transport)


if __name__ == "__main__":
    main()
