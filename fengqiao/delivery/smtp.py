"""Alerts by e-mail: the MIME message and the SMTP channel.

Header values are single-line: line breaks in a name never reach a mail header, and an address that is
not exactly one address is refused, so no value can add a header or a recipient.

Credentials (``FENGQIAO_SMTP_USER``) are only sent over STARTTLS (``FENGQIAO_SMTP_STARTTLS``) or SMTPS
(``FENGQIAO_SMTP_SSL``); otherwise every e-mail delivery is refused and recorded as failed. Plain SMTP
without a login stays possible (the local mail sink, :mod:`fengqiao.delivery.mailsink`).
"""
from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from fengqiao.core.bureaus import email_problem, is_loopback, one_line
from fengqiao.core.settings import Settings

from .alert_plan import Alert
from .webhooks import DeliveryFailure

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SEC = 20


def build_message(alert: Alert, sender: str) -> EmailMessage:
    """A UTF-8 MIME message; the Chinese subject and display names are RFC 2047 encoded on output.

    Every header value is made single-line first, and an address that is not exactly one address is
    refused (ValueError): no value can add a header or a recipient."""
    for address in (sender, alert.recipient_email):
        if problem := email_problem(address):
            raise ValueError(f"address refused: {problem}")
    msg = EmailMessage()
    msg["Subject"] = one_line(alert.subject)
    msg["From"] = Address(display_name="矛盾纠纷风险预警系统", addr_spec=sender)
    msg["To"] = Address(display_name=one_line(alert.recipient_unit), addr_spec=alert.recipient_email)
    msg["Date"] = format_datetime(dt.datetime.now(ZoneInfo("Asia/Shanghai")))
    msg["Message-ID"] = f"<{alert.alert_id.lower().replace('-', '')}@fengqiao.alerts>"
    msg["X-Fengqiao-Alert-Id"] = one_line(alert.alert_id)
    msg["X-Fengqiao-Region-Code"] = one_line(alert.region_code)
    msg["X-Fengqiao-Week-Start"] = alert.week_start.isoformat()
    msg.set_content(alert.body, charset="utf-8")
    return msg


def require_smtp(settings: Settings) -> None:
    if not settings.smtp_host:
        raise RuntimeError(
            "No SMTP server is configured for alerts: set FENGQIAO_SMTP_HOST (and FENGQIAO_SMTP_PORT, "
            "default 25; FENGQIAO_SMTP_SENDER; FENGQIAO_SMTP_USER and FENGQIAO_SMTP_PASSWORD if the server "
            "needs a login, then FENGQIAO_SMTP_STARTTLS=true or FENGQIAO_SMTP_SSL=true). For a demo, run "
            "fengqiao.delivery.mailsink.local_mail_sink and point FENGQIAO_SMTP_HOST/PORT at it."
        )


def smtp_problem(settings: Settings) -> str | None:
    """Why e-mail must not be sent with these settings: a login without TLS would send the password in clear."""
    if settings.smtp_user and not (settings.smtp_starttls or settings.smtp_ssl):
        return ("refused: FENGQIAO_SMTP_USER is set but neither FENGQIAO_SMTP_STARTTLS nor FENGQIAO_SMTP_SSL: "
                "credentials are never sent in clear")
    return None


class EmailChannel:
    """One SMTP connection for a run, opened on the first message; after a server stayed unreachable through
    all attempts of one delivery, later deliveries fail at once (``not attempted``)."""
    name = "email"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None
        self.down: str | None = None  # the server stayed unreachable through all attempts of a delivery

    def address(self, alert: Alert) -> str | None:
        return alert.recipient_email or None

    def precheck(self, alert: Alert) -> str | None:
        if not alert.recipient_email:
            return f"no e-mail address in bureaus.csv for {alert.recipient_unit}"
        if problem := email_problem(alert.recipient_email):
            return f"recipient refused: {problem}"
        if problem := smtp_problem(self.settings):
            return problem
        if self.down:
            return f"not attempted: {self.down}"
        return None

    def send(self, alert: Alert) -> None:
        s = self.settings
        if self.smtp is None:
            try:
                self.smtp = _connect(s)
            except smtplib.SMTPNotSupportedError as exc:  # e.g. STARTTLS not offered: never fall back to clear
                raise DeliveryFailure(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}", retryable=False,
                                      unreachable=True) from None
            except smtplib.SMTPAuthenticationError as exc:  # wrong login: retrying will not help
                raise DeliveryFailure(f"SMTP {s.smtp_host}:{s.smtp_port} refused the login: {exc.smtp_code}",
                                      retryable=False, unreachable=True) from None
            except (OSError, smtplib.SMTPException) as exc:
                raise DeliveryFailure(f"SMTP {s.smtp_host}:{s.smtp_port} unavailable: {exc!r}",
                                      unreachable=True) from None
        try:
            refused = self.smtp.send_message(build_message(alert, s.smtp_sender))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailure(f"recipient refused: {exc.recipients}",
                                  retryable=any(400 <= c < 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            if exc.smtp_code == 421:  # the server is closing the connection
                self._reset()
            raise DeliveryFailure(f"{type(exc).__name__}: {exc.smtp_code} {text}",
                                  retryable=400 <= exc.smtp_code < 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._reset()  # disconnected: reconnect for the next attempt
            raise DeliveryFailure(f"{type(exc).__name__}: {exc}") from None
        if refused:
            raise DeliveryFailure(f"recipient refused: {refused}", retryable=False)

    def mark_down(self, alert: Alert, detail: str) -> None:
        self.down = detail

    def _reset(self) -> None:
        if self.smtp is not None:
            _quietly_close(self.smtp)
        self.smtp = None

    def close(self) -> None:
        if self.smtp is not None:
            _quietly_close(self.smtp, quit_first=True)
        self.smtp = None


def _connect(settings: Settings) -> smtplib.SMTP:
    """A connection over SMTPS or STARTTLS when configured (a server without STARTTLS is then an error, never
    a silent fall-back to clear text); a login only on an encrypted connection."""
    if settings.smtp_ssl:
        smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SEC,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SEC)
    try:
        smtp.ehlo()
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        elif not settings.smtp_ssl and not is_loopback(settings.smtp_host):
            log.warning("SMTP to %s without TLS: set FENGQIAO_SMTP_STARTTLS or FENGQIAO_SMTP_SSL", settings.smtp_host)
        if settings.smtp_user:  # deliveries never get here without TLS (smtp_problem)
            smtp.login(settings.smtp_user, settings.smtp_password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _quietly_close(smtp: smtplib.SMTP, quit_first: bool = False) -> None:
    try:
        if quit_first:
            smtp.quit()
        else:
            smtp.close()
    except (OSError, smtplib.SMTPException):
        smtp.close()
