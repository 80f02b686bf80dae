"""AWS Glue's Python library (`awsglue`) for Glue jobs run by sfn-local on the local Spark session.

Written from Glue's public documentation; see `dynamicframe.py` for how a DynamicFrame differs
from Glue's. Only importable inside Glue job runs (see emulator/glue_runtime/__init__.py).
"""

from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection

__all__ = ["DynamicFrame", "DynamicFrameCollection"]
