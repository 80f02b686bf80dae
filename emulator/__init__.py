"""sfn-local: run AWS Step Functions state machines locally."""
