"""The SCIM schemas as data, shared by the gateway and the identity service.

The gateway publishes them at /Schemas and reads attribute types when it
parses requests; the identity service enforces them. One definition, so what
we publish is what we enforce.
"""
