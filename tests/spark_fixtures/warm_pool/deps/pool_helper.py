"""A --py-files module: the warm pool must forget it between clusters."""

LOADED_BY = "first cluster"
