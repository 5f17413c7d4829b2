# syntax=docker/dockerfile:1
# One image with every eventpost binary; the command picks the service:
#   docker run ghcr.io/OWNER/eventpost users        (or events, notifications, email-sender, web, gateway)
# Dependencies are compiled in their own layer (cargo-chef), so a change to our code rebuilds
# only our crates.

ARG RUST_VERSION=1.89
FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.71
WORKDIR /build

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked \
        -p users -p events -p notifications -p email-sender -p web -p gateway \
    && mkdir /out \
    && cp target/release/users target/release/events target/release/notifications \
          target/release/email-sender target/release/web target/release/gateway /out/

FROM debian:bookworm-slim AS runtime
# curl serves the container health checks (`curl -fsS http://127.0.0.1:$PORT/readyz`).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311* curl=7.88.* \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin eventpost
COPY --from=builder /out/ /usr/local/bin/
USER 10001
# Listen on every interface inside the container; the port is each service's default.
ENV EVENTPOST_USERS__HTTP__HOST=0.0.0.0 \
    EVENTPOST_EVENTS__HTTP__HOST=0.0.0.0 \
    EVENTPOST_NOTIFICATIONS__HTTP__HOST=0.0.0.0 \
    EVENTPOST_EMAIL_SENDER__HTTP__HOST=0.0.0.0 \
    EVENTPOST_WEB__HTTP__HOST=0.0.0.0 \
    EVENTPOST_GATEWAY__HTTP__HOST=0.0.0.0 \
    EVENTPOST_USERS__TELEMETRY__FORMAT=json \
    EVENTPOST_EVENTS__TELEMETRY__FORMAT=json \
    EVENTPOST_NOTIFICATIONS__TELEMETRY__FORMAT=json \
    EVENTPOST_EMAIL_SENDER__TELEMETRY__FORMAT=json \
    EVENTPOST_WEB__TELEMETRY__FORMAT=json \
    EVENTPOST_GATEWAY__TELEMETRY__FORMAT=json
EXPOSE 8080 8081 8082 8083 8084 8085
STOPSIGNAL SIGTERM
CMD ["gateway"]
