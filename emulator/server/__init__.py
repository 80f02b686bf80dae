"""AWS's wire protocols on a local HTTP endpoint: `sfn-local serve` (see serve.py)."""

from emulator.server.serve import serve_command, start_in_thread

__all__ = ["serve_command", "start_in_thread"]
