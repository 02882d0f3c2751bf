#!/usr/bin/env bash
# Make this machine's RabbitMQ (3.10, node rabbit@localhost) serve MQTT for Herald's tests (issue 2 §4, §5):
# MQTT on 127.0.0.1:1884 (Mosquitto keeps 1883), Web-MQTT on 127.0.0.1:15675 path /ws, and the HTTP auth backend
# after the internal one (guest keeps working for AMQP and as the bus account), the management API on 127.0.0.1:15672
# and the event exchange (Herald's RabbitMQ Sessions use both). Idempotent; runs as root.
#
# How: the plugin settings are put into the running node's application environment before the plugins are
# enabled (so the MQTT listener never tries 1883), then the same settings are written to a marked block of
# /etc/rabbitmq/rabbitmq.conf so that a restart keeps them. Herald's tests point the HTTP backend at Herald at
# runtime (test/rabbitmq.ts); the block below only fixes the method.
set -euo pipefail

CONF=${RABBITMQ_CONF:-/etc/rabbitmq/rabbitmq.conf}
MQTT_PORT=${HERALD_RABBIT_MQTT_PORT:-1884}
WS_PORT=${HERALD_RABBIT_WS_PORT:-15675}
MGMT_PORT=${HERALD_RABBIT_MANAGEMENT_PORT:-15672}
PLUGINS="rabbitmq_mqtt rabbitmq_web_mqtt rabbitmq_auth_backend_http rabbitmq_management rabbitmq_event_exchange"

log() { echo "rabbitmq-setup: $*"; }

# 1. the node is up (start it detached if it is not)
if ! rabbitmqctl -q status >/dev/null 2>&1; then
  log "starting rabbitmq-server"
  rabbitmq-server -detached
fi
i=0
until rabbitmqctl -q await_startup --timeout 10 >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 12 ]; then log "RabbitMQ did not start"; exit 1; fi
  sleep 2
done

# 2. runtime environment, before the plugins start (set_env on a loaded application survives its start)
rabbitmqctl -q eval "
  application:load(rabbitmq_mqtt),
  application:set_env(rabbitmq_mqtt, tcp_listeners, [{\"127.0.0.1\", $MQTT_PORT}]),
  application:set_env(rabbitmq_mqtt, allow_anonymous, false),
  application:load(rabbitmq_web_mqtt),
  application:set_env(rabbitmq_web_mqtt, tcp_config, [{ip, \"127.0.0.1\"}, {port, $WS_PORT}]),
  application:set_env(rabbitmq_web_mqtt, ws_path, \"/ws\"),
  application:load(rabbitmq_auth_backend_http),
  application:set_env(rabbitmq_auth_backend_http, http_method, post),
  application:set_env(rabbit, auth_backends, [rabbit_auth_backend_internal, rabbit_auth_backend_http]),
  application:load(rabbitmq_management),
  application:set_env(rabbitmq_management, tcp_config, [{ip, \"127.0.0.1\"}, {port, $MGMT_PORT}]),
  ok." >/dev/null

# 3. the plugins (a no-op when already enabled)
# shellcheck disable=SC2086
rabbitmq-plugins -q enable $PLUGINS >/dev/null

# 4. persist for the next restart: replace the marked block (the plugins' schemas exist now that they are enabled)
BEGIN='# >>> herald rabbitmq-setup >>>'
END='# <<< herald rabbitmq-setup <<<'
touch "$CONF"
tmp=$(mktemp)
awk -v b="$BEGIN" -v e="$END" '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip' "$CONF" > "$tmp"
cat >> "$tmp" <<EOF
$BEGIN
auth_backends.1 = internal
auth_backends.2 = http
auth_http.http_method = post
mqtt.listeners.tcp.default = 127.0.0.1:$MQTT_PORT
mqtt.allow_anonymous = false
web_mqtt.tcp.ip = 127.0.0.1
web_mqtt.tcp.port = $WS_PORT
web_mqtt.ws_path = /ws
management.tcp.ip = 127.0.0.1
management.tcp.port = $MGMT_PORT
$END
EOF
cat "$tmp" > "$CONF"
rm -f "$tmp"

# 5. both listeners answer
for port in "$MQTT_PORT" "$WS_PORT" "$MGMT_PORT"; do
  i=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -ge 30 ]; then log "nothing listens on 127.0.0.1:$port"; exit 1; fi
    sleep 1
  done
done
log "MQTT on 127.0.0.1:$MQTT_PORT, Web-MQTT on ws://127.0.0.1:$WS_PORT/ws, management on 127.0.0.1:$MGMT_PORT, event exchange, auth backends internal + http"
