"""awsglueml.transforms: FindMatches and friends run on trained models in the AWS Glue service."""

from __future__ import annotations

from typing import Any, NoReturn

from emulator.glue_runtime import NotAvailableLocallyError


class _MLTransform:
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotAvailableLocallyError(f"awsglueml.transforms.{cls.__name__}.apply",
                                       "ML transforms run on models trained in the AWS Glue service")

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self.apply()


class FindMatches(_MLTransform):
    pass


class FindIncrementalMatches(_MLTransform):
    pass


class EntityDetector(_MLTransform):
    pass


__all__ = ["EntityDetector", "FindIncrementalMatches", "FindMatches"]
