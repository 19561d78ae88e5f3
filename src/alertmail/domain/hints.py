"""What to change, per rule, in the words of the provider in use.

Each `Hint` has a generic text and, where their servers mean something particular, texts for
Microsoft (Exchange Online) and Google; those are shown only when the relay or the OAuth endpoint is
theirs. Texts may name {host}, {port}, {timeout} and {program}; `{retry}` becomes a promise that
alertmail tries again only where something does (a queued message), never for a test e-mail or a
sign-in, which nobody retries.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["API_NETWORK_HINTS", "HINTS", "OFFERS_GRAPH", "Hint", "hint_text"]

# The rules (classification_rules.py) whose hint offers E-mail Type Microsoft Graph: Exchange Online
# refuses SMTP AUTH. The web page links them to Mail Settings with Graph chosen.
OFFERS_GRAPH = ("smtp_auth_disabled", "basic_auth_disabled_exchange")


@dataclass(frozen=True)
class Hint:
    generic: str
    microsoft: str = ""
    google: str = ""

    def for_provider(self, provider: str) -> str:
        specific = {"microsoft": self.microsoft, "google": self.google}.get(provider, "")
        return specific or self.generic


_RETRY = {
    "delivery": "alertmail tries again.",
    "test": "A test e-mail is not retried: send it again later.",
    "sign_in": "A sign-in is not retried: try it again later.",
    "none": "",  # not retryable: no promise at all
}

_EXO_LIMITS = (
    "Exchange Online accepts 30 messages a minute, 10,000 recipients a day and 3 connections per mailbox."
)
_SIGN_IN_AGAIN = "Sign In again (Mail Settings)."
_GRAPH_GUIDE = (
    "The guide Mail Settings > Sending with Microsoft Graph says how: the Application permission "
    "Mail.Send with admin consent, scoped to the sending mailbox with Exchange's RBAC for Applications."
)
# 5.7.139 SmtpClientAuthentication disabled: no SMTP login works, OAuth2 included; Graph does.
_EXO_SMTP_AUTH_OFF = (
    "SMTP AUTH is turned off for the tenant or for this mailbox, so Exchange Online refuses every "
    "SMTP login, OAuth2 included. Send without it: set the E-mail Type to Microsoft Graph (sendMail); "
    "Tenant ID, Client ID and Client Secret Value carry over. " + _GRAPH_GUIDE + " Or turn SMTP AUTH "
    "on: Microsoft 365 admin center > Users > Active users > the mailbox > Mail > Manage email apps > "
    "Authenticated SMTP (the organisation-wide setting in the Exchange admin center must allow it too)."
)

HINTS: dict[str, Hint] = {
    "dns_temporary": Hint(
        "This appliance's DNS servers could not answer for {host} just now. {retry} If it lasts, "
        "check the DNS servers configured on this appliance."
    ),
    "dns_no_such_name": Hint(
        "The name {host} does not exist in DNS. Check the SMTP Server Hostname for typing errors "
        "(for example smtp.gmail.com, smtp.office365.com)."
    ),
    "implicit_tls_port": Hint(
        "{host}:{port} expects TLS from the first byte and never greets a plain connection. Set the "
        "SMTP Encryption to TLS for port 465, or use port 587 with STARTTLS."
    ),
    "no_greeting": Hint(
        "The connection to {host}:{port} opened but the server sent no greeting within {timeout} "
        "seconds. Check the SMTP Port and Encryption (465 is TLS from the start); a proxy or an "
        "overloaded server can also hold the greeting. {retry}"
    ),
    "connect_timeout": Hint(
        "Nothing answered on {host}:{port} in time. Check the SMTP Port, and that a firewall lets "
        "this appliance connect out to that port (many networks block port 25). {retry}"
    ),
    "unreachable": Hint(
        "This appliance has no network route to {host}. Check its default gateway and routes (or "
        "IPv6 connectivity, if the name resolves to an IPv6 address). {retry}"
    ),
    "connect_refused": Hint(
        "{host} refused the connection on port {port}. Check the SMTP Port (587 for STARTTLS, "
        "465 for TLS, 25 for a plain relay) and that the mail service is running. {retry}"
    ),
    "tls_expired": Hint(
        "The certificate {host} presents has expired (or is not valid yet). The relay's "
        "administrator must renew it; also check that this appliance's clock is right. Adding a "
        "trusted CA does not help."
    ),
    "tls_mismatch": Hint(
        "The certificate {host} presents is issued for another name. Set the SMTP Server Hostname to "
        "the name on the certificate (not an IP address or an alias)."
    ),
    "tls_untrusted": Hint(
        "The certificate of {host} is signed by a CA this appliance does not trust (a private or "
        "self-signed CA). Paste that CA's certificate into Trusted CA."
    ),
    "tls_certificate": Hint(
        "The certificate of {host} failed validation. Make sure the Hostname is the name on the "
        "certificate; if the relay uses a private CA, paste that CA into Trusted CA."
    ),
    "tls_mode": Hint(
        "{host}:{port} did not speak TLS where TLS was expected. Check the SMTP Encryption: port 465 "
        "speaks TLS from the start, ports 587 and 25 use STARTTLS."
    ),
    "tls_version": Hint(
        "{host} and this appliance share no TLS version: alertmail needs TLS 1.2 or later, so the "
        "relay must be upgraded, or another relay used."
    ),
    "tls_handshake": Hint(
        "Check the SMTP Encryption: port 465 speaks TLS from the start, port 587 uses STARTTLS, "
        "and a plain relay (None) speaks no TLS at all."
    ),
    "starttls_not_offered": Hint(
        "{host}:{port} does not offer STARTTLS, so nothing was sent, credentials least of all. "
        "Use port 587 with STARTTLS or 465 with TLS; choose None only on a trusted network."
    ),
    "starttls_required": Hint(
        "The relay accepts commands only over TLS. Set the SMTP Encryption to STARTTLS (port 587) "
        "or TLS (port 465)."
    ),
    "quota": Hint(
        "The account has reached its sending limit. {retry} If this repeats, send less or raise the "
        "account's quota.",
        microsoft="The mailbox has reached Exchange Online's sending limit. {retry} " + _EXO_LIMITS,
        google="The account has reached Gmail's daily sending limit (about 2,000 messages for Google "
        "Workspace, 500 for a free account). {retry}",
    ),
    "greylisted": Hint(
        "The receiving server defers first deliveries from unknown senders (greylisting). {retry}"
    ),
    "policy_deferred": Hint(
        "The server deferred the message by policy, most often greylisting (a first delivery from an "
        "unknown sender waits a few minutes). {retry} If it never passes, ask the receiving side to "
        "allow this relay."
    ),
    "send_as": Hint(
        "The account may not send as the From Address. Set the From Address to the address the "
        "Username signs in as, or have the relay allow that sender.",
        microsoft="The mailbox may not send as the From Address. Set the From Address to the mailbox "
        "that signs in, or grant that mailbox Send As permission in Exchange.",
        google="Gmail sends only as the signed-in account or a verified 'Send mail as' alias: set the "
        "From Address to one of them.",
    ),
    "basic_auth_unsupported": Hint(
        "This tenant does not accept username and password for sending: switch the E-mail "
        "Authentication Type to OAuth2."
    ),
    "auth_disabled": Hint(
        "The relay has turned off password login (SMTP AUTH) for this account. Enable it there, or "
        "switch the E-mail Authentication Type to OAuth2.",
        microsoft=_EXO_SMTP_AUTH_OFF,
    ),
    "exchange_smtp_auth_disabled": Hint(_EXO_SMTP_AUTH_OFF),
    "exchange_basic_auth_disabled": Hint(
        "Exchange Online no longer accepts a password here: basic authentication is disabled for "
        "the tenant (security defaults or an authentication policy). Switch the E-mail "
        "Authentication Type to OAuth2, or the E-mail Type to Microsoft Graph (sendMail), which "
        "needs no SMTP AUTH at all. " + _GRAPH_GUIDE
    ),
    "xoauth2_rejected": Hint(
        "The relay refused a freshly issued access token. Check that the Username is the account "
        "that signed in and that the app may send mail.",
        microsoft="Exchange Online refused a freshly issued access token. Check that the Username is "
        "the mailbox that signed in, that the app has the SMTP.Send permission, and that "
        "Authenticated SMTP is enabled for the mailbox.",
        google="Gmail refused a freshly issued access token. Check that the Username is the account "
        "that signed in and that the scope is https://mail.google.com/.",
    ),
    "auth_type": Hint(
        "The relay does not offer the login this appliance tried. Change the E-mail Authentication "
        "Type: None for a relay that accepts mail without login, or the type the relay supports "
        "(many offer login only after STARTTLS)."
    ),
    "auth_temporary": Hint("The relay could not check the login just now. {retry}"),
    "app_password": Hint(
        "The account needs an app password instead of its normal password, or OAuth2.",
        google="Google refuses the account's normal password here (2-Step Verification): create an "
        "app password for the Password field, or use OAuth2.",
    ),
    "credentials": Hint(
        "The relay refused the Username and Password. Check both (the Username is often the full address).",
        microsoft="Exchange Online refused the login. Check the Username and Password; also check "
        "that Authenticated SMTP is enabled for the mailbox and that security defaults or MFA do "
        "not block basic authentication (OAuth2 avoids both).",
        google="Google did not accept the username and password: use an app password (2-Step "
        "Verification), or OAuth2.",
    ),
    "auth_required": Hint(
        "The relay requires a login before it accepts mail: set the E-mail Authentication Type to "
        "Username and Password or OAuth2, with the relay's credentials."
    ),
    "domain_authentication": Hint(
        "The receiving side refused the sender's domain authentication (SPF, DKIM or DMARC). Publish "
        "an SPF record that includes this relay and sign with DKIM, or send from a domain that does."
    ),
    "client_host": Hint(
        "The relay refused this appliance itself: its IP address has no reverse DNS name, or the "
        "name it announces (HELO) is not a fully qualified host name. Give the appliance's public "
        "IP a PTR record and a proper host name, or send through an authenticated relay."
    ),
    "relay_denied": Hint(
        "The relay will not pass mail on to that recipient's domain for this appliance. Log in to the "
        "relay (E-mail Authentication Type) or have its administrator allow this appliance's IP."
    ),
    "sender": Hint(
        "The relay refused the From Address (its domain does not resolve, or the relay does not "
        "accept it). Set a From Address in a real domain that this relay sends for."
    ),
    "size": Hint(
        "The message is larger than the relay accepts. Send smaller notices (no large attachments), "
        "or raise the relay's message size limit."
    ),
    "too_many_recipients": Hint(
        "The relay limits recipients per message. Use fewer admin contacts per notice, or a "
        "distribution list. {retry}"
    ),
    "mailbox_full": Hint(
        "That recipient's mailbox is full or disabled; other recipients are not affected. Ask its "
        "owner to make room, or change the address."
    ),
    "recipient_busy": Hint("That recipient is receiving mail faster than its server accepts. {retry}"),
    "recipient": Hint(
        "The server refused a recipient address. Check the address for typing errors: the "
        "administrator's e-mail or the admin contacts."
    ),
    "throttled": Hint(
        "The relay asks to slow down. {retry} If it repeats, send fewer messages per minute "
        "(messages per minute, connections).",
        microsoft="Exchange Online asks to slow down. {retry} " + _EXO_LIMITS,
        google="Gmail asks to slow down (too many messages, logins or connections). {retry}",
    ),
    "policy": Hint(
        "The server refused by policy; the reply says why. Check that the From Address may send "
        "through this relay and that the relay accepts mail from this appliance's address."
    ),
    "content": Hint("The server refused the message's content or format; the reply says why."),
    "transient": Hint("The server reported a temporary problem. {retry}"),
    "permanent": Hint("The server refused the message; the reply text says why."),
    "native_temporary": Hint("The local mail program could not deliver for now. {retry}"),
    "native": Hint(
        "The local mail program ({program}) failed. Check that a sendmail-compatible MTA is "
        "installed and configured, or use an SMTP relay."
    ),
    "connection_lost": Hint("The connection to the server failed part-way. {retry}"),
}


_API_REACH = (
    "Check the Graph Endpoint (or Gmail Endpoint) in Mail Settings, and that a firewall or proxy lets "
    "this appliance reach {host} over HTTPS (port {port}). {retry}"
)
# A mail API is reached over HTTPS, not through an SMTP port: its own words for the network rules.
API_NETWORK_HINTS: dict[str, str] = {
    "dns_no_such_name": "The name {host} does not exist in DNS. Check the Graph Endpoint (or Gmail "
    "Endpoint): https://graph.microsoft.com, https://graph.microsoft.us, https://gmail.googleapis.com.",
    "no_greeting": _API_REACH,
    "connect_timeout": _API_REACH,
    "connect_refused": "{host} refused the connection on port {port}. " + _API_REACH,
    "tls_mode": "{host}:{port} did not speak TLS: the Graph Endpoint (or Gmail Endpoint) must be https://.",
    "tls_handshake": "The TLS handshake with {host} failed. If a proxy inspects HTTPS on this network, "
    "paste its CA into Trusted CA.",
    "connection_lost": "The connection to {host} failed part-way. {retry}",
}


def hint_text(key: str, provider: str, purpose: str, *, api: bool = False, **facts: str) -> str:
    """The hint for rule key `key`, fitted to `provider` and to what is being done (`purpose`);
    `api`: the failure reaching a mail API over HTTPS, not an SMTP relay."""
    if api and key in API_NETWORK_HINTS:
        text = API_NETWORK_HINTS[key]
    else:
        text = HINTS[key].for_provider(provider) if key in HINTS else key
    return " ".join(text.format(retry=_RETRY.get(purpose, _RETRY["delivery"]), **facts).split())
