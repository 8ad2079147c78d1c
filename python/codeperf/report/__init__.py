"""codeperf.report"""
