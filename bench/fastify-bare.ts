// The baseline for the HTTP benchmark: Fastify with nothing behind it, answering the same URL shapes as
// nnserve's by-item neighbours and search routes with a fixed body of the same form. Run: node dist/bench/fastify-bare.js --port P
import Fastify from 'fastify';

const portFlag = process.argv.indexOf('--port');
const port = portFlag >= 0 ? Number(process.argv[portFlag + 1]) : 8090;

const body = {
  index: 'demo',
  version: 1,
  ids: Array.from({ length: 10 }, (_, i) => `item-${i * 997}`),
  distances: Array.from({ length: 10 }, (_, i) => 0.3 + i / 100),
};

const app = Fastify({ logger: false });
app.get('/readyz', async () => ({ status: 'ready' }));
app.get<{ Params: { name: string; id: string } }>('/v1/indexes/:name/items/:id/neighbors', async () => body);
// The floor for the search rows: the same POST bodies parsed by Fastify's JSON parser, a fixed answer.
app.post<{ Params: { name: string } }>('/v1/indexes/:name/search', async () => body);

await app.listen({ port, host: '127.0.0.1' });
const stop = () => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
