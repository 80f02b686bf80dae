"""awsglue.transforms: Glue's transform classes, each `Transform.apply(frame=..., ...)` or `Transform()(...)`.

They call the DynamicFrame methods of the same meaning (see awsglue.dynamicframe for how those
differ from Glue's). FillMissingValues and FindMatches live in awsglueml and need the AWS service.
"""

from __future__ import annotations

from typing import Any

from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection


class GlueTransform:
    """Base of the transforms: `apply` builds one and calls it."""

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        return cls()(*args, **kwargs)

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class ApplyMapping(GlueTransform):
    def __call__(self, frame: DynamicFrame, mappings: list[tuple[str, ...]], case_sensitive: bool = False,
                 transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame.apply_mapping(mappings, case_sensitive, transformation_ctx)


class ResolveChoice(GlueTransform):
    def __call__(self, frame: DynamicFrame, specs: list[tuple[str, str]] | None = None, choice: str = "",
                 database: str | None = None, table_name: str | None = None, transformation_ctx: str = "",
                 **_: Any) -> DynamicFrame:
        return frame.resolveChoice(specs, choice, database, table_name, transformation_ctx)


class DropNullFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame.drop_null_fields(transformation_ctx)


class SelectFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, paths: list[str], transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame.select_fields(paths, transformation_ctx)


class DropFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, paths: list[str], transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame.drop_fields(paths, transformation_ctx)


class RenameField(GlueTransform):
    def __call__(self, frame: DynamicFrame, old_name: str, new_name: str, transformation_ctx: str = "",
                 **_: Any) -> DynamicFrame:
        return frame.rename_field(old_name, new_name, transformation_ctx)


class Filter(GlueTransform):
    def __call__(self, frame: DynamicFrame, f: Any, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame.filter(f, transformation_ctx)


class Map(GlueTransform):
    def __call__(self, frame: DynamicFrame, f: Any, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame.map(f, transformation_ctx)


class Join(GlueTransform):
    def __call__(self, frame1: DynamicFrame, frame2: DynamicFrame, keys1: list[str], keys2: list[str],
                 transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame1.join(keys1, keys2, frame2, transformation_ctx)


class SplitFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, paths: list[str], name1: str | None = None, name2: str | None = None,
                 transformation_ctx: str = "", **_: Any) -> DynamicFrameCollection:
        return frame.split_fields(paths, name1 or f"{frame.name}1", name2 or f"{frame.name}2", transformation_ctx)


class SplitRows(GlueTransform):
    def __call__(self, frame: DynamicFrame, comparison_dict: dict[str, dict[str, Any]], name1: str = "frame1",
                 name2: str = "frame2", transformation_ctx: str = "", **_: Any) -> DynamicFrameCollection:
        return frame.split_rows(comparison_dict, name1, name2, transformation_ctx)


class Relationalize(GlueTransform):
    def __call__(self, frame: DynamicFrame, staging_path: str = "", name: str = "roottable",
                 options: dict[str, Any] | None = None, transformation_ctx: str = "",
                 **_: Any) -> DynamicFrameCollection:
        return frame.relationalize(name, staging_path, options, transformation_ctx)


class UnnestFrame(GlueTransform):
    def __call__(self, frame: DynamicFrame, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame.unnest(transformation_ctx)


class Unbox(GlueTransform):
    def __call__(self, frame: DynamicFrame, path: str, format: str, transformation_ctx: str = "",
                 **options: Any) -> DynamicFrame:
        return frame.unbox(path, format, transformation_ctx, **options)


class Spigot(GlueTransform):
    def __call__(self, frame: DynamicFrame, path: str, options: dict[str, Any] | None = None,
                 transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return frame.spigot(path, options, transformation_ctx)


class SelectFromCollection(GlueTransform):
    def __call__(self, dfc: DynamicFrameCollection, key: str, transformation_ctx: str = "", **_: Any) -> DynamicFrame:
        return dfc.select(key)


__all__ = ["ApplyMapping", "DropFields", "DropNullFields", "Filter", "GlueTransform", "Join", "Map", "Relationalize",
           "RenameField", "ResolveChoice", "SelectFields", "SelectFromCollection", "Spigot", "SplitFields",
           "SplitRows", "Unbox", "UnnestFrame"]
