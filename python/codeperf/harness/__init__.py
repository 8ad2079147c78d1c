"""Measurement: stats, histograms, load models, memory sampling, environment capture, the result envelope, targets."""
