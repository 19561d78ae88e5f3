"""Adapters: the outside world behind the ports of `alertmail.domain.ports`.

Each adapter translates the exceptions of the library it calls into `alertmail.errors`, and only
there: `smtp_transport` for an SMTP relay (aiosmtplib), `native_transport` for the local sendmail.
"""
