"""The channel adapters the settings configure, by channel."""

from __future__ import annotations

from application.delivery import ChannelAdapter
from application.settings import Settings
from domain.enums import NotificationChannel
from interfaces.notify.http import SmsGatewayAdapter, WebhookAdapter
from interfaces.notify.smtp import SmtpAdapter


def adapters_for(settings: Settings) -> dict[NotificationChannel, ChannelAdapter]:
    """E-mail when an SMTP relay is set, SMS when a gateway is, the webhook's channels when a
    webhook is; a channel with no adapter keeps its notifications QUEUED."""
    adapters: dict[NotificationChannel, ChannelAdapter] = {}
    if settings.webhook_url:
        webhook = WebhookAdapter(settings.webhook_url, settings.webhook_secret or "")
        for channel in settings.webhook_channel_set:
            adapters[channel] = webhook
    if settings.smtp_host:
        adapters[NotificationChannel.EMAIL] = SmtpAdapter(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )
    if settings.sms_gateway_url:
        adapters[NotificationChannel.SMS] = SmsGatewayAdapter(
            settings.sms_gateway_url, settings.sms_gateway_token, settings.sms_sender
        )
    return adapters


def served_channels(settings: Settings) -> frozenset[NotificationChannel]:
    """The channels the settings give an adapter."""
    return frozenset(adapters_for(settings))
