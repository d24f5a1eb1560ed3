from memhead.cli import main

raise SystemExit(main())
