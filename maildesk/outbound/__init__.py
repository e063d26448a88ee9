"""Outbound mail: templates rendered into the outbox, and the outbox delivered over SMTP."""
