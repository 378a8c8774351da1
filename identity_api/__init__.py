"""Generated gRPC/protobuf code for the identity service's contract.

Everything below this package is produced by `make protos` from `protos/`
and is git-ignored; only this file is committed, so that an editable install
maps the package before the code is generated.
"""
