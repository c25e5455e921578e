"""The message and the channel protocol shared by every messenger."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

#: Slack's limits: a header holds 150 characters, a section 3000; longer text is cut or split.
HEADER_MAX_CHARS = 150
SECTION_MAX_CHARS = 3000


def escape_mrkdwn(text: str) -> str:
    """Plain text made safe for Slack mrkdwn (a store named `<!channel>` must not ping anyone)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class AlertMessage:
    """A channel-neutral alert: a title, one line per finding and an optional link to the UI (plain text)."""

    title: str
    lines: list[str] = field(default_factory=list)
    link: str | None = None
    link_text: str = "Open in Dagster"

    def as_text(self) -> str:
        """The plain-text version: what notifications and clients without Block Kit show."""
        parts = [escape_mrkdwn(self.title), *(f"• {escape_mrkdwn(line)}" for line in self.lines)]
        if self.link:
            parts.append(f"<{self.link}|{self.link_text}>")
        return "\n".join(parts)

    def as_blocks(self) -> list[dict[str, Any]]:
        """Slack Block Kit: a header, the findings one per line, a button to the UI."""
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": self.title[:HEADER_MAX_CHARS], "emoji": True},
            }
        ]
        section = ""
        for line in (f"• {escape_mrkdwn(line)}" for line in self.lines):
            if section and len(section) + len(line) + 1 > SECTION_MAX_CHARS:
                blocks.append(_section(section))
                section = ""
            section = f"{section}\n{line}" if section else line[:SECTION_MAX_CHARS]
        if section:
            blocks.append(_section(section))
        if self.link:
            button = {
                "type": "button",
                "text": {"type": "plain_text", "text": self.link_text},
                "url": self.link,
            }
            blocks.append({"type": "actions", "elements": [button]})
        return blocks

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "lines": self.lines, "link": self.link, "link_text": self.link_text}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AlertMessage":
        return cls(
            data["title"], list(data.get("lines", [])), data.get("link"), data.get("link_text", "Open")
        )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


class MessengerError(Exception):
    """The channel did not accept the message. The text is safe to log: it never holds a secret."""


class Messenger(Protocol):
    """A destination alerts can be sent to (a Slack channel or webhook today; e-mail is one class more).

    `name` identifies the destination in the outbox and in tick texts ("#sales-alerts", "webhook").
    """

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
