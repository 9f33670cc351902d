"""``contact-sdk outbox``: the durable outbox's depth, its messages, and redriving the dead-letter queue."""
