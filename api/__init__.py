"""The GraphQL API over HTTP: transport only; every decision is made in domain/."""
