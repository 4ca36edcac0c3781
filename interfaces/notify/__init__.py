"""Channel adapters for notifications: e-mail over SMTP, a signed webhook, an SMS gateway."""
