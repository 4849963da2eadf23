"""Tools agents can call: the `Tool` base and registry (base.py), the built-in tools,
the tool-calling loop (loop.py) and MCP servers as tools.

May import the agents root, agents.plan.roster (roles) and agents.llm.calls; no litellm.
"""
