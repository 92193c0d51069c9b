"""What can be broken on purpose: deliberate defects (the gate must catch them) and
injectable faults (the gate must survive them)."""
