"""Errors the tap expects and reports as one clear line, without a traceback."""

from __future__ import annotations


class TapError(Exception):
    """An expected failure: bad configuration, rejected credentials, a vendor refusing.

    The message is shown to the user as it is, so it must name what is wrong and
    must already be free of secrets.
    """


class VendorAuthError(TapError):
    """The vendor rejected the configured credentials."""
