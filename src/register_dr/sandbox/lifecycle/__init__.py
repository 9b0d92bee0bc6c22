"""Sandbox lifecycle: up, down, status, the platform server process, its secrets and an HTTP client."""
