"""Run the Microsoft/Google token stand-in and the Graph/Gmail stand-in until stopped, for trying
the CLI by hand: `python -m tests.support.stand_ins` prints one JSON line with their URLs.

The token stand-in accepts the client secret it is started with (`--client-secret`, default the
tests' CLIENT_SECRET) and the mail API stand-in only the access tokens it issued. Every message
the API accepts is printed as one JSON line (api, mailbox, Message-ID, subject, parts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys

from tests.support.mail_api_fakes import MailApiFake, ReceivedMail
from tests.support.oauth_settings import CLIENT_SECRET
from tests.support.provider_fakes import ProviderFake, serving


class _PrintingFake(MailApiFake):
    """Prints each accepted message as it arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.received = _PrintingList()


class _PrintingList(list[ReceivedMail]):
    def append(self, mail: ReceivedMail) -> None:
        super().append(mail)
        parts = [part.get_content_type() for part in mail.message.walk() if not part.is_multipart()]
        line = {
            "accepted": mail.api,
            "mailbox": mail.mailbox,
            "message_id": mail.message["Message-ID"],
            "subject": mail.message["Subject"],
            "to": mail.message["To"],
            "parts": parts,
        }
        print(json.dumps(line), flush=True)


async def main(client_secret: str) -> None:
    provider = ProviderFake()
    provider.client_secret = client_secret
    api = _PrintingFake()

    async def issued(token: str) -> bool:
        return token in provider.issued_access_tokens

    api.token_check = issued
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serving(provider) as token_side, serving(api) as api_side:
        urls = {
            "microsoft_token": token_side.microsoft_token(),
            "microsoft_authorize": token_side.microsoft_authorize(),
            "google_token": token_side.google_token,
            "google_authorize": token_side.google_authorize,
            "mail_api": api_side.base_url,
            "account": provider.account,
        }
        print(json.dumps(urls), flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client-secret", default=CLIENT_SECRET)
    arguments = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(arguments.client_secret))
    sys.exit(0)
