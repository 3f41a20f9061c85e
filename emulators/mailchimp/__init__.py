"""Mailchimp Marketing API 3.0: lists, list members and campaigns, count/offset, problem+json.

`data` seeds the records, `records` renders them, `members` and `listings` find them,
`routes` serves the endpoints and `faults` renders Mailchimp's refusals.
"""

from __future__ import annotations

from emulators.mailchimp.routes import Routes


class App(Routes):
    """The emulated Mailchimp account the server mounts at /mailchimp."""


__all__ = ["App"]
