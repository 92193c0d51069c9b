"""The REST handlers, one module per API family; each exports its ``ROUTES``."""
