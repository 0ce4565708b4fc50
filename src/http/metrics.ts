import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AuthorizationServerUnavailableError, UnauthorizedError } from '../errors.js';
import type { Middleware } from './state.js';

/**
 * The service's Prometheus metrics, in a registry of its own (several services can share a process in
 * tests). Exposed as text at /metrics.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests, by operationId and status',
    labelNames: ['operation', 'status'],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by operationId and status',
    labelNames: ['operation', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  private readonly ldapLatency = new Histogram({
    name: 'ldap_operation_duration_seconds',
    help: 'Directory operation latency, by operation and outcome',
    labelNames: ['operation', 'outcome'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  private readonly tokenFailures = new Counter({
    name: 'token_verification_failures_total',
    help: 'Refused or uncheckable bearer tokens, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });

  private readonly reconciles = new Counter({
    name: 'definition_index_reconciles_total',
    help: 'Comparisons of the in-memory index with the whole directory, by reason (recovered, reconnected, failover, unexplained, log-missing, periodic)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly reconciled = new Counter({
    name: 'definition_index_reconciled_definitions_total',
    help: 'Definitions a reconcile found the index holding wrongly (the change log had not named their change), by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly reconcileSeconds = new Histogram({
    name: 'definition_index_reconcile_duration_seconds',
    help: 'Duration of a reconcile of the index with the whole directory',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly switches = new Counter({
    name: 'ldap_provider_switches_total',
    help: 'Moves of the connections to another provider of LDAP_URL',
    registers: [this.registry],
  });

  constructor(sources: {
    connectionsOpen: () => number;
    operationsPending: () => number;
    auditFailures: () => number;
    logLinesDropped: () => number;
    /** Position in LDAP_URL of the provider in use (0: the first). */
    provider: () => number;
    /** Current replication conflicts among the definitions, by kind. */
    conflicts: () => Record<'name' | 'claimName', number>;
  }) {
    collectDefaultMetrics({ register: this.registry });
    /** A value read when metrics are collected. */
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    gauge('ldap_connections_open', 'Open connections to the directory', sources.connectionsOpen);
    gauge(
      'ldap_operations_pending',
      'Directory operations waiting for an answer (beyond LDAP_MAX_PENDING new ones are refused with 503)',
      sources.operationsPending,
    );
    gauge(
      'ldap_provider_index',
      'Position in LDAP_URL of the provider in use (0: the first, preferred one)',
      sources.provider,
    );
    new Gauge({
      name: 'definition_conflicts',
      help: 'Replication conflicts among the definitions: names held by several definitions, claim names released by several active ones',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        for (const [kind, count] of Object.entries(sources.conflicts())) this.set({ kind }, count);
      },
    });
    gauge(
      'audit_events_not_stored',
      'Audit events that could not be written to the directory since start',
      sources.auditFailures,
    );
    new Counter({
      name: 'log_lines_dropped_total',
      help: 'Log lines dropped because the reader of the output fell behind (the buffer was full)',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(sources.logLinesDropped());
      },
    });
  }

  /** Counts a reconcile of the index with the directory. */
  observeReconcile(reason: string, corrected: number, seconds: number): void {
    this.reconciles.inc({ reason });
    if (corrected > 0) this.reconciled.inc({ reason }, corrected);
    this.reconcileSeconds.observe(seconds);
  }

  /** Counts a move of the connections to another provider. */
  providerSwitched(): void {
    this.switches.inc();
  }

  /** Times a directory operation; outcome is `ok` or the error's class name. */
  observeLdap(operation: string, seconds: number, error?: unknown): void {
    const outcome = error === undefined ? 'ok' : error instanceof Error ? error.constructor.name : 'error';
    this.ldapLatency.observe({ operation, outcome }, seconds);
  }

  /**
   * Counts every request by operation and status, and token failures by reason. Runs outside the error
   * middleware, which leaves the error it answered in `ctx.state.error`.
   */
  middleware(): Middleware {
    return async (ctx, next) => {
      const started = performance.now();
      try {
        await next();
      } finally {
        const labels = {
          operation: ctx.state.routed?.route.operationId ?? 'none',
          status: String(ctx.status),
        };
        this.requests.inc(labels);
        this.latency.observe(labels, (performance.now() - started) / 1000);
        const error = ctx.state.error;
        if (error instanceof UnauthorizedError)
          this.tokenFailures.inc({ reason: error.description ?? error.message });
        if (error instanceof AuthorizationServerUnavailableError)
          this.tokenFailures.inc({ reason: error.message });
      }
    };
  }
}
