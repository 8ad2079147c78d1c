"""Beyond one machine, on one: a two-node local Ray cluster (ray.cluster_utils.Cluster).

Workers joining the cluster by address land on both nodes, and the merged
counts equal the sum of what each worker sent.
"""

from __future__ import annotations

import asyncio
import functools

import pytest

from codeperf.load import ops, schedules
from codeperf.load.workers import Plan, WorkerPool


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    # Small nodes: one CPU each (one worker per node) and a small object store.
    nodes = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "include_dashboard": False, "object_store_memory": 80 * 1024 * 1024})
    nodes.add_node(num_cpus=1, object_store_memory=80 * 1024 * 1024)
    nodes.wait_for_nodes()
    try:
        yield nodes
    finally:
        nodes.shutdown()


def test_workers_land_on_both_nodes_and_counts_add_up(cluster):
    with WorkerPool(2, address=cluster.address) as pool:
        plan = Plan("open", functools.partial(ops.sleep_op, delay_s=0.001), targets=[],
                    schedule=schedules.constant(300), duration_s=0.5)
        merged, sides, _ = asyncio.run(pool.run(plan))
    nodes = {p["node"] for p in merged.placements}
    assert len(nodes) == 2, merged.placements
    assert merged.sent == sum(w.sent for w in merged.workers) == 150
    assert merged.ok == sum(w.ok for w in merged.workers)
    assert sorted(sides[0]["indices"] + sides[1]["indices"]) == list(range(150))
