"""Real-time delivery: topics, the cross-instance hub, the gateway socket, close codes."""
