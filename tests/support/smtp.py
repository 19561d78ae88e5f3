"""SMTP servers for tests: aiosmtpd on 127.0.0.1 port 0, trustme certificates."""
