"""The classification table: one named rule per line, most specific first.

`classify` (classification.py) walks `RULES` and the first rule whose `When` holds decides. Columns:
name, conditions, category, retryable (None: as the reply class says), scope (None: by stage),
hint key (hints.py). Reply words are matched lower-cased, whitespace collapsed.
"""

from __future__ import annotations

import errno
import socket

from alertmail.domain.api_classification import API_RULES
from alertmail.domain.classification_matchers import Rule, Scope, When
from alertmail.domain.oauth_classification import OAUTH_RULES

__all__ = ["RULES"]

RELAY, MESSAGE, RECIPIENT = Scope.RELAY, Scope.MESSAGE, Scope.RECIPIENT

# getaddrinfo: Linux/BSD constants from socket, then Windows' WSA numbers.
_NO_SUCH_NAME = tuple(
    {getattr(socket, name, -2) for name in ("EAI_NONAME", "EAI_NODATA", "EAI_FAIL")} | {11001, 11004}
)
_RESOLVER_FAILING = (getattr(socket, "EAI_AGAIN", -3), 11002)
_UNREACHABLE = (errno.ENETUNREACH, errno.EHOSTUNREACH, 101, 113, 51, 65, 10051, 10065)
_TIMED_OUT = (errno.ETIMEDOUT, 110, 60, 10060)  # the kernel gave up connecting (Linux, BSD, Windows)
# OpenSSL X509_V_ERR_*: 9 not yet valid, 10 expired; 62 host name, 64 IP mismatch; untrusted chains.
_EXPIRED, _MISMATCH, _UNTRUSTED = (9, 10), (62, 64), (2, 18, 19, 20, 21, 27)

