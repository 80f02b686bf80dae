"""Testing state machines: `sfn-local test` (cli.py), the pytest plugin (plugin.py) and pre-flight checks
(preflight.py). What they stand on lives below: the mock config in emulator/integrations/mocks.py (Task
resolution), visits, calls and assertions on an Execution in emulator/engine/trace.py."""

from emulator.integrations.mocks import MockConfig, MockConfigError, TestCase

__all__ = ["MockConfig", "MockConfigError", "TestCase"]
