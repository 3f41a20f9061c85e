"""`python -m bench`: every benchmark, each printing ratios measured side by side in one run."""

from bench import stripe_sync

raise SystemExit(stripe_sync.main())
