"""The hospital's interfaces: transports beside the GraphQL API (HL7 v2 over MLLP today).

Each decodes what the hospital sends and runs the application's commands
(`application.commands`), so an interface goes through the same role matrix, visibility,
lifecycle, audit trail and outbox as a GraphQL client, never around them.
"""
