"""chatserver: a multilingual chatbot and live-chat handoff server."""

__version__ = "0.1.0"
