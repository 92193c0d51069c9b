"""Capacity of an ELSER deployment: the sweep, the knee, and the recommended settings."""
