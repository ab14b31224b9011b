import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppOptions } from './app.js';
import { reloadResults } from './registry/watcher.js';

export interface RunningServer {
  app: FastifyInstance;
  /** e.g. http://127.0.0.1:8080 */
  url: string;
  port: number;
  /** Starts a graceful shutdown (idempotent); resolves with the exit code when it is over. */
  shutdown(reason: string): Promise<number>;
  /** Resolves with the exit code once the server has shut down: 0 clean, 1 grace period exceeded. */
  stopped: Promise<number>;
}

export interface StartOptions extends AppOptions {
  /** Install SIGTERM/SIGINT handlers (the CLI does; tests usually do not). */
  signals?: boolean;
}

type HeldSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';

/**
 * Signals that arrive while the app is still being built and the listener opened (creating the
 * demo index, starting the workers: a few hundred ms). Without a handler, SIGTERM or SIGHUP would
 * end the process on the spot with no log line; held here, they are acted on once it listens.
 */
function holdSignals(): { readonly held: HeldSignal[]; release(): void } {
  const held: HeldSignal[] = [];
  const hold = (signal: HeldSignal) => held.push(signal);
  const signals: HeldSignal[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const signal of signals) process.on(signal, hold);
  return { held, release: () => signals.forEach((signal) => process.off(signal, hold)) };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** How long the query workers may take to stop once every request is answered. */
const TEARDOWN_ALLOWANCE_MS = 2_000;

const TIMED_OUT = Symbol('timed out');

/** `work`'s value, or TIMED_OUT after `ms`; the timer is cleared when the work wins. */
async function within<T>(ms: number, work: Promise<T>): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long closing sockets get to report closed before the connections left are counted. */
const SETTLE_MS = 100;

function connectionCount(app: FastifyInstance): Promise<number> {
  return new Promise((resolve) => app.server.getConnections((err, count) => resolve(err ? 0 : count)));
}

/**
 * Connections still carrying a request. Idle keep-alive ones are closed first: the drain closes
 * them too, but with a grace of 0 ms the timer can fire before it gets that far, and a socket
 * counts until its close callback has run.
 */
async function openConnections(app: FastifyInstance): Promise<number> {
  app.server.closeIdleConnections();
  let count = await connectionCount(app);
  for (let waited = 0; count > 0 && waited < SETTLE_MS; waited += 10) {
    await delay(10);
    count = await connectionCount(app);
  }
  return count;
}

/**
 * Settles with `work`'s exit code, or with 1 (and an error line) when requests are still open after
 * `graceMs`. The grace period is the requests' allowance: when it ends with none open (a grace of
 * 0 ms on an idle server), the query workers get TEARDOWN_ALLOWANCE_MS more to stop.
 */
async function withinGrace(app: FastifyInstance, graceMs: number, work: Promise<number>): Promise<number> {
  const drained = await within(graceMs, work);
  if (drained !== TIMED_OUT) return drained;
  const open = await openConnections(app);
  if (open > 0) {
    app.log.error({ graceMs, openConnections: open }, 'shutdown grace period exceeded; exiting with requests still open');
    return 1;
  }
  const stopped = await within(TEARDOWN_ALLOWANCE_MS, work);
  if (stopped !== TIMED_OUT) return stopped;
  app.log.error({ graceMs, teardownMs: TEARDOWN_ALLOWANCE_MS }, 'shutdown grace period exceeded; exiting while the query workers are still stopping');
  return 1;
}

/**
 * Builds and starts the service. Shutdown: readiness fails at once, traffic keeps being served for
 * `shutdownDelayMs` (so load balancers can notice), then the listener closes, in-flight requests
 * finish, the worker pool drains and stops. If requests are still open `shutdownGraceMs` after the
 * delay, or the workers take longer than TEARDOWN_ALLOWANCE_MS more to stop, `stopped` resolves
 * with 1 and the caller should exit anyway.
 */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { config } = options;
  const early = options.signals ? holdSignals() : null;
  let built: FastifyInstance | null = null;
  try {
    built = await buildApp(options);
    await built.listen({ host: config.host, port: config.port });
  } catch (err) {
    early?.release();
    if (built) {
      await built.close();
      built.nn.undoStartupFiles();
    }
    throw err;
  }
  const app = built;
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let resolveStopped!: (code: number) => void;
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  let shutting: Promise<number> | null = null;

  const shutdown = (reason: string): Promise<number> => {
    if (shutting) return shutting;
    app.nn.lifecycle.shuttingDown = true;
    app.log.info({ reason, delayMs: config.shutdownDelayMs, graceMs: config.shutdownGraceMs }, 'shutting down');
    const drain = async (): Promise<number> => {
      await app.close();
      app.log.info('shut down cleanly');
      return 0;
    };
    shutting = (async () => {
      if (config.shutdownDelayMs > 0) await delay(config.shutdownDelayMs);
      // The grace period is for requests still open once the listener closes: counted from the
      // signal, a delay as long as the grace ended every shutdown of an idle server with exit 1.
      const drained = drain().catch((err: Error) => {
        app.log.error({ err }, 'error while shutting down');
        return 1;
      });
      return withinGrace(app, config.shutdownGraceMs, drained);
    })();
    void shutting.then(resolveStopped);
    return shutting;
  };

  if (early) {
    const onSignal = (signal: NodeJS.Signals) => {
      if (shutting) {
        app.log.warn({ signal }, 'second signal: exiting now');
        resolveStopped(1);
        return;
      }
      void shutdown(signal);
    };
    // SIGHUP's default action ends the process on the spot, no drain: an operator's habitual
    // `kill -HUP` to reload, or a closed terminal, would drop every request in flight.
    const onHangup = () => {
      if (shutting) return;
      app.log.info('SIGHUP: reloading every index');
      app.nn.watcher.reloadAll().then(
        (outcomes) => app.log.info({ results: reloadResults(outcomes) }, 'SIGHUP reload finished'),
        (err: Error) => app.log.error({ err: err.message }, 'SIGHUP reload failed'),
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHangup);
    early.release();
    if (early.held.length > 0) app.log.info({ signals: early.held }, 'signals received during start-up');
    // Replayed in order, so a second SIGTERM still means "now". A SIGHUP asks for nothing more:
    // the initial load reads every index anyway.
    for (const signal of early.held) if (signal !== 'SIGHUP') onSignal(signal);
    void stopped.then(() => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onHangup);
    });
  }

  return { app, url: `http://${host}:${address.port}`, port: address.port, shutdown, stopped };
}
