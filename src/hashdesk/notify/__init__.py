"""Outgoing email and webhooks, through a durable outbox that survives restarts."""

from hashdesk.notify.actions import do_enqueue_email, do_enqueue_webhooks

__all__ = ["do_enqueue_email", "do_enqueue_webhooks"]
