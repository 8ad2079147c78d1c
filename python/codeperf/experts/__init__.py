"""codeperf.experts"""
