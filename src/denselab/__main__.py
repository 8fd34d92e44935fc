from denselab.cli import main

raise SystemExit(main())
