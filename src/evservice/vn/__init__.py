"""Vietnamese specifics: tax codes (MST), amounts in words, phone numbers, ASCII folding."""

from evservice.vn import _mst as mst

__all__ = ["mst"]
