"""A local Slack-compatible HTTP server: `chat.postMessage` (bot token) and incoming webhooks.

The real slack_sdk client talks to it through SLACK_API_URL / a webhook URL on 127.0.0.1. `mode` makes it
answer like a healthy Slack ("ok"), a broken one ("http_500") or one that refuses the call ("not_ok").
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

BOT_TOKEN = "xoxb-test-0000-secret-token"
WEBHOOK_PATH = "/services/T000/B000/secret-webhook-path"


class FakeSlack:
    def __init__(self, host: str = "127.0.0.1") -> None:
        """`host`: the address to listen on; scripts/compose_e2e.py listens where containers reach the host."""
        self.messages: list[dict] = []
        self.requests = 0
        self.mode = "ok"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                fake.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.path.endswith("/chat.postMessage"):
                    self._chat_post_message(body)
                elif self.path == WEBHOOK_PATH:
                    self._webhook(body)
                else:
                    self._reply(404, "text/plain", "no_service")

            def _chat_post_message(self, body: str) -> None:
                if self.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
                    return self._reply(
                        200, "application/json", json.dumps({"ok": False, "error": "invalid_auth"})
                    )
                if fake.mode == "http_500":
                    return self._reply(500, "text/plain", "internal error")
                if fake.mode == "not_ok":
                    return self._reply(
                        200, "application/json", json.dumps({"ok": False, "error": "channel_not_found"})
                    )
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    payload = json.loads(body)
                else:
                    payload = {k: v[0] for k, v in parse_qs(body).items()}
                fake.messages.append({"via": "bot", **payload})
                self._reply(200, "application/json", json.dumps({"ok": True, "channel": "C1", "ts": "1.0"}))

            def _webhook(self, body: str) -> None:
                if fake.mode == "http_500":
                    return self._reply(500, "text/plain", "server_error")
                if fake.mode == "not_ok":
                    return self._reply(404, "text/plain", "no_team")
                fake.messages.append({"via": "webhook", **json.loads(body)})
                self._reply(200, "text/plain", "ok")

            def _reply(self, status: int, content_type: str, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    def __enter__(self) -> "FakeSlack":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
