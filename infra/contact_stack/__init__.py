"""The CDK app's constructs: one stack for the contact-form service, and what it is parameterized by."""

from contact_stack.settings import StackSettings
from contact_stack.stack import ALIAS_NAME, ContactStack

__all__ = ["ALIAS_NAME", "ContactStack", "StackSettings"]
