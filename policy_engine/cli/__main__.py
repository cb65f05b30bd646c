"""`python -m policy_engine.cli`."""

from policy_engine.cli._main import main

raise SystemExit(main())
