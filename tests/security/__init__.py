"""Tests of the security guards, one file per module of ``contact_sdk.security``."""