# fmt: off
_GREYLIST = r"gr[ae]y-?list|come back later"
_DAILY_LIMIT = r"daily (?:user )?sending (?:quota|limit)|sending (?:quota|limit) (?:exceeded|reached)|daily .{0,30}(?:limit|quota) exceeded|(?:e-?mail|sending|submission|message) quota exceeded|message limit exceeded|submissionquotaexceeded"
_TLS_REQUIRED = r"must issue a starttls|starttls (?:command )?first|issue (?:a )?starttls|starttls (?:is )?required|use starttls|requires? starttls|tls (?:is )?required|requires? (?:a )?(?:secure|encrypted|tls) (?:connection|channel)|(?:encryption|secure connection) (?:is )?required|must use tls"
_SEND_AS = r"(?:from|sender) address .{0,40}(?:authenticated|logged.in|login) (?:user|account)|sendasdenied|send ?as (?:permission|denied)|not allowed to send as|permissions? to send as|not owned by (?:auth(?:enticated)? )?user|from address does not match|verified sender|sender (?:address )?(?:is )?not (?:allowed|authori[sz]ed|permitted)|unauthori[sz]ed sender|not authori[sz]ed to send (?:as|from|on behalf|mail from)|not permitted to send (?:as|from)|sender identity"
_AUTH_DISABLED = r"smtpclientauthentication is disabled|smtp auth(?:entication)? (?:is )?disabled|basic authentication is disabled"
_AUTH_TYPE = r"auth(?:entication)? (?:extension |mechanism |method |type )?(?:is )?not (?:supported|enabled|available|allowed|offered)|unrecognized authentication type|no (?:suitable|supported) auth|auth(?:entication)? (?:command )?not implemented|does not support auth"
_AUTH_REQUIRED = r"not logged in|invalid credentials|without authentication|turn on smtp authentication|smtp auth(?:entication)? (?:is )?required|authentication (?:is )?required|auth(?:entication)? required|not authenticated|must (?:be )?authenticat|please authenticate|unauthenticated (?:senders?|relay|mail)|requires? auth|authentication needed|client was not authenticated|login required|mail received as unauthenticated"
_DOMAIN_AUTH = r"\bspf\b|dmarc|dkim|sender policy framework|this mail is unauthenticated|\b[45]\.7\.2[0-46]\b"
_CLIENT_HOST = r"reverse (?:dns|hostname|lookup|dns lookup)|ptr record|\brdns\b|cannot find your (?:reverse )?hostname|client host rejected|helo command rejected|fully-qualified (?:host|domain)|invalid helo|ehlo .*(?:rejected|invalid)|helo .*(?:rejected|invalid)"
_SENDER = r"unresolvable .{0,30}domain|from domain|sender address|sender domain|domain not found|sender verify failed|unverified sender|bad sender|invalid sender|sender .{0,40}(?:does not exist|unknown|invalid)|return path|envelope (?:sender|from)"
_RELAY_DENIED = r"relay(?:ing)? (?:access )?(?:is )?(?:denied|disallowed|not permitted|not allowed|prohibited)|unable to relay|not permitted to relay|we do not relay|relay not (?:permitted|allowed)|tenantattribution|cannot relay|relay access"
_SIZE = r"size (?:limit|exceed)|message (?:is )?too (?:large|big)|too (?:large|big) for|exceeds? (?:the )?(?:maximum|max|size|fixed|message size)|message length exceeds|maximum (?:message )?size|requestentitytoolarge"
_MAILBOX_FULL = r"mailbox (?:is )?full|over ?quota|quota exceeded|mailbox size limit|out of storage|storage (?:allocation|quota|limit)|insufficient (?:storage|space) for|full mailbox"
_ONE_RECIPIENT_FAST = r"receiving mail (?:too quickly|at a rate)|recipient .{0,30}(?:too many|rate)"
_RECIPIENT = r"verify (?:the )?address|unverified|user unknown|unknown user|no such (?:user|mailbox|recipient|address)|does ?n[o']t exist|not exist|invalid (?:recipient|mailbox|address)|recipient|mailbox (?:unavailable|not found|disabled|inactive|does)|address rejected|undeliverable|not found|unrouteable|unknown (?:recipient|mailbox|address)|account (?:is )?(?:disabled|inactive|suspended)|no mailbox|not a valid"
_THROTTLE = r"try again in \d+ ?(?:s\b|sec)|rate.?limit|too many (?:messages|mails|e-?mails|connections|concurrent|login|auth|requests|sessions|recipients? (?:per|in)|commands)|too fast|too quickly|throttl|slow down|sending limit|relay limit|limit exceeded|exceeded .{0,40}limit|thread limit|concurrent|server busy|\bbusy\b|congest|temporarily (?:deferred|blocked|rate)|unusual rate|ratelimit|too much mail|excessive"
_BLOCKED = r"unsolicited|block(?:ed|list)|blacklist|spamhaus|\brbl\b|dnsbl|not in whitelist|reputation|\bspam|banned|access denied|not allowed|prohibit|refused|rejected|denied|policy"
# A 4xx says "later" by itself; only words that name a policy make it one.
_BLOCKED_BY_NAME = r"block(?:ed|list)|blacklist|spamhaus|\brbl\b|dnsbl|not in whitelist|reputation|\bspam|banned|policy"
_TLS_MODE = r"wrong version number|unknown protocol|packet length too long|record layer failure|http request|wrong_version"
_TLS_VERSION = r"unsupported protocol|protocol version|no protocols available|version too low"
_UNREACHABLE_WORDS = r"network is unreachable|no route to host|host is unreachable|enetunreach|ehostunreach"
_CONNECTION_LOST = r"connection (?:unexpectedly )?closed|reset by peer|disconnected|broken pipe|\beof\b|connection lost|connection reset|aborted"

# fmt: on

