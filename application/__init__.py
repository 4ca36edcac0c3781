"""The application layer: what every transport calls.

Between the transports (GraphQL in `api/`; HL7, FHIR, DICOM next) and the pure cores
(`domain/`, `rules/`, `balancer/`): the commands that own authorization and object visibility,
the balancer's runner and leadership, the rules' database adapters, the what-if preview and
simulated days, the configuration and the demo department. It imports no transport.
"""
