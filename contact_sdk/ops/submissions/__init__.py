"""``contact-sdk submissions``: review, export, release and erase the submission records (docs/records.md)."""
