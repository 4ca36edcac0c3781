"""Live updates: the outbox relay, the broker, and GraphQL subscriptions over WebSocket."""
