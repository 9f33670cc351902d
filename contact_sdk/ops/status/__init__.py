"""``contact-sdk status``: the delivery status of recent emails, from the recorded webhooks."""
