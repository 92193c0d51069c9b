"""The wire: what every request meets before and after a handler (error envelope, router,
JSON bodies, time values, Java-style formatting, authentication and privileges)."""
