"""HL7 v2 (2.5.1, 2.3 accepted) over MLLP: orders and patients in, acknowledgements back.

`inbound` maps a parsed message (python-hl7) to the application's commands and builds its ACK;
`listener` is the asyncio MLLP server. The conformance statement is docs/interop.md.
"""
