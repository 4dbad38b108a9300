# One image per function, for OpenFaaS (stack.yml) or any container runtime:
#
#   docker build --build-arg FUNCTION=accounts -t realmiam-accounts .
#
# of-watchdog (http mode) listens on 8080 and proxies to the function's own
# HTTP server on 8082; the function binary is the one Lambda runs too.
ARG GO_VERSION=1.26
ARG WATCHDOG_VERSION=0.11.5

FROM ghcr.io/openfaas/of-watchdog:${WATCHDOG_VERSION} AS watchdog

FROM --platform=${BUILDPLATFORM:-linux/amd64} golang:${GO_VERSION} AS build
ARG FUNCTION
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Module downloads are one layer that every function's image shares.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN test -n "${FUNCTION}" && test -d "functions/${FUNCTION}/cmd" || \
    { echo "build with --build-arg FUNCTION=<name of a directory functions/<name>/cmd>" >&2; exit 1; }
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags='-s -w' -tags lambda.norpc -o /out/function "./functions/${FUNCTION}/cmd"

# Static binaries only: CA certificates (for MongoDB over TLS) and tzdata,
# no shell, a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=watchdog /fwatchdog /fwatchdog
COPY --from=build /out/function /function
ENV fprocess=/function \
    mode=http \
    upstream_url=http://127.0.0.1:8082 \
    PORT=8082 \
    prefix_logs=false
EXPOSE 8080
ENTRYPOINT ["/fwatchdog"]
