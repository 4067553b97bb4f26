from socialopt.cli import main

raise SystemExit(main())
