"""Pure domain: settings model and validation, error classification, messages. No I/O here."""
