"""The mail accounts send: today, the password-reset link."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import urlencode


def reset_link(public_url: str, token: str) -> str:
    return f"{public_url}/reset-password?{urlencode({'token': token})}"


def reset_message(to: str, display_name: str, link: str, valid_minutes: int) -> EmailMessage:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = "Reset your moot password"
    message.set_content(
        f"Hello {display_name},\n\n"
        "someone (we hope you) asked to reset the password of your moot account. To choose "
        f"a new one, open this link within {valid_minutes} minutes:\n\n"
        f"{link}\n\n"
        "The link works once. Setting a new password signs your account out everywhere.\n"
        "If you did not ask for this, ignore this message: your password stays as it is.\n"
    )
    return message
