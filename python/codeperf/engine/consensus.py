"""Pure-Python twin: consensus (being written; see docs/algorithms.md)."""
def compute_consensus(responses, threshold=0.7, similarity="cosine"):
    raise NotImplementedError("consensus twin is being written")
