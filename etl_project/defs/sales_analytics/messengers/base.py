"""The message and the channel protocol shared by every messenger."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class AlertMessage:
    """A channel-neutral alert: a title, bullet lines and an optional link (Slack mrkdwn-safe text)."""

    title: str
    lines: list[str] = field(default_factory=list)
    link: str | None = None
    link_text: str = "Open in Dagster"

    def as_text(self) -> str:
        parts = [self.title, *(f"• {line}" for line in self.lines)]
        if self.link:
            parts.append(f"<{self.link}|{self.link_text}>")
        return "\n".join(parts)

    def to_json(self) -> dict[str, object]:
        return {"title": self.title, "lines": self.lines, "link": self.link, "link_text": self.link_text}

    @classmethod
    def from_json(cls, data: dict) -> "AlertMessage":
        return cls(
            data["title"], list(data.get("lines", [])), data.get("link"), data.get("link_text", "Open")
        )


class MessengerError(Exception):
    """The channel did not accept the message. The text is safe to log: it never holds a secret."""


class Messenger(Protocol):
    """A channel alerts can be sent to (Slack today; e-mail or Teams are one class each)."""

    name: str

    def send(self, message: AlertMessage) -> None:
        """Deliver the message or raise `MessengerError`."""
        ...


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret value replaced, for errors that may echo a URL or a header."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
