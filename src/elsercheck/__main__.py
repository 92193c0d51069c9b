from elsercheck.cli import script

raise SystemExit(script())
