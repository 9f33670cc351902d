"""``contact-sdk submissions``: review, export, release and erase the submission archive (docs/archive.md)."""
