from elsercheck.cli import main

raise SystemExit(main())
