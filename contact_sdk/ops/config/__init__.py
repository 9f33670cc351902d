"""``contact-sdk config``: the service's SecureString parameters in SSM Parameter Store."""