# fmt: off
RULES: tuple[Rule, ...] = (
    *API_RULES,
    *OAUTH_RULES,
    # --- before a reply: the name, the connection, TLS -------------------------------------
    Rule("dns_resolver_failing", When(kind="dns", resolver=_RESOLVER_FAILING), "dns", True, RELAY, "dns_temporary"),
    Rule("dns_resolver_words", When(kind="dns", words=r"temporary failure|eai_again|servfail|try again"), "dns", True, RELAY, "dns_temporary"),
    Rule("dns_no_such_name", When(kind="dns", resolver=_NO_SUCH_NAME), "dns", False, RELAY, "dns_no_such_name"),
    Rule("dns_no_such_name_words", When(kind="dns", words=r"not known|no such host|nxdomain|no address|enotfound|host not found|unknown host"), "dns", False, RELAY, "dns_no_such_name"),
    Rule("dns", When(kind="dns"), "dns", True, RELAY, "dns_temporary"),
    Rule("implicit_tls_port_no_greeting", When(kind="timeout", stages=("greeting",), ports=(465,)), "tls_handshake", False, RELAY, "implicit_tls_port"),
    Rule("no_greeting", When(kind="timeout", stages=("greeting",)), "connect_timeout", True, RELAY, "no_greeting"),
    Rule("connect_timeout", When(kind="timeout"), "connect_timeout", True, RELAY, "connect_timeout"),
    Rule("connect_timeout_errno", When(kind="other", errnos=_TIMED_OUT), "connect_timeout", True, RELAY, "connect_timeout"),
    Rule("unreachable", When(kind="other", errnos=_UNREACHABLE), "connect_refused", True, RELAY, "unreachable"),
    Rule("unreachable_words", When(kind="other", words=_UNREACHABLE_WORDS), "connect_refused", True, RELAY, "unreachable"),
    Rule("connect_refused", When(kind="refused"), "connect_refused", True, RELAY, "connect_refused"),
    Rule("certificate_expired", When(kind="tls", verify=_EXPIRED), "tls_handshake", False, RELAY, "tls_expired"),
    Rule("certificate_expired_words", When(kind="tls", words=r"certificate has expired|not yet valid|cert_has_expired"), "tls_handshake", False, RELAY, "tls_expired"),
    Rule("certificate_name_mismatch", When(kind="tls", verify=_MISMATCH), "tls_handshake", False, RELAY, "tls_mismatch"),
    Rule("certificate_name_words", When(kind="tls", words=r"mismatch|doesn't match|does not match|not valid for|altname"), "tls_handshake", False, RELAY, "tls_mismatch"),
    Rule("certificate_untrusted", When(kind="tls", verify=_UNTRUSTED), "tls_handshake", False, RELAY, "tls_untrusted"),
    Rule("certificate_untrusted_words", When(kind="tls", words=r"self[- ]signed|issuer|unknown ca|untrusted"), "tls_handshake", False, RELAY, "tls_untrusted"),
    Rule("certificate_invalid", When(kind="tls", certificate_invalid=True), "tls_handshake", False, RELAY, "tls_certificate"),
    Rule("tls_mode_mismatch", When(kind="tls", words=_TLS_MODE), "tls_handshake", False, RELAY, "tls_mode"),
    Rule("tls_version", When(kind="tls", words=_TLS_VERSION), "tls_handshake", False, RELAY, "tls_version"),
    Rule("tls_handshake", When(kind="tls"), "tls_handshake", False, RELAY, "tls_handshake"),
    Rule("starttls_not_offered", When(kind="tls_unavailable"), "tls_unavailable", False, RELAY, "starttls_not_offered"),
    # --- the relay's own words, where they are unambiguous ---------------------------------
    Rule("daily_quota", When(words=_DAILY_LIMIT), "smtp_throttled", True, RELAY, "quota"),
    Rule("greylisted", When(words=_GREYLIST), "smtp_policy", True, None, "greylisted"),
    Rule("tls_not_available", When(words=r"tls not available|tls is not available|tls unavailable"), "tls_unavailable", None, RELAY, "starttls_not_offered"),
    Rule("starttls_refused", When(stages=("starttls",), reply_class=5), "tls_unavailable", False, RELAY, "starttls_not_offered"),
    Rule("tls_version_refused", When(words=r"tls ?(?:v?1\.[01]|version)"), "tls_handshake", False, RELAY, "tls_version"),
    Rule("starttls_required", When(words=_TLS_REQUIRED), "tls_unavailable", False, RELAY, "starttls_required"),
    Rule("send_as_denied", When(words=_SEND_AS), "smtp_policy", False, RELAY, "send_as"),
    Rule("basic_auth_unsupported", When(enhanced=("x.7.30",)), "smtp_policy", False, RELAY, "basic_auth_unsupported"),
    Rule("basic_auth_unsupported_words", When(words=r"basic authentication is not supported"), "smtp_policy", False, RELAY, "basic_auth_unsupported"),
    # 5.7.139 is Exchange Online's alone: SMTP AUTH off for the tenant or mailbox, or (its other
    # wording) password logins off. Either way Microsoft Graph sendMail needs no SMTP AUTH.
    Rule("basic_auth_disabled_exchange", When(enhanced=("x.7.139",), words=r"basic authentication is disabled"), "smtp_auth", False, RELAY, "exchange_basic_auth_disabled"),
    Rule("smtp_auth_disabled", When(enhanced=("x.7.139",)), "smtp_auth", False, RELAY, "exchange_smtp_auth_disabled"),
    Rule("smtp_auth_disabled_words", When(words=_AUTH_DISABLED), "smtp_auth", False, RELAY, "auth_disabled"),
    Rule("xoauth2_rejected", When(stages=("xoauth2",)), "oauth", False, RELAY, "xoauth2_rejected"),
    Rule("auth_type_unsupported", When(kind="", words=_AUTH_TYPE), "smtp_auth", False, RELAY, "auth_type"),
    Rule("auth_throttled", When(stages=("auth",), reply_class=4, words=r"too many|limit|rate|slow down"), "smtp_throttled", True, RELAY, "throttled"),
    Rule("auth_temporary", When(stages=("auth",), reply_class=4), "smtp_auth", True, RELAY, "auth_temporary"),
    Rule("app_password_required", When(codes=(534,)), "smtp_auth", False, RELAY, "app_password"),
    Rule("app_password_words", When(words=r"application-specific password|app password"), "smtp_auth", False, RELAY, "app_password"),
    Rule("credentials_refused", When(codes=(535, 538)), "smtp_auth", False, RELAY, "credentials"),
    Rule("credentials_enhanced", When(enhanced=("5.7.8", "5.7.3"), stages=("auth",)), "smtp_auth", False, RELAY, "credentials"),
    Rule("domain_authentication", When(words=_DOMAIN_AUTH), "smtp_policy", None, None, "domain_authentication"),
    Rule("authentication_required_530", When(codes=(530,)), "smtp_auth", False, RELAY, "auth_required"),
    Rule("authentication_required_words", When(words=_AUTH_REQUIRED), "smtp_auth", None, RELAY, "auth_required"),
    Rule("auth_refused", When(stages=("auth",)), "smtp_auth", False, RELAY, "credentials"),
    Rule("client_host_rejected", When(words=_CLIENT_HOST), "smtp_policy", None, RELAY, "client_host"),
    Rule("relay_denied", When(words=_RELAY_DENIED), "smtp_policy", False, None, "relay_denied"),
    Rule("sender_refused", When(stages=("mail",), enhanced=("x.1.",)), "smtp_policy", None, RELAY, "sender"),
    Rule("sender_refused_words", When(words=_SENDER), "smtp_policy", None, RELAY, "sender"),
    Rule("message_too_big", When(enhanced=("x.3.4", "x.2.3")), "smtp_other", None, MESSAGE, "size"),
    Rule("message_too_big_words", When(words=_SIZE), "smtp_other", None, MESSAGE, "size"),
    Rule("too_many_recipients", When(enhanced=("x.5.3",)), "smtp_other", None, MESSAGE, "too_many_recipients"),
    # --- one recipient ----------------------------------------------------------------------
    Rule("mailbox_full", When(enhanced=("x.2.2",)), "smtp_recipient", None, RECIPIENT, "mailbox_full"),
    Rule("mailbox_full_words", When(stages=("rcpt", "data"), words=_MAILBOX_FULL), "smtp_recipient", None, RECIPIENT, "mailbox_full"),
    Rule("recipient_receiving_too_fast", When(words=_ONE_RECIPIENT_FAST), "smtp_recipient", None, RECIPIENT, "recipient_busy"),
    Rule("recipient_address", When(stages=("rcpt", "data"), enhanced=("x.1.0", "x.1.1", "x.1.2", "x.1.3", "x.1.4", "x.1.5", "x.1.6", "x.2.")), "smtp_recipient", None, RECIPIENT, "recipient"),
    Rule("recipient_words", When(stages=("rcpt",), words=_RECIPIENT), "smtp_recipient", None, RECIPIENT, "recipient"),
    # --- the relay slowing down, or refusing by policy ---------------------------------------
    Rule("content", When(enhanced=("x.6.",)), "smtp_other", None, MESSAGE, "content"),
    Rule("refused_by_policy_words", When(reply_class=5, words=_BLOCKED), "smtp_policy", False, None, "policy"),
    Rule("throttled_words", When(words=_THROTTLE), "smtp_throttled", True, RELAY, "throttled"),
    Rule("closing_by_policy_421", When(codes=(421,), words=r"not in whitelist|not allowed|blacklist|spamhaus|denied|banned|not permitted"), "smtp_policy", False, None, "policy"),
    Rule("closing_network_421", When(codes=(421,), enhanced=("4.4.1", "4.4.2")), "smtp_other", True, RELAY, "connection_lost"),
    Rule("deferred_by_reputation_421", When(codes=(421,), words=r"reputation|suspicious|\bspam|unsolicited|block"), "smtp_policy", True, None, "policy"),
    Rule("closing_421", When(codes=(421,)), "smtp_throttled", True, RELAY, "throttled"),
    Rule("policy_enhanced", When(enhanced=("5.7.",)), "smtp_policy", False, None, "policy"),
    Rule("deferred_by_policy", When(enhanced=("4.7.1$",)), "smtp_policy", True, None, "policy_deferred"),
    Rule("refused_by_policy_4xx", When(reply_class=4, words=_BLOCKED_BY_NAME), "smtp_policy", True, None, "policy"),
    Rule("congestion", When(enhanced=("4.4.5", "4.3.2")), "smtp_throttled", True, RELAY, "throttled"),
    Rule("recipient_refused", When(stages=("rcpt",), codes=(550, 551, 553)), "smtp_recipient", None, RECIPIENT, "recipient"),
    Rule("permanent_not_policy", When(enhanced=("5.0.", "5.1.", "5.2.", "5.3.", "5.4.", "5.5.")), "smtp_other", None, None, "permanent"),
    Rule("refused_554", When(codes=(554,)), "smtp_policy", False, None, "policy"),
    Rule("transient_reply", When(reply_class=4), "smtp_other", True, None, "transient"),
    Rule("permanent_reply", When(), "smtp_other", False, None, "permanent"),
    # --- the local MTA, and a connection lost part-way ---------------------------------------
    Rule("native_temporary", When(kind="native", exit_codes=(75,)), "native", True, RELAY, "native_temporary"),
    Rule("native", When(kind="native"), "native", False, RELAY, "native"),
    Rule("connection_lost", When(kind="", words=_CONNECTION_LOST), "smtp_other", True, RELAY, "connection_lost"),
    Rule("unexpected", When(kind=""), "smtp_other", True, RELAY, "connection_lost"),
)
# fmt: on
