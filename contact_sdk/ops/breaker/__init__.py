"""``contact-sdk breaker``: the fleet-wide circuit breaker's state in the table, and closing it by hand."""
