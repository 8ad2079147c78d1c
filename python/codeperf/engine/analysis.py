"""Pure-Python twin: analysis (being written; see docs/algorithms.md)."""
def analyze_responses(responses):
    raise NotImplementedError("analysis twin is being written")
