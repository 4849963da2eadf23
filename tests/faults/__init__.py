"""Issue 13's evidence: faults, attacks and bad luck, each met with one clear line.

Here: the code sandbox (test_sandbox.py), the injection scenario end to end
(test_injection.py), storage faults: locked, read-only, full and truncated
databases (`troupe db restore`, the window's offer), deep plan files, a lock
during a run (test_storage_faults.py), MCP servers as
people configure them (test_mcp_faults.py), the smaller defects
(test_small_defects.py).

Elsewhere, next to the code they hold to:
- keys out of tools, results and the data folder: tests/agents/test_tool_secrets.py,
  tests/e2e/test_tool_secrets.py;
- `--yes` is not `--allow-risky-tools`: tests/e2e/test_cli_risky_tools.py;
- a full disk mid-run (a real 3 MB tmpfs where mounting is allowed, else a failing
  write at the storage layer): tests/app/test_full_disk.py;
- streams that stall or keep streaming: tests/agents/test_llm_adapter.py
  (test_a_stalled_stream_*, test_no_first_byte_*), tests/agents/test_runner_http.py;
- the hashed lock file: tests/packaging/test_lock.py.
"""
