"""``coordinator webhook serve``: GitHub's webhook deliveries, signed with a shared secret, straight into the
same ingest as ``coordinator ingest``.

- :mod:`.signature` checks ``X-Hub-Signature-256`` (pure);
- :mod:`.app` is the WSGI application: HTTP checks, then the delivery is handed to the worker and answered;
- :mod:`.worker` processes the deliveries one at a time, in order, after they were answered;
- :mod:`.handler` turns one delivery into an ingest call;
- :mod:`.server` runs the application under waitress until SIGTERM or Ctrl-C, then shuts down gracefully;
- :mod:`.service` puts them together with the ingest of :mod:`coordinator.github.wiring`.

This package module itself imports nothing, so the CLI can read the defaults without loading waitress.
"""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
