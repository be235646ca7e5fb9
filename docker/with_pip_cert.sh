#!/bin/sh
# Runs a command with pip trusting the CA bundle given as the build secret pip-cert, when one was
# given (a TLS-inspecting proxy's; docker/Makefile's PIP_CERT), and as it is otherwise.
if [ -s /run/secrets/pip-cert ]; then
  export PIP_CERT=/run/secrets/pip-cert
fi
exec "$@"
