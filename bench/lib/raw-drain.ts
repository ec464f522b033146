// The drain baseline, as its own process like the `gerbang worker` it is compared with: POSTs the
// Bundles of a file (one JSON text a line) to the upstream with undici at the given concurrency,
// first `warm` of them unmeasured, then all of them; prints {"seconds", "sent", "non2xx"}. A fifth
// argument is an Authorization header to send (the SATUSEHAT path's bearer token).
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

const [file, url, concurrencyArg, warmArg, authorization] = process.argv.slice(2);
const bundles = readFileSync(file ?? '', 'utf8').split('\n').filter(Boolean);
const target = new URL(url ?? '');
const concurrency = Number(concurrencyArg ?? 16);
const pool = new Pool(target.origin, { connections: concurrency });

async function send(list: string[]): Promise<number> {
  let next = 0;
  let non2xx = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < list.length) {
        const body = list[next++];
        const res = await pool.request({ method: 'POST', path: target.pathname, headers: { 'content-type': 'application/fhir+json', ...(authorization ? { authorization } : {}) }, body });
        await res.body.text();
        if (res.statusCode >= 300) non2xx += 1;
      }
    }),
  );
  return non2xx;
}

await send(bundles.slice(0, Number(warmArg ?? 0)));
const started = performance.now();
const non2xx = await send(bundles);
const seconds = (performance.now() - started) / 1000;
await pool.close();
process.stdout.write(`${JSON.stringify({ seconds, sent: bundles.length, non2xx })}\n`);
