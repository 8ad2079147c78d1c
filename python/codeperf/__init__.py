"""codeperf: a performance suite for a Circle of Experts engine and the engine it measures."""

# Must equal the Cargo workspace version: the compiled extension reports its own
# version and `codeperf.engine` refuses a build that does not match.
__version__ = "0.1.0"
