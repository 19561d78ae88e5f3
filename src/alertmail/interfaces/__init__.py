"""Interfaces: the REST API, the CLI and (later) the web UI. Thin: parse, call a service, render."""
