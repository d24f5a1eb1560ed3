"""memhead as an MCP server: the tools (``tools.py``) and their transports (``server.py``):
stdio for ``memhead mcp``, Streamable HTTP at ``/mcp`` inside ``memhead serve``."""
