"""awsglue.utils: job arguments as Glue passes them (`--KEY value`)."""

from emulator.glue_runtime import get_resolved_options

getResolvedOptions = get_resolved_options

__all__ = ["getResolvedOptions"]
