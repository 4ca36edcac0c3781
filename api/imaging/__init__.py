"""The imaging side in GraphQL: the studies no order matched, and their reconciliation."""
