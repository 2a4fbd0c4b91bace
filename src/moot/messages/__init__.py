"""Durable messages (issue 18): one store for channels and direct conversations."""
