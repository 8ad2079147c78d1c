"""Pure-Python twin: aggregate (being written; see docs/algorithms.md)."""
def aggregate_responses(responses):
    raise NotImplementedError("aggregate twin is being written")
