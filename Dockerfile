# One image, three processes: `scim-gateway` (the default CMD), `identity-svc`
# and `graphos-scim-console` (deploy/ sets `command:`); the migration initContainer runs
# `python -m identity_svc.db.migrate` from the same image.
#
# Build: docker build -t graphos-scim:dev .

# --- builder: generate the gRPC code, install the project into a venv --------
FROM python:3.11.14-slim-bookworm AS builder

# pip compiles bytecode at install time: the runtime's root filesystem is
# read-only, so nothing could be cached there later.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# grpcio-tools only generates code: it lives in its own venv and never reaches
# the runtime image. Same pin as pyproject.toml's dev extra.
RUN python -m venv /opt/protoc \
    && /opt/protoc/bin/pip install grpcio-tools==1.85.1

WORKDIR /src
COPY protos/ protos/
COPY identity_api/__init__.py identity_api/client_tls.py identity_api/
# As `make protos` does (the .pyi stubs are for mypy only).
RUN /opt/protoc/bin/python -m grpc_tools.protoc -Iprotos \
        --python_out=. --grpc_python_out=. \
        protos/identity_api/v1/identity.proto \
    && touch identity_api/v1/__init__.py

COPY pyproject.toml README.md ./
COPY gateway/ gateway/
COPY identity_svc/ identity_svc/
COPY identityctl/ identityctl/
COPY console/ console/
COPY devstack/ devstack/
COPY scim_schema/ scim_schema/
COPY json_logs/ json_logs/
# Runtime dependencies only (pinned in pyproject.toml), no dev extra.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --upgrade pip==25.3 \
    && /opt/venv/bin/pip install .

# --- runtime: the venv and nothing else ---------------------------------------
FROM python:3.11.14-slim-bookworm

RUN groupadd --system --gid 10001 graphos \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin graphos

COPY --from=builder /opt/venv /opt/venv

# Containers bind every interface; bytecode was compiled in the builder.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_HOST=0.0.0.0 \
    IDENTITY_HOST=0.0.0.0 \
    CONSOLE_HOST=0.0.0.0

USER 10001:10001
WORKDIR /tmp

# gateway HTTP (/scim, /healthz, /readyz, /metrics); identity gRPC API,
# its plaintext gRPC health port, its Prometheus metrics; the console.
EXPOSE 8080 50051 50052 9090 8081

CMD ["scim-gateway"]
