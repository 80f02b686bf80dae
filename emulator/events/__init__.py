"""EventBridge run locally: event patterns (patterns.py), schedules (schedule.py), rules from the
project's config (rules.py) and the runner that starts their targets (runner.py). The event bus the
local services publish to is emulator/backends/events.py; `sfn-local watch` is emulator/watch.py.
"""
