"""``contact-sdk dns``: the records Resend needs (SPF, DKIM, DMARC) and checking what DNS answers."""
