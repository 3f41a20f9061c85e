"""Stripe's REST API (customers, charges, invoices, subscriptions, events), as Stripe documents it.

`data` builds the seeded records, `params` checks each endpoint's documented parameters,
`routes` answers requests and `faults` renders Stripe's own error bodies.
"""

from emulators.stripe.routes import App

__all__ = ["App"]
