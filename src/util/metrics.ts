// Prometheus metrics (prom-client). One registry per process; names start
// with `meshcd_`. Components create their metrics through `metric()` so that
// tests creating several servers in one process do not collide.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
let defaults = false;

export function enableDefaultMetrics(): void {
  if (defaults) return;
  defaults = true;
  collectDefaultMetrics({ register: registry, prefix: 'meshcd_process_' });
}

type Kind = 'counter' | 'gauge' | 'histogram';
type Ctor<K extends Kind> = K extends 'counter' ? Counter<string> : K extends 'gauge' ? Gauge<string> : Histogram<string>;

export function metric<K extends Kind>(kind: K, name: string, help: string, labelNames: string[] = [], buckets?: number[]): Ctor<K> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Ctor<K>;
  const opts = { name, help, labelNames, registers: [registry] };
  if (kind === 'counter') return new Counter(opts) as Ctor<K>;
  if (kind === 'gauge') return new Gauge(opts) as Ctor<K>;
  return new Histogram({ ...opts, ...(buckets ? { buckets } : {}) }) as Ctor<K>;
}

/** A gauge whose value is read when Prometheus scrapes (`read` is asked then). */
export function gaugeFrom(name: string, help: string, read: () => number): Gauge<string> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<string>;
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}
