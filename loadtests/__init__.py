"""Load-test scenarios (locust), filled in by the load-test issue."""
