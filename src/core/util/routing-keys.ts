// MQTT topics ↔ AMQP routing keys as RabbitMQ's MQTT plugin maps them (rabbit_mqtt_util): `/` and `.` swap places;
// in filters `+` is `*` (`#` is the same in both).

/** MQTT topic name → AMQP routing key (chat21 webhooks' `extras.topic`, RabbitMQ topic permissions). */
export function topicToRoutingKey(topic: string): string {
  return topic.replace(/[./]/g, (c) => (c === '/' ? '.' : '/'))
}

/** AMQP routing key of a message → MQTT topic name. */
export function routingKeyToTopic(key: string): string {
  return key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'))
}

/** MQTT topic filter → AMQP binding key. */
export function filterToBindingKey(filter: string): string {
  return filter.replace(/[/+.]/g, (c) => (c === '/' ? '.' : c === '.' ? '/' : '*'))
}

/** AMQP binding key or topic-permission pattern → MQTT topic filter. */
export function bindingKeyToFilter(key: string): string {
  return key.replace(/[./*]/g, (c) => (c === '.' ? '/' : c === '/' ? '.' : '+'))
}
