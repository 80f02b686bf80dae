"""A step-through debugger for executions: `session` (engine side), `terminal` (REPL), `dap` (DAP server)."""
