"""The request rules of the inference API: ids and task types, ``service_settings``,
``chunking_settings`` and the endpoint configuration they build, each citing ES's source."""
