"""`python -m emulators`: run the vendor emulators."""

from emulators.server import main

raise SystemExit(main())
