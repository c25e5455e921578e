"""Alerts: the durable outbox that makes each alert reach people once, and the alert texts."""
