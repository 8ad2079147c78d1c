"""Concurrency measured on the wire (client) and at the endpoint (simulator), not by the generator."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from codeperf.load import wiretrace
from codeperf.load.querystats import QueryStats
from codeperf.load.wiretrace import WireTrace
from codeperf.load import loadgen
from _experts_fixtures import circle, run, simulator

SLOW3 = ("t-slow", "t-slow", "t-slow")  # 150 ms to first token: every query stays on the wire


def _queries(sim, experts, concurrency, n):
    """Run n queries on `concurrency` closed-model workers; the trace and the endpoint's peak."""
    async def go():
        stats, wire = QueryStats(experts), WireTrace(len(experts.experts))
        urls = [e.base_url for e in experts.experts]
        async with aiohttp.ClientSession() as admin:
            await wiretrace.reset_endpoint_peaks(admin, urls)
        async with aiohttp.ClientSession(trace_configs=[wire.config]) as session:
            load = await loadgen.run_closed(wire.wrap(stats.op(session, quorum=3)),
                                            concurrency=concurrency, max_requests=n)
        async with aiohttp.ClientSession() as admin:
            peaks = await wiretrace.endpoint_peaks(admin, urls)
        return load, wire, peaks

    return go()


def test_simulator_reports_the_most_requests_it_served_at_once():
    async def go():
        async with simulator() as sim:
            experts = circle(sim.base_url, *SLOW3, stream=True)
            load, wire, peaks = await _queries(sim, experts, concurrency=10, n=10)
            return sim, load, wire, peaks

    sim, load, wire, peaks = run(go())
    assert load.ok == 10
    assert sim.max_in_flight == 30 and sim.in_flight == 0
    assert peaks == {sim.base_url: 30}
    assert wire.max_queries_on_wire == 10 and wire.queries_on_wire == 0
    assert wiretrace.endpoint_queries(peaks, {sim.base_url: 3}) == 10


def test_sequential_queries_are_one_at_a_time_on_both_ends():
    # The generator's counter would say 1 here too; what matters is that both
    # measures follow what was sent, so they can also come out below the level.
    async def go():
        async with simulator() as sim:
            experts = circle(sim.base_url, *SLOW3, stream=True)
            load, wire, peaks = await _queries(sim, experts, concurrency=1, n=3)
            return load, wire, peaks, sim.base_url

    load, wire, peaks, url = run(go())
    assert load.ok == 3 and load.max_in_flight == 1
    assert wire.max_queries_on_wire == 1
    assert peaks == {url: 3}


def test_a_query_whose_first_answer_ends_before_its_last_request_leaves_never_counts():
    # One expert answers at once, the other is only called after it (a sequential
    # op): the query never had all its requests on the wire together.
    async def go():
        async with simulator() as sim:
            wire = WireTrace(2)
            body = {"model": "t-fast", "messages": [{"role": "user", "content": "x"}]}

            async def op(i):
                async def call():
                    async with session.post(sim.base_url + "/chat/completions", json=body) as r:
                        await r.read()
                await asyncio.ensure_future(call())
                await asyncio.ensure_future(call())

            async with aiohttp.ClientSession(trace_configs=[wire.config]) as session:
                await loadgen.run_closed(wire.wrap(op), concurrency=4, max_requests=4)
            return wire, sim.max_in_flight

    wire, server_peak = run(go())
    assert wire.max_queries_on_wire == 0
    assert server_peak >= 1


def test_reset_peak_starts_a_new_peak():
    async def go():
        async with simulator() as sim, aiohttp.ClientSession() as session:
            body = {"model": "t-fast", "messages": [{"role": "user", "content": "x"}]}

            async def one():
                async with session.post(sim.base_url + "/chat/completions", json=body) as r:
                    await r.read()

            await asyncio.gather(*(one() for _ in range(5)))
            before = await wiretrace.endpoint_peaks(session, [sim.base_url])
            await wiretrace.reset_endpoint_peaks(session, [sim.base_url])
            after = await wiretrace.endpoint_peaks(session, [sim.base_url])
            return before, after, sim.base_url

    before, after, url = run(go())
    assert before == {url: 5} and after == {url: 0}


def test_an_endpoint_without_stats_is_not_measured():
    async def go():
        app = web.Application()  # an "external expert": no /admin/stats
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/v1"
        try:
            async with simulator() as sim, aiohttp.ClientSession() as session:
                return (await wiretrace.endpoint_peaks(session, [url, sim.base_url]), url,
                        sim.base_url)
        finally:
            await runner.cleanup()

    peaks, external, sim_url = run(go())
    assert peaks == {external: None, sim_url: 0}
    assert wiretrace.endpoint_queries(peaks, {external: 1, sim_url: 2}) is None


def test_endpoint_queries_is_a_lower_bound_per_endpoint():
    assert wiretrace.endpoint_queries({"a": 300}, {"a": 3}) == 100
    assert wiretrace.endpoint_queries({"a": 299}, {"a": 3}) == 100  # 299 requests, <= 3 per query
    assert wiretrace.endpoint_queries({"a": 298, "b": 99}, {"a": 3, "b": 1}) == 100
    assert wiretrace.endpoint_queries({}, {}) is None


def _scenario_ctx(tmp_path, experts):
    from codeperf.load import registry
    from codeperf.harness.envelope import Recorder

    registry.load_registered()
    recorder = Recorder("load", tmp_path, {"test": True}, environment={})
    ctx = registry.ScenarioContext(out_dir=tmp_path, quick=True, recorder=recorder,
                                   experts=experts, loadgen=loadgen,
                                   options={"levels": [4], "rounds": 1}, log=lambda line: None)
    ctx.current = "concurrent-queries"
    return ctx, registry.get("concurrent-queries")


def test_concurrent_queries_scenario_confirms_what_both_ends_saw(tmp_path):
    async def go():
        async with simulator() as sim:
            ctx, scenario = _scenario_ctx(tmp_path, circle(sim.base_url, *SLOW3, stream=True))
            return await scenario.run(ctx)

    outcome = run(go())
    level = next(e for e in outcome.entries if e["id"] == "concurrent-queries/4")["summary"]
    assert level["queries_on_wire_max_count"] == 4
    assert level["endpoint_requests_max_count"] == 12 and level["endpoint_queries_min_count"] == 4
    assert outcome.metrics["confirmed_concurrent_queries_count"] == 4


def test_concurrent_queries_against_an_endpoint_without_stats_is_not_measured(tmp_path):
    async def go():
        async with simulator() as sim:
            # An "external expert": the simulator's chat endpoint without its /admin routes.
            app = web.Application()
            app.add_routes([web.post("/v1/chat/completions", sim.chat_completions)])
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"
            try:
                ctx, scenario = _scenario_ctx(tmp_path, circle(url, *SLOW3, stream=True))
                return await scenario.run(ctx)
            finally:
                await runner.cleanup()

    outcome = run(go())
    level = next(e for e in outcome.entries if e["id"] == "concurrent-queries/4")["summary"]
    assert level["ok_count"] == 4 and level["queries_on_wire_max_count"] == 4  # the client saw 4
    assert level["endpoint_queries_min_count"] is None  # ...but the endpoint cannot say
    assert level["confirmed_concurrent_queries_count"] is None
    assert outcome.metrics["confirmed_concurrent_queries_count"] is None  # target: not measured
