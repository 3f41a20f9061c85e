"""The bad-day kit: contacts, open work and a report that opens with nothing running."""
