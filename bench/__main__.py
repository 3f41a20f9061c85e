"""`python -m bench`: every benchmark, each printing figures measured side by side in one run."""

from bench import connector, faults, stripe_sync, switch

raise SystemExit(max(stripe_sync.main([]), switch.main([]), faults.main([]), connector.main([])))
