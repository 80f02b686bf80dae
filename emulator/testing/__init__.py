"""Testing state machines: AWS Step Functions Local's mock config (mocks.py), `sfn-local test` (cli.py),
the pytest plugin (plugin.py), execution reports and assertions (report.py) and pre-flight checks
(preflight.py)."""

from emulator.testing.mocks import MockConfig, MockConfigError, TestCase

__all__ = ["MockConfig", "MockConfigError", "TestCase"]
