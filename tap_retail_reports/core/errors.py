"""Errors the tap expects and reports as one clear line, without a traceback."""

from __future__ import annotations


class TapError(Exception):
    """An expected failure (bad configuration, rejected credentials, a vendor refusing), shown to the user as
    it is: its message names what is wrong and holds no secret."""


class VendorAuthError(TapError):
    """The vendor rejected the configured credentials."""
