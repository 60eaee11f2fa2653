"""The realtime project package: settings, URLs, ASGI routing and WebSocket delivery."""
