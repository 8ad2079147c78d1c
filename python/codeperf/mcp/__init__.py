"""codeperf.mcp"""
