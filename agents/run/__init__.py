"""Running a plan: the DAG scheduler (runner.py), one task's agent loop (agent.py) and
the synthesizer that turns task outputs into the deliverable.

May import the agents root, agents.plan, agents.llm (calls, pacing; never litellm) and
agents.tools.
"""
