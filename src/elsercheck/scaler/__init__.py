"""Elasticsearch's adaptive allocations scaler as pure units (no clock, no I/O).

Shared by the reference server's simulated ML node (which scales its deployments with it) and
the load run's expectations (which replay it on the stats a target reported, to know when
Elasticsearch's scaler would have reacted to the arrivals a run offered).
"""
