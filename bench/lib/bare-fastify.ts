// The ingest baseline, as its own process like the gateway under test: a bare Fastify server that
// parses the same JSON body and answers 202.
import Fastify from 'fastify';

const port = Number(process.argv[2] ?? 0);
const app = Fastify({ logger: false });
app.post('/v1/records', async (req, reply) => reply.code(202).send({ id: 'x', status: 'queued', size: JSON.stringify(req.body).length }));
app.get('/healthz', async () => ({ status: 'ok' }));
const url = await app.listen({ host: '127.0.0.1', port });
process.stdout.write(`listening ${new URL(url).port}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
